"""A real chrome://webrtc-internals dump read into StatsSample series.

The fixture was made by scripts/make_webrtc_internals_dump.py: headless Chromium called
the embedded tone agent from its page twice (two tabs, two peer connections of different
lengths) while chrome://webrtc-internals was open in another tab, and the script pressed
that page's own dump button (Chromium 156) through the DevTools protocol.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from voicedesk.qa.webrtc_dump import DumpError, build_dump, parse_dump, read_dump

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "webrtc_internals_dump.json"


def raw_series(pc: dict, stats_type: str, attr: str) -> list:
    """The values Chrome recorded for one attribute of the audio stats object of a type."""
    for name, entry in pc["stats"].items():
        if entry["statsType"] == stats_type and name.endswith(f"-{attr}") and "[" not in name:
            stat_id = name.rsplit("-", 1)[0]
            kind = pc["stats"].get(f"{stat_id}-kind")
            if kind is None or json.loads(kind["values"])[-1] == "audio":
                return json.loads(entry["values"])
    raise AssertionError(f"no {stats_type}.{attr} in the fixture")


@pytest.fixture(scope="module")
def connections() -> dict:
    return json.loads(FIXTURE.read_text())["PeerConnections"]


@pytest.fixture(scope="module")
def raw(connections):
    """The longest connection (the one picked when none is named)."""
    key = max(connections, key=lambda k: len(raw_series(connections[k], "inbound-rtp", "timestamp")))
    return key, connections[key]


def test_the_fixture_is_a_real_chrome_dump(raw):
    data = json.loads(FIXTURE.read_text())
    assert "Chrome/" in data["UserAgent"]
    _, pc = raw
    assert {"updateLog", "stats", "rtcConfiguration", "url"} <= set(pc)
    assert any(u["type"] == "setRemoteDescription" for u in pc["updateLog"])


def test_the_longest_connection_is_picked_unless_one_is_named(connections, raw):
    dump = read_dump(FIXTURE)
    assert len(dump.connections) == len(connections) == 2
    assert dump.connection().key == raw[0]
    for key, pc in connections.items():
        conn = dump.connection(key)
        assert [s.packets_received for s in conn.samples] == raw_series(pc, "inbound-rtp", "packetsReceived")


def test_the_series_hold_chromes_numbers(raw):
    key, pc = raw
    dump = read_dump(FIXTURE)
    conn = dump.connection()
    assert conn.key == key and conn.url.startswith("http://127.0.0.1:")
    assert "inbound-rtp" in conn.stats_types and "candidate-pair" in conn.stats_types
    times = raw_series(pc, "inbound-rtp", "timestamp")
    received = raw_series(pc, "inbound-rtp", "packetsReceived")
    lost = raw_series(pc, "inbound-rtp", "packetsLost")
    jitter = raw_series(pc, "inbound-rtp", "jitter")
    sent = raw_series(pc, "outbound-rtp", "packetsSent")
    bytes_in = raw_series(pc, "transport", "bytesReceived")
    samples = conn.samples
    assert len(samples) == len(times) >= 5
    for i, s in enumerate(samples):
        assert s.t_ms == pytest.approx(times[i] - times[0])
        assert s.packets_received == received[i]
        assert s.packets_lost == lost[i]
        assert s.jitter_ms == pytest.approx(jitter[i] * 1000.0)
        assert s.packets_sent == sent[i]
        assert s.bytes_received == bytes_in[i]
    # bitrate from the byte counters' deltas, per second of Chrome's own timestamps
    for i in range(1, len(samples)):
        expected = (bytes_in[i] - bytes_in[i - 1]) * 8 / 1000.0 / ((times[i] - times[i - 1]) / 1000.0)
        assert samples[i].bitrate_in_kbps == pytest.approx(expected)
    # a 440 Hz Opus stream both ways over loopback: ~50 packets/s, tens of kbit/s, no loss, RTT of a few ms
    assert (samples[-1].packets_received - samples[0].packets_received) / (samples[-1].t_ms / 1000.0) == pytest.approx(
        50, abs=3
    )
    assert all(20 < s.bitrate_in_kbps < 300 for s in samples[1:])
    assert all(s.loss_pct == 0 for s in samples)
    rtts = [s.rtt_ms for s in samples if s.rtt_ms is not None]
    assert rtts and all(0 <= r < 50 for r in rtts)
    assert samples[-1].mos is not None and samples[-1].mos > 4


def test_rtt_comes_from_remote_inbound_rtp(raw):
    key, pc = raw
    rtt = raw_series(pc, "remote-inbound-rtp", "roundTripTime")
    conn = read_dump(FIXTURE).connection(key)
    assert conn.samples[-1].rtt_ms == pytest.approx(rtt[-1] * 1000.0)


def test_a_gzip_dump_reads_the_same(tmp_path):
    packed = tmp_path / "webrtc_internals_dump.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    assert read_dump(packed).connection().samples == read_dump(FIXTURE).connection().samples


def test_connections_are_picked_by_key_or_index(connections):
    keys = list(connections)
    dump = read_dump(FIXTURE)
    assert dump.connection("1").key == keys[1]
    with pytest.raises(DumpError, match=f"no peer connection 'x'; it has {keys[0]}, {keys[1]}"):
        dump.connection("x")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"hello": 1}', 'not a chrome://webrtc-internals dump: it has no "PeerConnections" object (found: hello)'),
        (b"[1, 2]", 'not a chrome://webrtc-internals dump: it has no "PeerConnections" object (found: list)'),
        (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "not a chrome://webrtc-internals dump: it is not JSON"),
        (b"\x1f\x8bnot really gzip", "is a damaged gzip file"),
    ],
)
def test_a_file_that_is_not_a_dump_says_so(tmp_path, content, expected):
    path = tmp_path / "file.txt"
    path.write_bytes(content)
    with pytest.raises(DumpError) as caught:
        read_dump(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_dump_with_no_connection_says_so():
    with pytest.raises(DumpError, match="holds no peer connection"):
        parse_dump({"PeerConnections": {}}, "empty.json").connection()


def test_our_own_dump_reads_back_to_the_same_series():
    original = read_dump(FIXTURE).connection()
    written = build_dump(original.samples, started_at_ms=original.started_at_ms, url="embedded:echo")
    assert list(written["PeerConnections"]) == ["voicedesk-1"]
    again = parse_dump(json.loads(json.dumps(written))).connection()
    assert len(again.samples) == len(original.samples)
    for a, b in zip(again.samples, original.samples, strict=True):  # ms -> s -> ms may move the last bit
        for name, value in b.to_json().items():
            assert getattr(a, name) == (value if value is None else pytest.approx(value)), name
