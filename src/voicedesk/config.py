"""ICE configurations in the browser's RTCConfiguration JSON.

Users paste what their web client uses::

    {"iceServers": [{"urls": "turn:turn.example.com:3478", "username": "u",
                     "credential": "p"}],
     "iceTransportPolicy": "relay"}

``IceConfig`` is plain data (usable headless), validated with a message per
problem, and turned into aiortc's ``RTCConfiguration`` by ``to_rtc()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from voicedesk.errors import ConfigError

SCHEMES = ("stun", "stuns", "turn", "turns")
REDACTED = "***"


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def to_json(self, redact: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls) if len(self.urls) != 1 else self.urls[0]}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = REDACTED if redact else self.credential
        return out


@dataclass(frozen=True)
class IceConfig:
    iceServers: tuple[IceServer, ...] = ()
    iceTransportPolicy: str = "all"
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_json(cls, data: Any, origin: str = "ICE configuration") -> IceConfig:
        if not isinstance(data, dict):
            raise ConfigError(f'{origin}: expected a JSON object with "iceServers"')
        policy = data.get("iceTransportPolicy", "all")
        if policy not in ("all", "relay"):
            raise ConfigError(f'{origin}: iceTransportPolicy must be "all" or "relay", not {policy!r}')
        raw_servers = data.get("iceServers", [])
        if not isinstance(raw_servers, list):
            raise ConfigError(f'{origin}: "iceServers" must be a list')
        servers = []
        for i, raw in enumerate(raw_servers):
            where = f"{origin}: iceServers[{i}]"
            if not isinstance(raw, dict) or "urls" not in raw:
                raise ConfigError(f'{where} needs "urls"')
            urls = raw["urls"]
            urls = (urls,) if isinstance(urls, str) else tuple(urls)
            if not urls or not all(isinstance(u, str) for u in urls):
                raise ConfigError(f'{where}: "urls" must be a string or a list of strings')
            username, credential = raw.get("username"), raw.get("credential")
            for url in urls:
                _check_url(url, username, credential, where)
            servers.append(IceServer(urls, username, credential))
        config = cls(tuple(servers), policy)
        return cls(config.iceServers, policy, tuple(config._aiortc_warnings()))

    @classmethod
    def from_text(cls, text: str, origin: str = "ICE configuration") -> IceConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{origin} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        return cls.from_json(data, origin)

    @classmethod
    def load(cls, path: str | Path) -> IceConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read ICE configuration {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"ICE configuration {path} is not UTF-8 text") from None
        return cls.from_text(text, origin=str(path))

    def to_json(self, redact: bool = False) -> dict[str, Any]:
        return {
            "iceServers": [s.to_json(redact) for s in self.iceServers],
            "iceTransportPolicy": self.iceTransportPolicy,
        }

    def to_rtc(self) -> RTCConfiguration:
        return RTCConfiguration(
            iceServers=[
                RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential) for s in self.iceServers
            ],
            iceTransportPolicy=RTCIceTransportPolicy(self.iceTransportPolicy),
        )

    def _aiortc_warnings(self) -> list[str]:
        stun = [u for s in self.iceServers for u in s.urls if u.startswith("stun")]
        turn = [u for s in self.iceServers for u in s.urls if u.startswith("turn")]
        warnings = []
        if len(stun) > 1:
            warnings.append(f"aiortc uses only the first STUN server ({stun[0]}); {len(stun) - 1} more ignored")
        if len(turn) > 1:
            warnings.append(f"aiortc uses only the first TURN server ({turn[0]}); {len(turn) - 1} more ignored")
        if self.iceTransportPolicy == "relay" and not turn:
            warnings.append('iceTransportPolicy is "relay" but no TURN server is configured')
        return warnings


def _check_url(url: str, username: Any, credential: Any, where: str) -> None:
    scheme, _, rest = url.partition(":")
    if scheme not in SCHEMES or not rest:
        raise ConfigError(f"{where}: unknown ICE server URL {url!r} (use stun:, turn: or turns:)")
    hostport, _, query = rest.partition("?")
    if not hostport or hostport.startswith("//"):
        raise ConfigError(f"{where}: {url!r} must look like {scheme}:host[:port]")
    if ":" in hostport and not hostport.startswith("["):
        port = hostport.rpartition(":")[2]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where}: bad port in {url!r}")
    if scheme.startswith("stun") and query:
        raise ConfigError(f"{where}: {url!r}: stun: URLs take no ?transport= (aiortc rejects them)")
    if scheme.startswith("turn"):
        if not username or not credential:
            raise ConfigError(f"{where}: {url!r} is a TURN server and needs username and credential")
        if query and query not in ("transport=udp", "transport=tcp"):
            raise ConfigError(f"{where}: {url!r}: transport must be udp or tcp")
        if scheme == "turns" and query != "transport=tcp":
            raise ConfigError(f"{where}: {url!r}: turns: needs ?transport=tcp with aiortc")
