"""Pieces of the in-call ICE monitor that need no peer: path types, JSON shape, TCP framing of STUN."""

from __future__ import annotations

import asyncio

from aioice import stun as aioice_stun

from voicedesk.rtc.ice_monitor import STATS_NOTE, CandidateInfo, IceSnapshot, PairInfo, path_type
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
