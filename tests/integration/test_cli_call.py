"""``voicedesk call`` end to end: real aiortc peers over UDP, real HTTP."""

from __future__ import annotations

import json
import wave

import numpy as np

from tests.helpers.processes import serve, voicedesk
from tests.unit.rtc.test_summary import KEYS
from voicedesk.media.pcm import dominant_frequency


def test_call_embedded_echo_returns_the_tone(tmp_path):
    out = tmp_path / "rx.wav"
    result = voicedesk(
        "call", "embedded:echo", "--source", "tone:1000", "--duration", "3", "--json", "--record", str(out)
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary) == KEYS  # the keys scripts have always read, then the ones added since
    assert summary["state"] == "connected"
    assert abs(summary["rx_peak_hz"] - 1000) <= 5
    assert summary["loss_pct"] == 0
    assert summary["packets_sent"] > 100 and summary["packets_received"] > 100
    assert 0 < summary["setup_ms"] < 5000
    # where the set-up went; the embedded server started before the offer, so it is not in there
    phases = summary["setup_phases"]
    assert all(phases[name] > 0 for name in ("gathering_ms", "signaling_ms", "connecting_ms")), phases
    assert sum(phases.values()) <= summary["setup_ms"] + 1
    assert "(gathering" not in result.stdout  # --json prints JSON only
    assert summary["jitter_ms"] is not None and 0 <= summary["jitter_ms"] < 30
    assert summary["rx_level_dbfs"] > -30
    # progress goes to stderr, in order
    states = [line.split()[-1] for line in result.stderr.splitlines() if line.startswith("[")]
    assert states == ["gathering", "signaling", "connecting", "connected"]
    # the recording is a playable WAV holding the echoed tone
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == 48000
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768
    assert pcm.size > 48000 * 2
    assert abs(dominant_frequency(pcm[-48000:]) - 1000) <= 5


def test_call_to_a_separate_serve_process_over_http():
    with serve("--agent", "tone") as (base, _proc):
        result = voicedesk("call", f"{base}/api/voice/offer", "--source", "silence", "--duration", "2.5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "connected"
    assert abs(summary["rx_peak_hz"] - 440) <= 5
    assert summary["loss_pct"] == 0


def test_human_summary_names_units():
    result = voicedesk("call", "embedded:tone", "--duration", "1.5")
    assert result.returncode == 0, result.stderr
    assert "state          connected" in result.stdout
    assert " ms" in result.stdout and "Hz" in result.stdout
    # a tone all the way: everything that arrived was audible (to the 100 ms)
    [heard] = [line for line in result.stdout.splitlines() if line.startswith("received audio ")]
    audible, _, received = heard.split("; ")[1].removesuffix(" s audible").partition(" s of ")
    assert abs(float(audible) - float(received)) <= 0.1 and 1.0 <= float(received) <= 1.6, heard


def test_hangup_after_source_ends_the_call_with_the_file(tmp_path):
    path = tmp_path / "beep.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(48000)
        wav.writeframes((np.sin(np.arange(48000) * 2 * np.pi * 800 / 48000) * 16000).astype("<i2").tobytes())
    result = voicedesk(
        "call", "embedded:echo", "--source", f"wav:{path}", "--hangup-after-source", "--duration", "30", "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["final_state"] == "ended" and list(summary) == KEYS
    # one second of file after the set-up, not the 30 s of --duration
    assert 1000 < summary["duration_ms"] - summary["setup_ms"] < 4000, summary
