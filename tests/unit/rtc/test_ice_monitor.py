"""Pieces of the in-call ICE monitor that need no peer: path types, JSON shape, TCP framing of STUN,
and what the monitor says when aioice's internals are not there."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aioice
from aioice import Connection
from aioice import stun as aioice_stun
from aioice.ice import CandidatePair

from voicedesk.rtc.ice_monitor import STATS_NOTE, CandidateInfo, IceMonitor, IceSnapshot, PairInfo, path_type
from voicedesk.rtc.stun import _Channel


def cand(kind: str, address: str = "10.0.0.1", port: int = 5000) -> CandidateInfo:
    return CandidateInfo(kind, "udp", address, port, 100)


def test_path_is_the_most_indirect_hop_of_the_pair():
    assert path_type(cand("host"), cand("host")) == "host"
    assert path_type(cand("host"), cand("srflx")) == "srflx"
    assert path_type(cand("prflx"), cand("host")) == "srflx"
    assert path_type(cand("srflx"), cand("relay")) == "relay"
    assert path_type(cand("relay"), cand("host")) == "relay"


def test_turn_used_means_our_own_relay_carried_the_call():
    theirs = PairInfo(cand("host"), cand("relay"), "succeeded", True, True, ((1.0, "in-progress"), (9.5, "succeeded")))
    snap = IceSnapshot((cand("host"),), (cand("relay"),), (theirs,), theirs, (), (), True)
    assert snap.path == "relay" and not snap.turn_used
    ours = PairInfo(cand("relay"), cand("host"), "succeeded", True, True, ())
    assert IceSnapshot((), (), (ours,), ours, (), (), True).turn_used
    out = snap.to_json()
    assert out["note"] == STATS_NOTE
    assert out["selected_pair"] == "host udp 10.0.0.1:5000 -> relay udp 10.0.0.1:5000"
    assert out["pairs"][0]["history"] == [{"ms": 1.0, "state": "in-progress"}, {"ms": 9.5, "state": "succeeded"}]


async def test_stun_over_tcp_is_reassembled_from_any_split():
    loop = asyncio.get_running_loop()
    channel = _Channel(("127.0.0.1", 3478), stream=True)
    messages = []
    for method in (aioice_stun.Method.ALLOCATE, aioice_stun.Method.CREATE_PERMISSION):
        m = aioice_stun.Message(method, aioice_stun.Class.RESPONSE)
        m.attributes["XOR-MAPPED-ADDRESS"] = ("10.0.0.1", 4000)
        m.add_fingerprint()
        messages.append(m)
        channel._pending[m.transaction_id] = loop.create_future()
    data = b"".join(bytes(m) for m in messages)
    for i in range(0, len(data), 7):  # arrives in 7-byte pieces
        channel.data_received(data[i : i + 7])
    for m in messages:
        got = channel._pending[m.transaction_id].result()
        assert got.message_method == m.message_method
        assert got.attributes["XOR-MAPPED-ADDRESS"] == ("10.0.0.1", 4000)


class _FakePc:
    """What IceMonitor reads of an RTCPeerConnection: events, states, the transport chain to aioice."""

    connectionState = "new"

    def __init__(self, connection: Connection) -> None:
        transport = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
        self._transceivers = [SimpleNamespace(sender=SimpleNamespace(transport=transport))]

    def on(self, event: str, handler: object) -> None:
        pass

    def getTransceivers(self) -> list[SimpleNamespace]:
        return self._transceivers


def test_the_monitor_records_every_check_through_aioice():
    connection = Connection(ice_controlling=True)
    monitor = IceMonitor(_FakePc(connection), clock=lambda: 12.0)
    pair = SimpleNamespace(
        local_candidate=aioice.Candidate("1", 1, "udp", 100, "10.0.0.1", 5000, "host"),
        remote_candidate=aioice.Candidate("2", 1, "udp", 90, "10.0.0.2", 6000, "host"),
        nominated=False,
        state=None,
    )
    connection.check_state(pair, CandidatePair.State.IN_PROGRESS)  # as aioice does for every change
    snap = monitor.snapshot()
    assert snap.available and snap.note == STATS_NOTE
    assert [(p.label, p.state, p.history) for p in snap.pairs] == [
        ("host udp 10.0.0.1:5000 -> host udp 10.0.0.2:6000", "in-progress", ((12.0, "in-progress"),))
    ]


def test_without_aioice_check_list_the_snapshot_says_not_available_rather_than_no_pairs():
    connection = Connection(ice_controlling=True)
    del connection._check_list  # as after an aioice rename
    monitor = IceMonitor(_FakePc(connection), clock=lambda: 0.0)
    monitor._local, monitor._remote = [cand("host")], [cand("host", "10.0.0.2")]  # as gathered and signalled
    snap = monitor.snapshot()
    assert not snap.available and not monitor.available
    assert snap.note == "candidate pairs not available: aioice's Connection has no _check_list"
    assert snap.to_json()["available"] is False and snap.to_json()["note"] == snap.note
    assert not any("pair could be formed" in line for line in snap.diagnosis)  # it was not read, not absent


def test_an_aioice_that_no_longer_reports_checks_through_check_state_is_not_available():
    class Renamed(Connection):
        async def check_start(self, pair: object) -> None:
            self.set_check_state(pair)  # type: ignore[attr-defined]

    monitor = IceMonitor(_FakePc(Renamed(ice_controlling=True)), clock=lambda: 0.0)
    snap = monitor.snapshot()
    assert not snap.available and "check_state" in snap.note
