"""Call report bundles: every part present, HTML that parses on its own, secrets redacted, masking."""

from __future__ import annotations

import csv
import io
import json
import wave
import zipfile
from html.parser import HTMLParser

import numpy as np
import pytest

from voicedesk.qa.capture import CallRecord
from voicedesk.qa.report import bundle_files, write_bundle
from voicedesk.qa.webrtc_dump import parse_dump
from voicedesk.rtc.stats import StatsSample

TURN_SECRET = "turn-credential-Zq81x"
TOKEN = "tok-9f8e7d6c5b4a"
ICE_PWD = "fXaJQmghZ8KJJiU67aP43c"
DEVICE = "Blue Yeti USB Microphone"
IPS = ("10.99.0.1", "192.0.2.2", "203.0.113.77", "fd00::2")

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 40000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 10.99.0.1\r\n"
    "a=candidate:1 1 udp 2130706431 10.99.0.1 40000 typ host\r\n"
    "a=candidate:2 1 udp 2130706431 fd00::2 40002 typ host\r\n"
    "a=candidate:3 1 udp 1694498815 203.0.113.77 40004 typ srflx raddr 10.99.0.1 rport 40000\r\n"
    f"a=ice-ufrag:abcd\r\na=ice-pwd:{ICE_PWD}\r\n"
)
ANSWER = OFFER.replace("10.99.0.1", "192.0.2.2").replace(ICE_PWD, "3vVTW4TovvBQYe8fFjA0Lj")


