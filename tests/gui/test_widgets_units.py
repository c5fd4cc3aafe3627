"""Pieces of the window that compute something: decimation, ranges, candidates, stored settings."""

from __future__ import annotations

import numpy as np
import pytest

from voicedesk.gui.settings import AppSettings, DialerState, Preferences, _from_dict
from voicedesk.gui.widgets.candidates import parse_candidates
from voicedesk.gui.widgets.dialer import signaling_kind
from voicedesk.gui.widgets.stats_plots import nice_ceiling, time_ceiling
from voicedesk.gui.widgets.waveform import envelope

pytestmark = pytest.mark.gui


def test_envelope_keeps_the_peaks_of_every_column():
    t = np.arange(96_000) / 48_000
    samples = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    samples[50_000] = 0.99  # a click must survive decimation
    x, y = envelope(samples, 700)
    assert x.size == y.size == 1400
    assert abs(float(y.max()) - 0.99) < 1e-6 and abs(float(y.min()) + 0.5) < 1e-3
    assert np.all(np.diff(x) >= 0) and x[0] == 0.0 and x[-1] < 1.0


def test_envelope_passes_short_input_through():
    x, y = envelope(np.array([0.1, -0.2, 0.3], dtype=np.float32), 700)
    assert list(y) == pytest.approx([0.1, -0.2, 0.3]) and x.size == 3
    assert envelope(np.zeros(0, dtype=np.float32), 10)[0].size == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 1.0), (0.4, 1.0), (1.5, 2.0), (3.0, 5.0), (7.0, 10.0), (120.0, 200.0), (float("nan"), 1.0)],
)
def test_nice_ceiling(value, expected):
    assert nice_ceiling(value) == expected


def test_time_axis_grows_in_steps():
    assert time_ceiling(0) == 30 and time_ceiling(29) == 30 and time_ceiling(31) == 60
    assert time_ceiling(700) == 900


def test_parse_candidates_reads_types_and_related_addresses():
    sdp = (
        "v=0\r\na=candidate:1 1 UDP 2130706431 10.0.0.2 50000 typ host\r\n"
        "a=candidate:2 1 udp 1694498815 203.0.113.5 61000 typ srflx raddr 10.0.0.2 rport 50000\r\n"
        "a=candidate:broken\r\n"
    )
    cands = parse_candidates(sdp)
    assert [c["type"] for c in cands] == ["host", "srflx"]
    assert cands[0]["protocol"] == "udp" and cands[1]["related"] == "10.0.0.2:50000"


def test_signaling_kind_in_words():
    assert "in-process" in signaling_kind("embedded:echo") and "no HTTP" in signaling_kind("embedded:echo")
    assert "its own HTTP server" in signaling_kind("embedded+http:echo")
    assert "WHIP" in signaling_kind("whip+https://x/whip") and "WebSocket" in signaling_kind("wss://x")
    assert "JSON offer/answer" in signaling_kind("https://x/api/voice/offer")
    assert "unknown scheme" in signaling_kind("ftp://x")


def test_stored_values_of_the_wrong_type_fall_back_to_defaults():
    state = _from_dict(DialerState, {"target": 5, "tone_hz": "loud", "timeout_s": 3, "extra": 1})
    assert state == DialerState(timeout_s=3.0)
    assert _from_dict(Preferences, "garbage") == Preferences()


def test_settings_round_trip_without_secrets(settings: AppSettings):
    settings.save_dialer(DialerState(target="http://a/offer", tone_hz=1234.0))
    for target in ("t1", "t2", "t1"):
        settings.remember_target(target)
    stored = settings.load()
    assert stored.dialer.target == "http://a/offer" and stored.dialer.tone_hz == 1234.0
    assert stored.recent_targets == ("t1", "t2")
    assert "header" not in repr(stored).lower()  # signaling headers (tokens) are never stored


def test_secrets_in_targets_are_stored_masked(settings: AppSettings):
    secret = "embedded:voice?llm_key=sk-live-123&llm_model=m"
    settings.save_dialer(DialerState(target=secret))
    recent = settings.remember_target("janus+http://127.0.0.1:8088/janus?apisecret=hunter2")
    stored = settings.load()
    assert stored.dialer.target == "embedded:voice?llm_key=***&llm_model=m"
    assert recent[0] == "janus+http://127.0.0.1:8088/janus?apisecret=***"
    assert "sk-live-123" not in repr(stored) and "hunter2" not in repr(stored)


def test_the_ice_lab_says_pairs_were_not_available_rather_than_none(window):
    from voicedesk.rtc.ice_monitor import CandidateInfo, IceSnapshot

    host = CandidateInfo("host", "udp", "10.0.0.1", 5000, 100)
    note = "candidate pairs not available: aioice's Connection has no _check_list"
    window.panel("ice_lab").show_snapshot(IceSnapshot((host,), (host,), (), None, (), (), False, note))
    assert window.panel("ice_lab").path_label.text() == f"1 local, 1 remote candidates; {note}"
