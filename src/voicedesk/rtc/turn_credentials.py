"""Ephemeral TURN credentials (the "TURN REST API" scheme coturn's ``use-auth-secret`` implements).

A service that shares a secret with its TURN server hands each client a
username ``<unix-expiry>:<name>`` and the password
``base64(HMAC-SHA1(secret, username))``; the server recomputes the password
and refuses the pair (401) once the expiry has passed. Nothing is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from voicedesk.errors import ConfigError

DEFAULT_TTL = 3600


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    def ice_server(self, urls: str | list[str]) -> dict[str, object]:
        """An ``iceServers`` entry (browser RTCConfiguration JSON) carrying these credentials."""
        return {"urls": urls, "username": self.username, "credential": self.credential}


def turn_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def mint(secret: str, name: str = "voicedesk", ttl: int = DEFAULT_TTL, now: float | None = None) -> TurnCredentials:
    """Credentials valid for ``ttl`` seconds from ``now`` (a negative ttl mints expired ones, for tests)."""
    if not secret:
        raise ConfigError("a TURN shared secret is needed to mint credentials (coturn's static-auth-secret)")
    if ":" in name:
        # coturn splits the username at the first ':'; a second one would be read as part of the expiry
        raise ConfigError(f"the credential name {name!r} must not contain ':'")
    expires_at = int((time.time() if now is None else now) + ttl)
    username = f"{expires_at}:{name}" if name else str(expires_at)
    return TurnCredentials(username, turn_password(secret, username), expires_at)