def record() -> CallRecord:
    samples = [
        StatsSample(
            t_ms=1000.0 * i,
            packets_sent=50 * i,
            packets_received=50 * i,
            packets_lost=0,
            loss_pct=0.0,
            jitter_ms=1.5 + i,
            rtt_ms=20.0 + i,
            bitrate_out_kbps=40.0 if i else None,
            bitrate_in_kbps=41.0 if i else None,
            bytes_sent=5000 * i,
            bytes_received=5100 * i,
            mos=4.3,
        )
        for i in range(5)
    ]
    t = np.arange(48_000 * 2) / 48_000
    return CallRecord(
        target="https://agent.example.com/api/voice/offer",
        started_at=1_790_000_000.0,
        ice={
            "iceServers": [
                {"urls": "stun:stun.example.com:3478"},
                {"urls": "turn:203.0.113.77:3478", "username": "alice", "credential": TURN_SECRET},
            ],
            "iceTransportPolicy": "all",
        },
        local_sdp=OFFER,
        remote_sdp=ANSWER,
        candidates={"local_sdp": ["1 1 udp 2130706431 10.99.0.1 40000 typ host"], "remote_sdp": []},
        samples=samples,
        events=[{"event": "CallStateChanged", "state": "connected", "t_ms": 120.0, "reason": None}],
        summary={"state": "connected", "setup_ms": 120.0, "selected_pair": "host udp 10.99.0.1:40000 -> 192.0.2.2:1"},
        tx=(0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32),
        rx=(0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        turns=[{"index": 1, "said": "'hello'", "voice_to_voice_ms": 812.0, "utterance_end_ms": 900.0}],
        agent_turns=[{"type": "turn", "turn": 1, "latency_ms": {"voice_to_voice": 640.0}}],
        log=[
            f"   10.0 ms INFO voicedesk.rtc.signaling: sent headers: Authorization: Bearer {TOKEN}",
            f"   11.0 ms DEBUG voicedesk.rtc.ice_probe: TURN turn:203.0.113.77 user alice credential {TURN_SECRET}",
            f"   12.0 ms DEBUG x: body {json.dumps(OFFER)}",
            f"   13.0 ms INFO voicedesk.media: microphone {DEVICE} at 48000 Hz",
        ],
        headers={"Authorization": f"Bearer {TOKEN}", "X-Trace": "abc"},
        devices={"microphone": DEVICE},
    )


PARTS = {
    "offer.sdp",
    "answer.sdp",
    "candidates.json",
    "ice_config.json",
    "stats.csv",
    "webrtc_internals_dump.json",
    "sent.wav",
    "received.wav",
    "call.log",
    "turns.json",
    "events.json",
    "summary.json",
    "report.html",
    "manifest.json",
}


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.void = {"meta", "br", "img", "input", "link", "rect", "line", "circle", "polyline", "hr"}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.void:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.void:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_the_bundle_holds_every_part(tmp_path):
    out = write_bundle(record(), tmp_path / "bundle")
    assert {p.name for p in out.iterdir()} == PARTS
    assert "v=0" in (out / "offer.sdp").read_text() and "v=0" in (out / "answer.sdp").read_text()
    rows = list(csv.DictReader(io.StringIO((out / "stats.csv").read_text())))
    assert [float(r["rtt_ms"]) for r in rows] == [20.0, 21.0, 22.0, 23.0, 24.0]
    assert rows[0]["bitrate_in_kbps"] == ""  # not measured is empty, never 0
    dump = parse_dump(json.loads((out / "webrtc_internals_dump.json").read_text())).connection()
    assert [s.rtt_ms for s in dump.samples] == pytest.approx([20.0, 21.0, 22.0, 23.0, 24.0])
    assert [s.jitter_ms for s in dump.samples] == pytest.approx([1.5, 2.5, 3.5, 4.5, 5.5])
    for name, freq_rms in (("sent.wav", 0.3), ("received.wav", 0.2)):
        with wave.open(str(out / name)) as w:
            assert w.getframerate() == 48_000 and w.getnchannels() == 1 and w.getnframes() == 96_000
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
            assert np.abs(pcm).max() == pytest.approx(freq_rms, abs=0.01)
    turns = json.loads((out / "turns.json").read_text())
    assert turns["client"][0]["voice_to_voice_ms"] == 812.0 and turns["agent"][0]["turn"] == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == PARTS and manifest["masked"] is None


def test_the_html_report_is_self_contained_and_holds_the_graphs(tmp_path):
    out = write_bundle(record(), tmp_path / "bundle")
    page = (out / "report.html").read_text()
    parser = Collector()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags
    assert not [a for _, a in parser.tags if str(a.get("src", "")).startswith(("http:", "https:", "//"))]
    assert tags.count("svg") >= 6  # rtt, jitter, loss, bitrate, MOS, audio levels
    series = {a["data-label"]: a["data-series"] for t, a in parser.tags if t == "g" and "data-series" in a}
    assert series["rtt"] == "20.000,21.000,22.000,23.000,24.000"
    text = " ".join(parser.text)
    assert "Round-trip time" in text and "812.0" in text and "640.0" in text


def test_secrets_are_redacted_everywhere(tmp_path):
    files = bundle_files(record())
    for name, data in files.items():
        if name.endswith(".wav"):
            continue
        text = data.decode()
        assert TURN_SECRET not in text, name
        assert TOKEN not in text, name
        assert ICE_PWD not in text, name
    ice = json.loads(files["ice_config.json"])
    assert ice["iceServers"][1]["credential"] == "***" and ice["iceServers"][1]["username"] == "alice"
    assert "a=ice-pwd:***" in files["offer.sdp"].decode()
    assert "Bearer ***" in files["call.log"].decode()
    # without --mask, addresses stay: the team needs them
    assert "10.99.0.1" in files["offer.sdp"].decode()


def test_masking_hides_addresses_and_device_names(tmp_path):
    path = write_bundle(record(), tmp_path / "shared.zip", mask=True)
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == PARTS
        texts = {n: archive.read(n).decode() for n in archive.namelist() if not n.endswith(".wav")}
    for name, text in texts.items():
        for ip in IPS:
            assert ip not in text, (name, ip)
        assert DEVICE not in text, name
        assert TURN_SECRET not in text and TOKEN not in text
    offer = texts["offer.sdp"]
    # the same address gets the same placeholder in every file
    assert "c=IN IP4 ip-1" in offer and "ip-1 40000 typ host" in offer
    assert "raddr ip-1" in offer
    assert "device-1" in texts["call.log"]
    manifest = json.loads(texts["manifest.json"])
    assert manifest["masked"]["ip_addresses"] >= 4 and manifest["masked"]["device_names"] == 1
    # times like 12:30:45 and version strings are not taken for addresses
    assert "voicedesk.rtc.signaling" in texts["call.log"]


def test_a_report_that_cannot_be_written_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from voicedesk.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot write the report"):
        write_bundle(record(), blocker / "sub")


def test_the_html_report_says_candidate_pairs_were_not_available():
    from voicedesk.qa.html import esc, render_report

    note = "candidate pairs not available: aioice's Connection has no _check_list"
    ice = {"available": False, "note": note, "pairs": []}
    page = render_report(title="t", summary={}, samples=[], candidates={"local_sdp": ["x"], "ice": ice})
    assert f"<p>{esc(note)}</p>" in page
    ice = {"available": True, "note": "aiortc exposes no candidate-pair stats", "pairs": []}
    assert "not available" not in render_report(title="t", summary={}, samples=[], candidates={"ice": ice})


def test_the_html_report_names_the_selected_pair_as_the_ice_snapshot_records_it():
    from voicedesk.qa.html import esc, render_report

    label = "host udp 10.99.0.1:40000 -> host udp 10.99.0.1:40002"
    ice = {"available": True, "selected_pair": label, "pairs": []}
    page = render_report(title="t", summary={}, samples=[], candidates={"local_sdp": ["x"], "ice": ice})
    assert f"<p>selected pair: {esc(label)}</p>" in page
    ice["selected_pair"] = None  # the call never connected
    assert "selected pair" not in render_report(title="t", summary={}, samples=[], candidates={"ice": ice})


def test_a_callers_conversation_reads_in_order_with_its_latencies():
    from voicedesk.qa.html import caller_conversation_rows, render_report

    conversation = {
        "caller": "rules",
        "seed": 3,
        "ended": "the caller reached its goal and hung up",
        "goal_reached": True,
        "turns": [
            {
                "heard": "Hello, how can I help?",
                "heard_from": "agent events",
                "said": "weather please",
                "why": "rule at line 8",
                "caller_response_ms": None,
                "spoken": True,
            },
            {
                "heard": "It is sunny.",
                "heard_from": "agent events",
                "said": "thanks",
                "why": "rule at line 10",
                "caller_response_ms": 231.0,
                "spoken": True,
            },
        ],
    }
    turns = [
        {
            "index": 1,
            "said": "'weather please'",
            "utterance_start_ms": 3000.0,
            "reply_start_ms": 5100.0,
            "voice_to_voice_ms": 1200.0,
        },
        {
            "index": 2,
            "said": "'thanks'",
            "utterance_start_ms": 7500.0,
            "reply_start_ms": None,
            "voice_to_voice_ms": None,
        },
    ]
    rows = caller_conversation_rows(conversation, turns)
    assert [(r[1], r[2]) for r in rows] == [
        ("agent", "Hello, how can I help?"),
        ("caller", "weather please"),
        ("agent", "It is sunny."),
        ("caller", "thanks"),
    ]
    assert rows[2][4] == "voice-to-voice 1200 ms" and rows[3][4] == "231 ms after the agent stopped"
    page = render_report(title="t", summary={}, samples=[], turns=turns, result={"conversation": conversation})
    assert "Simulated caller (rules caller, seed 3)" in page and "goal reached" in page
