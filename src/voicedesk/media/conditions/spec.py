"""Caller conditions as plain data: what to mix into what the caller sends, and how to write it.

Every builder (``voicedesk call``'s options, a scenario's ``conditions:`` key, the window's
group, Python) fills one frozen ``Conditions``; parsing and range checks live here so that
each face says the same words for the same mistake (numbers through ``limits.problem``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.limits import problem

NOISE_KINDS = ("white", "pink", "babble")
SNR_RANGE = (-10.0, 60.0)  # dB: below, the caller is inaudible; above, the noise is below 16-bit hiss
DEFAULT_SNR_DB = 20.0
# what a backchannel or non-speech insert can be: words espeak-ng says, or sounds made here
SPOKEN_INSERTS = {"mm-hmm": "mhm", "uh-huh": "uh-huh", "yeah": "yeah", "okay": "okay", "right": "right"}
SOUND_INSERTS = ("cough", "laugh", "knock")
INSERT_KINDS = (*SPOKEN_INSERTS, *SOUND_INSERTS)
CONDITION_KEYS = ("noise", "echo", "backchannels", "pause_ms", "voice", "seed")


def _number(text: str, what: str, **bounds: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a number") from None
    why = problem(value, **bounds)  # type: ignore[arg-type]
    if why is not None:
        raise ConfigError(f"{what}: {why}")
    return value


def _in_ranges(what: str, *checks: tuple[str, float | None, float, float]) -> None:
    """A ConfigError (``echo erl_db: expected a number ≥ -20 and ≤ 120, got 300``) for the first
    value (None: not given) outside its inclusive range."""
    for name, value, low, high in checks:
        why = None if value is None else problem(value, minimum=low, maximum=high)
        if why is not None:
            raise ConfigError(f"{what} {name}: {why}")


def _pairs(text: str, what: str, allowed: tuple[str, ...], flags: tuple[str, ...] = ()) -> dict[str, str]:
    """``a=1,b=2,flag`` as a dict; a ConfigError naming an unknown key."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep and key in flags:
            value = "on"
        if key not in allowed and key not in flags:
            raise ConfigError(f"{what}: unknown setting {key!r}; use {', '.join(dict.fromkeys((*allowed, *flags)))}")
        if not sep and key not in flags:
            raise ConfigError(f"{what}: {key} needs a value, e.g. {key}=…")
        out[key] = value.strip()
    return out


def _flag(value: str, what: str) -> bool:
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"{what}: expected on or off, got {value!r}")


@dataclass(frozen=True)
class NoiseSpec:
    """Noise mixed at ``snr_db`` below the speech actually sent: white, pink, babble or a file."""

    kind: str  # white, pink, babble or file
    snr_db: float = DEFAULT_SNR_DB
    path: str | None = None  # kind == "file"

    def __post_init__(self) -> None:
        low, high = SNR_RANGE
        why = problem(self.snr_db, minimum=low, maximum=high, kind="an SNR in dB")
        if why is not None:
            raise ConfigError(f"noise SNR: {why}")
        if self.kind not in (*NOISE_KINDS, "file"):
            raise ConfigError(f"unknown noise {self.kind!r}: use {', '.join(NOISE_KINDS)} or an audio file")
        if self.kind == "file":
            check_noise_file(self.path or "")

    @classmethod
    def parse(cls, text: str) -> NoiseSpec:
        """``KIND[:SNR_DB]``: ``babble:10``, ``pink``, ``cafe.ogg:15`` (a file); SNR 20 dB unless given."""
        kind, sep, snr = text.strip().rpartition(":")
        if not sep or not _is_number(snr):
            kind, snr = text.strip(), ""
        snr_db = _number(snr, f"noise {text!r}") if snr else DEFAULT_SNR_DB
        if kind.lower() in NOISE_KINDS:
            return cls(kind.lower(), snr_db)
        if not Path(kind).exists():
            raise ConfigError(
                f"unknown noise {kind!r}: use {', '.join(NOISE_KINDS)} or an audio file, with :SNR_DB, e.g. babble:10"
            )
        return cls("file", snr_db, kind)

    def describe(self) -> str:
        what = Path(self.path).name if self.kind == "file" and self.path else self.kind
        return f"{what} noise at {self.snr_db:g} dB SNR"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "snr_db": self.snr_db, **({"path": self.path} if self.path else {})}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_noise_file(path: str) -> None:
    """A ConfigError in one line unless ``path`` decodes to audio (checked before dialing)."""
    from voicedesk.errors import MediaError
    from voicedesk.media.sources import load_audio_file

    try:
        load_audio_file(path)
    except MediaError as exc:
        if "Errno" in str(exc) or "Invalid data" in str(exc):  # FFmpeg's own words for "not audio"
            raise ConfigError(f"noise file {path}: not an audio file (FFmpeg cannot decode it)") from None
        raise ConfigError(f"noise file: {exc}") from None


