"""What signaling actually sent and received: one event per exchange, secrets masked.

Every HTTP request a signaling makes goes through ``http.http_request``, which
records a :class:`SignalingExchanged` event; WebSocket messages are recorded the
same way with ``method`` "SEND" / "RECV". The call re-emits these events to its
listeners (the window's signaling panel) and logs them, so ``--verbose`` shows them
too. This module imports no aiohttp: the call and the window import it at start-up.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("voicedesk.rtc.signaling")

BODY_PREVIEW = 4096
SECRET_KEYS = {"apisecret", "token", "api_key", "apikey", "password", "credential", "secret", "client_secret"}
# query parameters that carry secrets in the URLs people dial (janus+http://…?apisecret=,
# ws://…?access_token=, embedded:voice?llm_key=)
SECRET_QUERY_KEYS = SECRET_KEYS | {"access_token", "key", "llm_key", "auth", "signature"}
# and any name that ends like one (refresh_token, x-api-key, db_password, sig …), so a
# parameter nobody listed is masked too when its name says what it holds
_SECRET_QUERY_NAME = re.compile(
    r"(token|secret|passw(or)?d|credentials?|signature|auth(orization)?|(^|[_\-.])(api)?key|apikey|^sig|^jwt)$",
    re.IGNORECASE,
)
_LINK_SECRET = re.compile(r'(credential\s*=\s*)("[^"]*"|[^;,\s]*)', re.IGNORECASE)

Headers = tuple[tuple[str, str], ...]


def parse_json(text: str | bytes) -> Any:
    """``json.loads``, with a document nested too deep for it refused as a ``ValueError``.

    Python's parser recurses once per level and raises ``RecursionError`` at about
    1,000; a 60 KB body can nest 30,000 deep. Everything that reads JSON from the
    network goes through here so such a body is a bad request, not a crash.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deep to parse") from None


def is_secret_query_key(name: str) -> bool:
    """Whether a query parameter called ``name`` carries a secret (its value is masked)."""
    return name.lower() in SECRET_QUERY_KEYS or bool(_SECRET_QUERY_NAME.search(name))


_USERINFO_PASSWORD = re.compile(r"^([a-z][a-z0-9+.\-]*://[^/?#@:]*):[^/?#@]*@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters (and a password before
    ``@``) replaced by ``***``: the one function for every URL that is logged, shown
    or stored (``-v``, error messages, summaries, reports, settings)."""
    url = _USERINFO_PASSWORD.sub(r"\1:***@", url)
    if "?" not in url:
        return url
    from urllib.parse import parse_qsl, urlencode

    head, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_query_key(k) for k, _ in pairs):
        return url
    masked = [(k, "***" if is_secret_query_key(k) else v) for k, v in pairs]
    return f"{head}?{urlencode(masked, safe='/:*')}"


@dataclass(frozen=True)
class SignalingExchanged:
    """One request and its response (HTTP), or one message (WebSocket), as sent and received.

    Headers are masked (bearer tokens keep only their scheme, Link credentials are
    hidden); bodies are previews of at most 4 KiB with secret JSON fields masked.
    ``t_ms`` is set by the call (ms since it started); ``at`` is ``time.monotonic()``.
    """

    protocol: str
    method: str
    url: str
    status: int | None = None
    reason: str = ""
    request_headers: Headers = ()
    response_headers: Headers = ()
    request_bytes: int = 0
    response_bytes: int = 0
    elapsed_ms: float = 0.0
    request_body: str = ""
    response_body: str = ""
    error: str | None = None
    at: float = field(default_factory=time.monotonic)
    t_ms: float | None = None

    def __post_init__(self) -> None:
        # every exchange is logged, shown and saved: no URL leaves here with a secret in it
        object.__setattr__(self, "url", redact_url(self.url))

    @property
    def outcome(self) -> str:
        """``201 Created``; without an HTTP status, the error or the reason (an in-process
        exchange is "answered"); "" for a message that has neither."""
        if self.status is not None:
            return f"{self.status} {self.reason}".strip()
        return self.error or self.reason

    def one_line(self) -> str:
        """``POST url -> 201 Created (12 ms, sent 1.2 kB, received 0.9 kB)``, as --verbose prints it."""
        if self.method in ("SEND", "RECV"):
            arrow = "->" if self.method == "SEND" else "<-"
            text = f"{self.protocol} {arrow} {self.url}: {self.request_body or self.response_body}"
            return text[:300]
        return (
            f"{self.method} {self.url} -> {self.outcome or 'no response'} ({self.elapsed_ms:.0f} ms, "
            f"sent {_size(self.request_bytes)}, received {_size(self.response_bytes)})"
        )

    def header_lines(self) -> str:
        sent = "; ".join(f"{k}: {v}" for k, v in self.request_headers)
        got = "; ".join(f"{k}: {v}" for k, v in self.response_headers)
        return f"  sent headers: {sent or '-'}\n  received headers: {got or '-'}"


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} kB"


SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"}


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers as safe to log: secrets keep only their scheme word."""
    masked = {}
    for key, value in headers.items():
        if key.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            masked[key] = f"{scheme} ***".strip()
        else:
            masked[key] = value
    return masked


def mask_all(headers: Mapping[str, str]) -> Headers:
    """Headers as safe to show: secrets keep only their scheme word, Link credentials hidden."""
    out = []
    for key, value in headers.items():
        shown = mask_headers({key: value})[key]
        if key.lower() == "link":
            shown = _LINK_SECRET.sub(r'\1"***"', value)
        out.append((key, shown))
    return tuple(out)


def mask_body(body: bytes | str, content_type: str = "") -> str:
    """A preview of a body with secret JSON fields (apisecret, token, credential …) masked."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if text[:1] in "{[" and ("json" in content_type or not content_type):
        try:
            text = json.dumps(_mask_json(parse_json(text)))
        except ValueError:
            pass
        except RecursionError:  # parsed, but too deep to walk: show none of it rather than a secret
            text = "(JSON nested too deep to show)"
    return text[:BODY_PREVIEW] + ("…" if len(text) > BODY_PREVIEW else "")


def _mask_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: "***" if k.lower() in SECRET_KEYS and v else _mask_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_json(v) for v in data]
    return data


def log_exchange(event: SignalingExchanged) -> None:
    """What ``--verbose`` prints for every exchange (INFO), headers and bodies at DEBUG."""
    logger.info("signaling %s", event.one_line())
    if event.request_headers or event.response_headers:
        logger.info("%s", event.header_lines())
    if logger.isEnabledFor(logging.DEBUG):
        if event.request_body:
            logger.debug("  sent body:\n%s", event.request_body)
        if event.response_body:
            logger.debug("  received body:\n%s", event.response_body)
