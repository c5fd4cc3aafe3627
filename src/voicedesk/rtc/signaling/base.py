from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from aiortc import RTCIceCandidate, RTCSessionDescription


class Signaling(ABC):
    """Carries one offer to a target and brings back its answer.

    ``on_remote_candidate`` is set by the call for protocols that trickle
    candidates after the answer (aiortc itself gathers before the offer).
    """

    description: str = "signaling"

    def __init__(self) -> None:
        self.on_remote_candidate: Callable[[RTCIceCandidate | None], None] | None = None

    @abstractmethod
    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Send the offer, return the answer; raise ``SignalingError`` with a user message."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most protocols need none
        """Tell the target the call is over (if the protocol can) and free resources."""
