"""Signaling: how an offer reaches a target and its answer comes back.

A target is a URL; its scheme picks the signaling (see DESIGN.md, "Targets").
Each protocol is one module with one ``…Signaling`` class.
"""

from __future__ import annotations

from voicedesk.errors import ConfigError
from voicedesk.rtc.signaling.base import Signaling

__all__ = ["Signaling", "signaling_for_target"]


def signaling_for_target(target: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0) -> Signaling:
    """The signaling for ``target``: ``http(s)://…`` JSON offer/answer or ``embedded:AGENT``."""
    scheme, sep, rest = target.partition(":")
    scheme = scheme.lower()
    if scheme == "embedded" and sep:
        from voicedesk.rtc.signaling.embedded import EmbeddedSignaling

        return EmbeddedSignaling(rest or "echo", timeout=timeout)
    if scheme in ("http", "https") and rest.startswith("//"):
        from voicedesk.rtc.signaling.http_json import HttpJsonSignaling

        return HttpJsonSignaling(target, headers=headers, timeout=timeout)
    raise ConfigError(f"unknown target {target!r}: use http(s)://host:port/path or embedded:echo / embedded:tone")
