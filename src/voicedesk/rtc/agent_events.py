"""Where the ``voicedesk`` events channel used to live; it is now one protocol of
``voicedesk.rtc.events`` (voicedesk.py there). Kept so that imports of before work."""

from __future__ import annotations

from voicedesk.rtc.events.channel import MAX_EVENTS, AgentEventReceived, AgentEventsChannel
from voicedesk.rtc.events.voicedesk import CHANNEL_LABEL

__all__ = ["CHANNEL_LABEL", "MAX_EVENTS", "AgentEventReceived", "AgentEventsChannel"]
