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
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from voicedesk.errors import ConfigError

SCHEMES = ("stun", "stuns", "turn", "turns")
REDACTED = "***"
# how long the ICE probe waits for each STUN/TURN server (rtc/stun.py, rtc/ice_probe.py, the ICE lab)
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    # repr=False: a config printed in a log or a traceback must not show the secret
    credential: str | None = field(default=None, repr=False)

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
            # only a string or a list: tuple() of a number raises TypeError, of an object takes its keys
            urls = (urls,) if isinstance(urls, str) else tuple(urls) if isinstance(urls, list) else ()
            if not urls or not all(isinstance(u, str) for u in urls):
                raise ConfigError(f'{where}: "urls" must be a string or a list of strings')
            username, credential = raw.get("username"), raw.get("credential")
            for key, given in (("username", username), ("credential", credential)):
                if given is not None and not isinstance(given, str):
                    raise ConfigError(f'{where}: "{key}" must be a string')
            for url in urls:
                _check_url(url, username, credential, where)
            servers.append(IceServer(urls, username, credential))
        config = cls(tuple(servers), policy)
        return cls(config.iceServers, policy, tuple(config._aiortc_warnings()))

    def relay_only(self, enabled: bool = True) -> IceConfig:
        """The same servers with ``iceTransportPolicy`` "relay" (or "all"), warnings recomputed."""
        config = replace(self, iceTransportPolicy="relay" if enabled else "all", warnings=())
        return replace(config, warnings=tuple(config._aiortc_warnings()))

    @property
    def urls(self) -> list[tuple[str, IceServer]]:
        """Every URL of every server, in order, with the server that holds its credentials."""
        return [(url, server) for server in self.iceServers for url in server.urls]

    @property
    def aiortc_urls(self) -> tuple[str | None, str | None]:
        """The STUN and TURN URLs aiortc will actually use (the first of each)."""
        stun = next((u for u, _ in self.urls if u.startswith("stun:")), None)
        turn = next((u for u, _ in self.urls if u.startswith("turn")), None)
        return stun, turn

    @property
    def uses_turn(self) -> bool:
        return self.aiortc_urls[1] is not None

    def to_text(self, redact: bool = True) -> str:
        """Pretty JSON; credentials redacted unless asked (exports and logs never carry them)."""
        return json.dumps(self.to_json(redact), indent=2) + "\n"

    def export(self, path: str | Path) -> None:
        """Write the configuration with every credential replaced by ``***``."""
        try:
            Path(path).write_text(self.to_text(redact=True), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None

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
        # always a list, never None: aiortc replaces a missing iceServers with Google's public
        # STUN server, so an empty configuration would phone out (and stall without DNS)
        return RTCConfiguration(
            iceServers=[
                RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential) for s in self.iceServers
            ],
            iceTransportPolicy=RTCIceTransportPolicy(self.iceTransportPolicy),
        )

    def describe_candidates(self) -> str:
        """What a peer connection with this configuration gathers, in a few words (``/health``)."""
        stun, turn = self.aiortc_urls
        if self.iceTransportPolicy == "relay":
            return f"relay candidates only (through {turn})" if turn else "relay only, but no TURN server: none"
        kinds = ["host"]
        if stun:
            kinds.append(f"server-reflexive (from {stun})")
        if turn:
            kinds.append(f"relay (through {turn})")
        return "host candidates only" if len(kinds) == 1 else " and ".join([", ".join(kinds[:-1]), kinds[-1]])

    def _aiortc_warnings(self) -> list[str]:
        # aiortc skips stuns: URLs without a word (it only takes "stun" for STUN)
        stun = [u for s in self.iceServers for u in s.urls if u.startswith("stun:")]
        turn = [u for s in self.iceServers for u in s.urls if u.startswith("turn")]
        warnings = []
        stuns = [u for s in self.iceServers for u in s.urls if u.startswith("stuns:")]
        if stuns:
            warnings.append(f"aiortc ignores stuns: URLs ({', '.join(stuns)}); use stun: or turns:")
        if len(stun) > 1:
            warnings.append(f"aiortc uses only the first STUN server ({stun[0]}); {len(stun) - 1} more ignored")
        if len(turn) > 1:
            warnings.append(f"aiortc uses only the first TURN server ({turn[0]}); {len(turn) - 1} more ignored")
        if self.iceTransportPolicy == "relay" and not turn:
            warnings.append('iceTransportPolicy is "relay" but no TURN server is configured')
        for i, server in enumerate(self.iceServers):
            if server.credential == REDACTED:
                warnings.append(
                    f'iceServers[{i}]: the credential is "{REDACTED}" (a redacted export): put the real one back'
                )
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


