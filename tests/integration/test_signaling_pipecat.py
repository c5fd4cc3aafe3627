"""The pipecat dialect: /api/offer with pc_id kept from the answer, candidates by PATCH."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiortc.sdp import candidate_from_sdp

from tests.helpers.calls import running_server
from voicedesk.errors import SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.signaling import signaling_for_target
from voicedesk.rtc.signaling.pipecat import PipecatSignaling


async def test_pipecat_call_keeps_pc_id_and_patches_candidates():
    async with running_server("echo") as server:
        signaling = signaling_for_target(f"pipecat+{server.base_url}")
        assert isinstance(signaling, PipecatSignaling)
        assert signaling.url == f"{server.base_url}/api/offer"
        call = Call(signaling, source=ToneTrack(750))
        await call.start()
        assert signaling.pc_id in server.sessions

        local = [line[len("a=candidate:") :] for line in call.local_sdp.splitlines() if line.startswith("a=candidate:")]
        candidates = [candidate_from_sdp(line) for line in local[:2]]
        for candidate in candidates:
            candidate.sdpMid, candidate.sdpMLineIndex = "0", 0
        await signaling.add_local_candidates(candidates)
        patch = signaling.exchanges[-1]
        assert (patch.method, patch.status) == ("PATCH", 200)
        sent = json.loads(patch.request_body)
        assert sent["pc_id"] == signaling.pc_id
        assert sent["candidates"][0]["sdp_mid"] == "0" and sent["candidates"][0]["candidate"].startswith("candidate:")
        assert json.loads(patch.response_body)["added"] == len(candidates)

        await asyncio.sleep(1.5)
        await call.hangup()
        assert abs(call.rx.peak_hz() - 750) < 5


async def test_patch_for_an_unknown_connection_is_refused():
    async with running_server("echo") as server:
        signaling = PipecatSignaling(f"{server.base_url}/api/offer", pc_id="nope")
        candidate = candidate_from_sdp("1 1 udp 2130706431 10.99.0.1 40000 typ host")
        candidate.sdpMid = "0"
        with pytest.raises(SignalingError) as info:
            await signaling.add_local_candidates([candidate])
        assert str(info.value) == (
            f"{server.base_url}/api/offer refused the candidates: HTTP 404 Not Found: "
            "no live connection with pc_id 'nope'"
        )


async def test_candidates_need_a_pc_id():
    signaling = PipecatSignaling("http://127.0.0.1:9/api/offer")
    candidate = candidate_from_sdp("1 1 udp 2130706431 10.99.0.1 40000 typ host")
    with pytest.raises(SignalingError, match="before the answer named the connection"):
        await signaling.add_local_candidates([candidate])
