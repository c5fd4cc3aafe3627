"""WebSocket JSON signaling at ``/ws``: the server side of ``rtc/signaling/websocket.py``.

One call per socket: ``{"type": "offer", "sdp"}`` is answered ``{"type":
"answer", "sdp", "pc_id"}``; ``{"type": "ice-candidate", "candidate": {…}}`` is
added to the connection; anything wrong is ``{"type": "error", "error": …}``.
Closing the socket hangs up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from voicedesk.agent.sessions import MAX_BODY, OfferError, Session
from voicedesk.rtc.signaling.base import candidate_from_json
from voicedesk.rtc.signaling.log import parse_json

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer

logger = logging.getLogger(__name__)


class WebSocketEndpoint:
    def __init__(self, server: AgentServer) -> None:
        self.server = server

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_BODY)
        await ws.prepare(request)
        session: Session | None = None
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.ERROR:
                        break
                    await _error(ws, "messages must be JSON text")
                    continue
                try:
                    data = parse_json(message.data)
                except ValueError as exc:
                    await _error(ws, f"message is not valid JSON: {exc}")
                    continue
                if not isinstance(data, dict):
                    await _error(ws, "message must be a JSON object with a type")
                    continue
                kind = data.get("type")
                if kind == "offer":
                    if session is not None:
                        await _error(ws, "this socket already carries a call; open another for a new one")
                    else:
                        session = await self._answer(ws, data)
                elif kind == "ice-candidate":
                    await self._add_candidate(ws, session, data)
                elif kind in ("bye", "hangup"):
                    break
                else:
                    await _error(ws, f"unknown message type {kind!r}: expected offer or ice-candidate")
        except Exception as exc:  # a bug here must not close the socket without a word to the caller
            logger.exception("WebSocket signaling failed")
            await _error(ws, f"server error: {type(exc).__name__}")
        finally:
            if session is not None:
                await self.server.close_session(session, "WebSocket closed")
            await ws.close()
        return ws

    async def _answer(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        sdp = data.get("sdp")
        if not isinstance(sdp, str) or not sdp.lstrip().startswith("v=0"):
            await _error(ws, '"sdp" is missing or is not SDP (it does not start with v=0)')
            return None
        if self.server.at_capacity():
            await _error(ws, self.server.busy_reason() or "server busy")
            return None
        try:
            session, answer = await self.server.create_session(sdp)
        except OfferError as exc:
            await _error(ws, str(exc))
            return None
        await ws.send_json({"type": "answer", "sdp": answer, "pc_id": session.id})
        return session

    async def _add_candidate(self, ws: web.WebSocketResponse, session: Session | None, data: dict[str, Any]) -> None:
        if session is None or session.closing:
            await _error(ws, "ice-candidate before an offer")
            return
        try:
            raw = data.get("candidate")
            await session.pc.addIceCandidate(candidate_from_json(raw) if raw is not None else None)
        except Exception as exc:  # aiortc raises several types on a bad candidate
            await _error(ws, f"bad candidate: {exc}")


async def _error(ws: web.WebSocketResponse, message: str) -> None:
    if not ws.closed:
        await ws.send_json({"type": "error", "error": message})