@dataclass(frozen=True)
class EchoSpec:
    """The agent's received audio fed back into what the caller sends: a speakerphone without
    echo cancellation. ``erl_db``: echo return loss (how much quieter the echo is);
    ``speaker``: band-limit and saturate it like a laptop speaker."""

    delay_ms: float = 200.0
    erl_db: float = 6.0
    speaker: bool = False

    def __post_init__(self) -> None:
        _in_ranges("echo", ("delay_ms", self.delay_ms, 0, 2000), ("erl_db", self.erl_db, -20, 120))

    @classmethod
    def parse(cls, text: str) -> EchoSpec:
        """``delay_ms=200,erl_db=6[,speaker]`` (each optional; ``on`` for all the defaults)."""
        what = f"echo {text!r}"
        if text.strip().lower() in ("on", "default"):
            return cls()
        pairs = _pairs(text, what, ("delay_ms", "erl_db", "speaker"), flags=("speaker",))
        return cls(
            delay_ms=_number(pairs["delay_ms"], what) if "delay_ms" in pairs else 200.0,
            erl_db=_number(pairs["erl_db"], what) if "erl_db" in pairs else 6.0,
            speaker=_flag(pairs["speaker"], what) if "speaker" in pairs else False,
        )

    def describe(self) -> str:
        return f"echo after {self.delay_ms:g} ms, {self.erl_db:g} dB down{', laptop speaker' if self.speaker else ''}"

    def to_json(self) -> dict[str, Any]:
        return {"delay_ms": self.delay_ms, "erl_db": self.erl_db, "speaker": self.speaker}


@dataclass(frozen=True)
class InsertSpec:
    """A backchannel or non-speech sound inserted ``at_ms`` after the agent starts talking
    (the onset of its ``turn``-th stretch of speech the caller received)."""

    what: str  # one of INSERT_KINDS
    at_ms: float = 500.0
    turn: int = 1
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        if self.what not in INSERT_KINDS:
            raise ConfigError(f"unknown backchannel {self.what!r}: use {', '.join(INSERT_KINDS)}")
        _in_ranges(
            "backchannel",
            ("at_ms", self.at_ms, 0, 60_000),
            ("turn", self.turn, 1, 1000),
            ("gain_db", self.gain_db, -60, 20),
        )

    @classmethod
    def parse(cls, text: str) -> InsertSpec:
        """``WHAT[@MS][,turn=N][,gain_db=G]``: ``mm-hmm@800``, ``cough@1500,turn=2``."""
        head, _, rest = text.strip().partition(",")
        what, sep, at = head.partition("@")
        where = f"backchannel {text!r}"
        pairs = _pairs(rest, where, ("turn", "gain_db"))
        turn = _number(pairs["turn"], where, minimum=1) if "turn" in pairs else 1
        if turn != int(turn):
            raise ConfigError(f"{where}: turn must be a whole number")
        return cls(
            what=what.strip().lower(),
            at_ms=_number(at, where) if sep else 500.0,
            turn=int(turn),
            gain_db=_number(pairs["gain_db"], where) if "gain_db" in pairs else 0.0,
        )

    def describe(self) -> str:
        return f"{self.what} {self.at_ms:g} ms into agent speech {self.turn}"

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "at_ms": self.at_ms, "turn": self.turn, "gain_db": self.gain_db}


