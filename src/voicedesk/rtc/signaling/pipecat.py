"""The pipecat dialect of JSON offer/answer (SmallWebRTC): ``pipecat+http(s)://host:port[/api/offer]``.

POST ``{"sdp", "type"[, "pc_id", "restart_pc"]}`` to ``/api/offer`` answers
``{"sdp", "type", "pc_id"}``; the ``pc_id`` is kept and names the connection in
later requests: PATCH ``{"pc_id", "candidates": [{"candidate", "sdp_mid",
"sdp_mline_index"}]}`` sends local candidates found after the offer (aiortc
gathers them all before it, so this is rarely needed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_to_sdp

from voicedesk.errors import SignalingError
from voicedesk.rtc.signaling.http_json import HttpJsonSignaling
from voicedesk.rtc.signaling.log import redact_url

DEFAULT_PATH = "/api/offer"


def with_default_path(url: str) -> str:
    """``http://host:7860`` means pipecat's ``/api/offer`` there."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=DEFAULT_PATH))
    return url


class PipecatSignaling(HttpJsonSignaling):
    protocol = "pipecat"

    def __init__(
        self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0, pc_id: str | None = None
    ) -> None:
        super().__init__(with_default_path(url), headers=headers, timeout=timeout)
        self.pc_id = pc_id
        self.description = f"pipecat offer/answer to {redact_url(self.url)}"

    @property
    def agent_events_protocol(self) -> str | None:
        return "rtvi"  # pipecat bots report the conversation over RTVI

    def extra_fields(self) -> dict[str, Any]:
        # a known pc_id asks pipecat to renegotiate that connection instead of making a new one
        return {"pc_id": self.pc_id, "restart_pc": False} if self.pc_id else {}

    async def add_local_candidates(self, candidates: list[RTCIceCandidate]) -> None:
        if not candidates:
            return
        if self.pc_id is None:
            raise SignalingError("cannot send candidates before the answer named the connection (no pc_id)")
        payload = {
            "pc_id": self.pc_id,
            "candidates": [
                {
                    "candidate": "candidate:" + candidate_to_sdp(c),
                    "sdp_mid": c.sdpMid,
                    "sdp_mline_index": c.sdpMLineIndex,
                }
                for c in candidates
            ],
        }
        await self.send_json("PATCH", payload, refused=f"{redact_url(self.url)} refused the candidates:")
