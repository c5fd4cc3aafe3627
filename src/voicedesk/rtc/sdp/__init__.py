"""SDP inspector: read (byte-exact), lint, summarize, diff."""

from voicedesk.rtc.sdp.model import SessionDescription, parse, parse_bytes

__all__ = ["SessionDescription", "parse", "parse_bytes"]