# presets -----------------------------------------------------------------

PRESET_SUFFIX = ".json"
_PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class IcePreset:
    """A named ICE configuration: built in (``resources/ice``) or imported by the user."""

    name: str
    config: IceConfig
    description: str = ""
    template: bool = False  # placeholders (turn.example.com, USERNAME) to fill in before use
    builtin: bool = True
    path: Path | None = None


def resources_dir() -> Path:
    """``resources/`` of a source checkout, of a PyInstaller bundle, or ``$VOICEDESK_RESOURCES``."""
    override = os.environ.get("VOICEDESK_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def user_presets_dir() -> Path:
    """Where imported presets live: ``$VOICEDESK_CONFIG_DIR/ice`` or ``$XDG_CONFIG_HOME/voicedesk/ice``."""
    base = os.environ.get("VOICEDESK_CONFIG_DIR")
    if base:
        return Path(base) / "ice"
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "voicedesk" / "ice"


def _read_preset(path: Path, builtin: bool) -> IcePreset:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read ICE preset {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"ICE preset {path} is not valid JSON ({exc})") from None
    # extra keys ("name", "description", "template") are ignored by browsers and by IceConfig
    config = IceConfig.from_json(data, origin=f"ICE preset {path.name}")
    return IcePreset(
        name=path.stem,
        config=config,
        description=str(data.get("description", "")) if isinstance(data, dict) else "",
        template=bool(data.get("template", False)) if isinstance(data, dict) else False,
        builtin=builtin,
        path=path,
    )


def list_presets() -> list[IcePreset]:
    """Built-in presets first (sorted), then the user's; a user preset may shadow a built-in one."""
    found: dict[str, IcePreset] = {}
    for directory, builtin in ((resources_dir() / "ice", True), (user_presets_dir(), False)):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob(f"*{PRESET_SUFFIX}")):
            found[path.stem] = _read_preset(path, builtin)
    return list(found.values())


def load_preset(name: str) -> IcePreset:
    for preset in list_presets():
        if preset.name == name:
            return preset
    names = ", ".join(p.name for p in list_presets()) or "none"
    raise ConfigError(f"no ICE preset named {name!r} (presets: {names})")


def import_preset(source: str | Path, name: str | None = None) -> IcePreset:
    """Validate an RTCConfiguration JSON file and keep it as a user preset (file mode 0600:
    it holds the credentials, which is why exports are redacted and this store is not)."""
    source = Path(source)
    config = IceConfig.load(source)
    name = name or source.stem
    if not _PRESET_NAME.match(name):
        raise ConfigError(f"bad preset name {name!r}: use letters, digits, '.', '_' or '-'")
    directory = user_presets_dir()
    target = directory / f"{name}{PRESET_SUFFIX}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(config.to_text(redact=False))
    except OSError as exc:
        raise ConfigError(f"cannot save preset {name!r} in {directory}: {exc.strerror or exc}") from None
    return IcePreset(name, config, builtin=False, path=target)


def resolve_ice(spec: str | None, relay_only: bool = False) -> IceConfig:
    """``--ice`` as users type it: a JSON file, a preset name, or nothing (host candidates only)."""
    preset = None
    if not spec:
        config = IceConfig()
    elif Path(spec).exists() or spec.endswith(PRESET_SUFFIX) or os.sep in spec:
        config = IceConfig.load(spec)
    else:
        preset = load_preset(spec)
        config = preset.config
    if relay_only:
        config = config.relay_only()
    if preset is not None and preset.template:
        note = (
            f"preset {preset.name!r} is a template: export it (voicedesk ice export {preset.name} -o my.json), "
            "fill in your server and credentials, and use --ice my.json"
        )
        config = replace(config, warnings=(*config.warnings, note))
    return config
