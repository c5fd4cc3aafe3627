"""pipecat's ``PATCH /api/offer`` ``{pc_id, candidates: [{candidate, sdp_mid, sdp_mline_index}]}``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from voicedesk.agent.http_limits import read_body
from voicedesk.rtc.signaling.base import candidate_from_json
from voicedesk.rtc.signaling.log import parse_json

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer

logger = logging.getLogger(__name__)


class PipecatCandidates:
    def __init__(self, server: AgentServer) -> None:
        self.server = server

    async def handle_patch(self, request: web.Request) -> web.Response:
        try:
            data = parse_json(await read_body(request))
        except ValueError as exc:
            return web.json_response({"error": f"body is not valid JSON: {exc}"}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("candidates"), list):
            return web.json_response({"error": 'body must be {"pc_id", "candidates": [...]}'}, status=400)
        session = self.server.sessions.get(str(data.get("pc_id")))
        if session is None or session.closing:
            return web.json_response({"error": f"no live connection with pc_id {data.get('pc_id')!r}"}, status=404)
        added = 0
        for raw in data["candidates"]:
            try:
                await session.pc.addIceCandidate(candidate_from_json(raw))
                added += 1
            except Exception as exc:  # aiortc raises several types on a bad candidate
                return web.json_response({"error": f"bad candidate {raw!r}: {exc}"}, status=400)
        logger.info("session %s: %d candidate(s) added", session.id, added)
        return web.json_response({"status": "success", "added": added})
