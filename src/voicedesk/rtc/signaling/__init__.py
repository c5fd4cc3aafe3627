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
Each protocol is one module with one ``…Signaling`` class and one ``Dialect`` entry
below (kind, schemes, label, help, how it is built): routing, ``--signaling``, the
CLI's help and the window's dialer read the entries. Layers above rtc add their own
with ``register_dialect`` (the embedded agents do, from ``voicedesk.agent.embedded``),
so that rtc never imports them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from voicedesk.errors import ConfigError, VoiceDeskError
from voicedesk.plugins import load_plugins
from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.log import redact_url

__all__ = [
    "Dialect",
    "Signaling",
    "check_headers",
    "dialect_for_target",
    "dialects",
    "header_problem",
    "register_dialect",
    "selectable_kinds",
    "signaling_for_target",
    "targets_help",
    "targets_usage",
    "with_signaling_kind",
]

SignalingFactory = Callable[..., Signaling]


@dataclass(frozen=True)
class Dialect:
    """One signaling protocol as users name it.

    URL dialects (``transports`` set) are reached as ``KIND+TRANSPORT://…`` when
    ``prefixed`` and as plain ``TRANSPORT://…`` when ``bare``; the others own the
    scheme ``KIND:`` and get what follows the colon. ``factory`` is the ``…Signaling``
    class or ``"module:Class"``, imported only when a call uses it (most dialects
    import aiohttp, which a window's start-up does without).
    """

    kind: str
    label: str  # short, for a list: "WHIP (RFC 9725)"
    help: str  # what it speaks, in words: "WHIP, RFC 9725 (application/sdp, DELETE to hang up)"
    example: str  # how a target looks: "whip+http(s)://host/whip"
    factory: SignalingFactory | str
    usage: str = ""  # the target's form in ``voicedesk call --help``; "" = not listed there
    transports: tuple[str, ...] = ()
    prefixed: bool = True
    bare: bool = False
    selectable: bool = True  # can be named with --signaling KIND

    @property
    def url(self) -> bool:
        return bool(self.transports)

    def build(self, address: str, *, headers: dict[str, str] | None, timeout: float) -> Signaling:
        factory = self.factory
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        if self.url:
            return factory(address, headers=headers, timeout=timeout)
        return factory(address, timeout=timeout)


PLUGIN_GROUP = "voicedesk.dialects"  # entry points whose import registers dialects (embedded:)
_HTTP = ("http", "https")
_DIALECTS: dict[str, Dialect] = {}


def register_dialect(dialect: Dialect) -> None:
    """Add (or replace, by kind) a dialect; layers above rtc register theirs on import."""
    _DIALECTS[dialect.kind] = dialect


for _d in (
    Dialect(
        "json",
        "JSON offer/answer",
        "JSON offer/answer over HTTP (POST {sdp, type})",
        "http(s)://host:port/path (JSON)",
        "voicedesk.rtc.signaling.http_json:HttpJsonSignaling",
        "http(s)://…/api/voice/offer (JSON)",
        transports=_HTTP,
        bare=True,
    ),
    Dialect(
        "pipecat",
        "pipecat SmallWebRTC",
        "pipecat SmallWebRTC (JSON with pc_id, PATCH for candidates)",
        "pipecat+http(s)://host:7860[/api/offer]",
        "voicedesk.rtc.signaling.pipecat:PipecatSignaling",
        "pipecat+http(s)://…",
        transports=_HTTP,
    ),
    Dialect(
        "whip",
        "WHIP (RFC 9725)",
        "WHIP, RFC 9725 (application/sdp, DELETE to hang up)",
        "whip+http(s)://host/whip",
        "voicedesk.rtc.signaling.whip:WhipSignaling",
        "whip+http(s)://…",
        transports=_HTTP,
    ),
    Dialect(
        "openai",
        "OpenAI Realtime",
        "OpenAI Realtime (SDP with a bearer key in Headers)",
        "openai+https://api.openai.com/v1/realtime/calls?model=…",
        "voicedesk.rtc.signaling.openai_realtime:OpenAIRealtimeSignaling",
        "openai+https://…",
        transports=_HTTP,
    ),
    Dialect(
        "janus",
        "Janus REST",
        "Janus REST API (EchoTest unless ?plugin=)",
        "janus+http(s)://host:8088/janus[?plugin=…]",
        "voicedesk.rtc.signaling.janus:JanusSignaling",
        "janus+http(s)://…/janus",
        transports=_HTTP,
    ),
    Dialect(
        "ws",
        "WebSocket JSON",
        "WebSocket JSON messages (offer / answer / ice-candidate)",
        "ws(s)://host/path",
        "voicedesk.rtc.signaling.websocket:WebSocketSignaling",
        "ws(s)://…",
        transports=("ws", "wss"),
        prefixed=False,
        bare=True,
    ),
):
    register_dialect(_d)


def dialects() -> list[Dialect]:
    """Every registered dialect, in registration order (built-ins first)."""
    load_plugins(PLUGIN_GROUP)
    return list(_DIALECTS.values())