@dataclass(frozen=True)
class CallerVoice:
    """Who the caller is: an espeak-ng voice, rate and pitch (for spoken sources), and for any
    source a volume change (a quiet caller) and clipping (a hot microphone: ``clip_db`` of
    gain into full scale)."""

    voice: str | None = None
    rate: float | None = None  # words per minute
    pitch: float | None = None  # espeak 0–99 (50 normal)
    volume_db: float = 0.0
    clip_db: float = 0.0

    def __post_init__(self) -> None:
        _in_ranges(
            "caller voice",
            ("rate", self.rate, 80, 450),
            ("pitch", self.pitch, 0, 99),
            ("volume_db", self.volume_db, -60, 20),
            ("clip_db", self.clip_db, 0, 40),
        )
        if self.voice is not None and not self.voice.strip():
            raise ConfigError("caller voice: give an espeak-ng voice name, e.g. voice=en-us+f3")

    @classmethod
    def parse(cls, text: str) -> CallerVoice:
        """``voice=en-us+f3,rate=180,pitch=70,volume_db=-20,clip_db=12`` (each optional)."""
        where = f"caller voice {text!r}"
        pairs = _pairs(text, where, ("voice", "rate", "pitch", "volume_db", "clip_db"))
        return cls(
            voice=pairs.get("voice"),
            rate=_number(pairs["rate"], where) if "rate" in pairs else None,
            pitch=_number(pairs["pitch"], where) if "pitch" in pairs else None,
            volume_db=_number(pairs["volume_db"], where) if "volume_db" in pairs else 0.0,
            clip_db=_number(pairs["clip_db"], where) if "clip_db" in pairs else 0.0,
        )

    @property
    def resynthesizes(self) -> bool:
        """Whether spoken sources must be synthesized again with this voice."""
        return self.voice is not None or self.rate is not None or self.pitch is not None

    def describe(self) -> str:
        parts = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.to_json().items()]
        return "caller " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("voice", "rate", "pitch"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.volume_db:
            out["volume_db"] = self.volume_db
        if self.clip_db:
            out["clip_db"] = self.clip_db
        return out


@dataclass(frozen=True)
class Conditions:
    """Everything mixed into one call's outgoing audio; ``seed`` makes it repeat exactly."""

    noise: NoiseSpec | None = None
    echo: EchoSpec | None = None
    inserts: tuple[InsertSpec, ...] = ()
    pause_ms: float | None = None  # each spoken sentence split in two with this much silence
    voice: CallerVoice = field(default_factory=CallerVoice)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pause_ms is not None:
            why = problem(self.pause_ms, minimum=0, maximum=10_000)
            if why is not None:
                raise ConfigError(f"pause_ms: {why}")

    @property
    def empty(self) -> bool:
        return (
            self.noise is None
            and self.echo is None
            and not self.inserts
            and self.pause_ms is None
            and self.voice == CallerVoice()
        )

    def describe(self) -> str:
        parts = [c.describe() for c in (self.noise, self.echo, *self.inserts) if c is not None]
        if self.pause_ms is not None:
            parts.append(f"{self.pause_ms:g} ms pause mid-sentence")
        if self.voice != CallerVoice():
            parts.append(self.voice.describe())
        return "; ".join(parts) or "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "noise": self.noise.to_json() if self.noise else None,
            "echo": self.echo.to_json() if self.echo else None,
            "backchannels": [i.to_json() for i in self.inserts],
            "pause_ms": self.pause_ms,
            "voice": self.voice.to_json() or None,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], what: str = "conditions") -> Conditions:
        """A scenario's ``conditions:`` mapping (or JSON): the CLI's strings or mappings per key."""
        unknown = [k for k in data if k not in CONDITION_KEYS]
        if unknown:
            raise ConfigError(f"{what}: unknown condition {unknown[0]!r}; use {', '.join(CONDITION_KEYS)}")
        noise = data.get("noise")
        noise_spec: NoiseSpec | None = None
        if isinstance(noise, Mapping):
            extra = [k for k in noise if k not in ("kind", "snr_db", "path")]
            if extra:
                raise ConfigError(f"{what}.noise: unknown key {extra[0]!r}; use kind, snr_db, path")
            kind = str(noise.get("kind", ""))
            path = noise.get("path")
            snr = noise.get("snr_db", DEFAULT_SNR_DB)
            if not isinstance(snr, int | float) or isinstance(snr, bool):
                raise ConfigError(f"{what}.noise.snr_db: expected a number, got {snr!r}")
            noise_spec = cls._file_noise(str(path), float(snr)) if path else NoiseSpec.parse(f"{kind}:{float(snr)!r}")
        elif noise is not None:
            noise_spec = NoiseSpec.parse(str(noise))
        echo = data.get("echo")
        if isinstance(echo, Mapping):
            echo = ",".join(f"{k}={v}" for k, v in echo.items())
        voice = data.get("voice")
        if isinstance(voice, Mapping):
            voice = ",".join(f"{k}={v}" for k, v in voice.items())
        inserts = data.get("backchannels") or []
        if isinstance(inserts, str):
            inserts = [inserts]
        parsed_inserts = []
        for item in inserts:
            if isinstance(item, Mapping):
                item = ",".join(
                    [f"{item.get('what', '')}@{item.get('at_ms', 500)}"]
                    + [f"{k}={v}" for k, v in item.items() if k not in ("what", "at_ms")]
                )
            parsed_inserts.append(InsertSpec.parse(str(item)))
        pause = data.get("pause_ms")
        if pause is not None and (not isinstance(pause, int | float) or isinstance(pause, bool)):
            raise ConfigError(f"{what}.pause_ms: expected a number of milliseconds, got {pause!r}")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"{what}.seed: expected a whole number, got {seed!r}")
        return cls(
            noise=noise_spec,
            echo=EchoSpec.parse(str(echo)) if echo is not None else None,
            inserts=tuple(parsed_inserts),
            pause_ms=float(pause) if pause is not None else None,
            voice=CallerVoice.parse(str(voice)) if voice is not None else CallerVoice(),
            seed=seed,
        )

    @staticmethod
    def _file_noise(path: str, snr: float) -> NoiseSpec:
        return NoiseSpec("file", snr, path)
