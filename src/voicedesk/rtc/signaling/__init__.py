"""Signaling: how an offer reaches a target and its answer comes back.

A target is one word (see DESIGN.md, "Targets"); its scheme picks the signaling,
and a ``KIND+`` prefix on an http(s) URL names another protocol spoken over HTTP:

=============================================  =========================================
``http(s)://host/api/voice/offer``              JSON offer/answer (``json+`` is the same)
``pipecat+http(s)://host:7860[/api/offer]``     pipecat SmallWebRTC dialect (pc_id, PATCH)
``whip+http(s)://host/whip``                    WHIP, RFC 9725
``openai+https://api.openai.com/v1/realtime/calls?model=…``  OpenAI Realtime (SDP + bearer key)
``janus+http(s)://host:8088/janus[?plugin=…]``  Janus REST API (EchoTest unless named)
``ws(s)://host/path``                           WebSocket JSON messages
``embedded:AGENT``                              an agent in this process, handed the offer directly
``embedded+http:AGENT``                         the same agent behind its HTTP server, on a free port
=============================================  =========================================

``voicedesk call --signaling KIND URL`` is the same as writing ``KIND+URL``.
Each protocol is one module with one ``…Signaling`` class.
"""

from __future__ import annotations

from voicedesk.errors import ConfigError
from voicedesk.rtc.signaling.base import Signaling

__all__ = ["SIGNALING_KINDS", "Signaling", "signaling_for_target", "with_signaling_kind"]

# kinds spoken over an http(s) URL, selected with a KIND+ prefix or --signaling KIND
HTTP_KINDS = ("json", "pipecat", "whip", "openai", "janus")
SIGNALING_KINDS = (*HTTP_KINDS, "ws")

_TARGETS_HELP = (
    "use http(s)://host:port/path (JSON), pipecat+/whip+/openai+/janus+http(s)://…, ws(s)://…, "
    "or embedded:echo / embedded:tone (embedded+http:echo through its HTTP server)"
)


def with_signaling_kind(target: str, kind: str | None) -> str:
    """``target`` with the signaling ``kind`` a ``--signaling`` option asked for, as a prefix."""
    if not kind:
        return target
    kind = kind.strip().lower()
    if kind not in SIGNALING_KINDS:
        raise ConfigError(f"unknown signaling {kind!r}: choose one of {', '.join(SIGNALING_KINDS)}")
    scheme = target.partition(":")[0].lower()
    if kind == "ws":
        if scheme not in ("ws", "wss"):
            raise ConfigError(f"--signaling ws needs a ws:// or wss:// URL, not {target!r}")
        return target
    if "+" in scheme:
        if scheme.split("+", 1)[0] != kind:
            raise ConfigError(f"--signaling {kind} contradicts the target {target!r}")
        return target
    if scheme not in ("http", "https"):
        raise ConfigError(f"--signaling {kind} needs an http(s):// URL, not {target!r}")
    return f"{kind}+{target}"


def signaling_for_target(
    target: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0, kind: str | None = None
) -> Signaling:
    """The signaling for ``target`` (see the table above); ``kind`` as ``--signaling``."""
    target = with_signaling_kind(target.strip(), kind)
    scheme, sep, rest = target.partition(":")
    scheme = scheme.lower()
    if scheme == "embedded" and sep:
        from voicedesk.rtc.signaling.embedded import EmbeddedSignaling

        return EmbeddedSignaling(rest or "echo", timeout=timeout)
    if scheme == "embedded+http" and sep:
        from voicedesk.rtc.signaling.embedded import EmbeddedHttpSignaling

        return EmbeddedHttpSignaling(rest or "echo", timeout=timeout)
    if not sep or not rest.startswith("//"):
        raise ConfigError(f"unknown target {target!r}: {_TARGETS_HELP}")
    prefix, plus, transport = scheme.rpartition("+") if "+" in scheme else ("json", "", scheme)
    url = f"{transport}:{rest}"
    if not plus and transport in ("ws", "wss"):
        from voicedesk.rtc.signaling.websocket import WebSocketSignaling

        return WebSocketSignaling(url, headers=headers, timeout=timeout)
    if transport not in ("http", "https") or prefix not in HTTP_KINDS:
        raise ConfigError(f"unknown target {target!r}: {_TARGETS_HELP}")
    if prefix == "json":
        from voicedesk.rtc.signaling.http_json import HttpJsonSignaling

        return HttpJsonSignaling(url, headers=headers, timeout=timeout)
    if prefix == "pipecat":
        from voicedesk.rtc.signaling.pipecat import PipecatSignaling

        return PipecatSignaling(url, headers=headers, timeout=timeout)
    if prefix == "whip":
        from voicedesk.rtc.signaling.whip import WhipSignaling

        return WhipSignaling(url, headers=headers, timeout=timeout)
    if prefix == "openai":
        from voicedesk.rtc.signaling.openai_realtime import OpenAIRealtimeSignaling

        return OpenAIRealtimeSignaling(url, headers=headers, timeout=timeout)
    from voicedesk.rtc.signaling.janus import JanusSignaling

    return JanusSignaling(url, headers=headers, timeout=timeout)