def selectable_kinds() -> tuple[str, ...]:
    """The kinds ``--signaling`` accepts."""
    return tuple(d.kind for d in dialects() if d.selectable)


def targets_help() -> str:
    """How targets look, from the registered dialects: for error lines and ``--help``."""
    return "use " + ", ".join(d.example for d in dialects())


def targets_usage() -> str:
    """The target argument's help line for ``voicedesk call`` and the commands like it."""
    forms = [d.usage for d in dialects() if d.usage]
    return ", ".join(forms[:-1]) + ", or " + forms[-1] if len(forms) > 1 else "".join(forms)


def with_signaling_kind(target: str, kind: str | None) -> str:
    """``target`` with the signaling ``kind`` a ``--signaling`` option asked for, as a prefix."""
    if not kind:
        return target
    kind = kind.strip().lower()
    dialect = _DIALECTS.get(kind)
    if dialect is None or not dialect.selectable:
        raise ConfigError(f"unknown signaling {kind!r}: choose one of {', '.join(selectable_kinds())}")
    scheme = target.partition(":")[0].lower()
    if not dialect.prefixed:
        if scheme not in dialect.transports:
            raise ConfigError(f"--signaling {kind} needs a {_url_words(dialect)} URL, not {redact_url(target)!r}")
        return target
    if "+" in scheme:
        if scheme.split("+", 1)[0] != kind:
            raise ConfigError(f"--signaling {kind} contradicts the target {redact_url(target)!r}")
        return target
    if scheme not in dialect.transports:
        raise ConfigError(f"--signaling {kind} needs an {_url_words(dialect)} URL, not {redact_url(target)!r}")
    return f"{kind}+{target}"


def _url_words(dialect: Dialect) -> str:
    if dialect.transports == _HTTP:
        return "http(s)://"
    return " or ".join(f"{t}://" for t in dialect.transports)


def dialect_for_target(target: str) -> tuple[Dialect, str]:
    """The dialect a target speaks and the address its signaling is built from (the URL
    without a ``KIND+`` prefix, or what follows ``KIND:``); ``ConfigError`` if none."""
    target = target.strip()
    scheme, sep, rest = target.partition(":")
    scheme = scheme.lower()
    if scheme not in _DIALECTS and "+" not in scheme and scheme not in ("http", "https", "ws", "wss"):
        load_plugins(PLUGIN_GROUP)
    own = _DIALECTS.get(scheme)
    if own is not None and not own.url and sep:
        return own, rest
    if not sep or not rest.startswith("//"):
        raise ConfigError(f"unknown target {redact_url(target)!r}: {targets_help()}")
    prefix, plus, transport = scheme.rpartition("+")
    for dialect in _DIALECTS.values():
        if transport not in dialect.transports:
            continue
        if (plus and dialect.prefixed and prefix == dialect.kind) or (not plus and dialect.bare):
            return dialect, f"{transport}:{rest}"
    raise ConfigError(f"unknown target {redact_url(target)!r}: {targets_help()}")


def signaling_for_target(
    target: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0, kind: str | None = None
) -> Signaling:
    """The signaling for ``target`` (see the table above); ``kind`` as ``--signaling``."""
    dialect, address = dialect_for_target(with_signaling_kind(target.strip(), kind))
    if dialect.url:
        _check_url_port(target.strip(), address)
        check_headers(headers or {})
    return dialect.build(address, headers=headers, timeout=timeout)


def _check_url_port(target: str, address: str) -> None:
    try:
        port = urlsplit(address).port
    except ValueError:
        raise ConfigError(f"bad target URL {target!r}: the port is not a number in 1-65535") from None
    if port == 0:
        # the URL parser reads ":0" as "no port", so the request would go to 80 or 443
        raise ConfigError(f"bad target URL {target!r}: port 0 cannot be called (use 1-65535)")


_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as given, or None. aiohttp raises a bare ValueError deep
    inside the request on a line break in a header (a traceback, not a message), and a
    line break would otherwise smuggle a second header into the request."""
    if not _HTTP_TOKEN.fullmatch(name):
        return f"the name {name!r} is not an HTTP header name (letters, digits and -_.!#$%&'*+^`|~)"
    if any(c in value for c in "\r\n\0"):
        return "the value holds a line break (CR or LF) or a NUL byte"
    return None


def parse_headers(values: list[str]) -> dict[str, str]:
    """``-H`` / ``--call-header`` options ('Name: value') as a dict; a ``VoiceDeskError`` naming the first bad one."""
    headers = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise VoiceDeskError(f"bad header {value!r}: use 'Name: value'")
        why = header_problem(name.strip(), rest.strip())
        if why is not None:
            raise VoiceDeskError(f"bad header {value!r}: {why}")
        headers[name.strip()] = rest.strip()
    return headers


def check_headers(headers: Mapping[str, str]) -> None:
    """``ConfigError`` naming the first header that ``header_problem`` refuses."""
    for name, value in headers.items():
        why = header_problem(name, value)
        if why is not None:
            raise ConfigError(f"bad header {name!r}: {why}")
