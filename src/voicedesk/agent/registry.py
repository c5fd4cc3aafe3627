"""The agents the embedded server can run, as one registry.

An agent is one module: a subclass of ``Agent`` that declares its name, a one-line
summary, its options (typed, with defaults; secret ones are masked wherever options
are shown), whether it writes turn events on the ``voicedesk`` data channel, and a
``preflight`` that says what is missing before any call is answered. The module ends
with ``register_agent(TheAgent)``. The built-in agents are listed in ``BUILTIN_AGENTS``
by name and module, and their module is imported when one of them is first looked up:
listing the names (the window's target list, ``--agent`` choices) imports no agent,
so the window's first screen does without the pipeline agents' modules (~12 ms,
bench/startup.py). The CLI's ``--agent`` choices, the window's agent lists,
``embedded:AGENT`` and the server all read this registry.

An agent is attached to a fresh peer connection before the offer is applied; it adds
what it sends and consumes what it receives. ``close`` runs when the session ends.
What it reports (turn events, the ``voicedesk`` channel's JSON) also goes to every
``add_event_listener`` callback, which is how the RTVI side (``rtvi.py``) hears the same
turns without a second account of them; ``send_text`` is text a client typed (RTVI
``send-text``), refused by agents that have nothing to answer text with.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from voicedesk.errors import ConfigError, PipelineError
from voicedesk.limits import problem

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

    from voicedesk.rtc.telephone_event import DtmfReceived

OptionKind = Literal["text", "number", "flag", "choice", "path"]
EventListener = Callable[[dict[str, Any]], None]
_ON = ("1", "on", "yes", "true")
_OFF = ("0", "off", "no", "false")


@dataclass(frozen=True)
class AgentOption:
    """One ``KEY=VALUE`` an agent takes (``-o delay=500``, ``embedded:parrot?delay=500``)."""

    name: str
    help: str  # what it does, its values and its default, in words
    kind: OptionKind = "text"
    default: str = ""
    low: float | None = None  # numbers: the accepted range
    high: float | None = None
    choices: tuple[str, ...] = ()  # choices: the accepted words
    secret: bool = False  # masked in logs, summaries and stored settings

    def parse(self, raw: str | None) -> Any:
        """The option's value (its default when unset); a ``ConfigError`` saying what is accepted."""
        value = self.default if raw is None or raw == "" else raw
        if self.kind == "number":
            try:
                number = float(value)
            except ValueError:
                raise ConfigError(f"agent option {self.name} must be a number, not {value!r}") from None
            why = problem(number, minimum=self.low, maximum=self.high)  # NaN and infinities too
            if why is not None:
                raise ConfigError(f"agent option {self.name}: {why}")
            return number
        if self.kind == "flag":
            word = value.strip().lower()
            if word in _ON:
                return True
            if word in _OFF:
                return False
            raise ConfigError(f"agent option {self.name} must be on or off, not {value!r}")
        if self.kind == "choice":
            word = value.strip().lower()
            if word not in self.choices:
                raise ConfigError(f"agent option {self.name} must be one of {', '.join(self.choices)}, not {value!r}")
            return word
        return value


class Agent:
    """Base of every agent: subclasses set the class attributes and ``attach``."""

    name: ClassVar[str] = "agent"
    summary: ClassVar[str] = ""
    OPTIONS: ClassVar[tuple[AgentOption, ...]] = ()
    SENDS_EVENTS: ClassVar[bool] = False  # writes turn events on the ``voicedesk`` channel

    def __init__(self, options: dict[str, str] | None = None) -> None:
        self.options = dict(options or {})
        self.check_options(self.options)
        self.event_listeners: list[EventListener] = []

    @classmethod
    def check_options(cls, options: dict[str, str]) -> None:
        """Every option known and well-formed, else a ``ConfigError`` listing the known ones."""
        known = {o.name: o for o in cls.OPTIONS}
        unknown = sorted(set(options) - set(known))
        if unknown and not known:
            raise ConfigError(f"the {cls.name} agent takes no options")
        if unknown:
            listed = "; ".join(f"{o.name}: {o.help}" for o in cls.OPTIONS)
            raise ConfigError(f"the {cls.name} agent has no option {', '.join(unknown)} (options: {listed})")
        for name, raw in options.items():
            known[name].parse(raw)

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        """Raise a VoiceDeskError naming what is missing, before any call is answered."""
        cls.check_options(options)

    def option(self, name: str) -> Any:
        """The parsed value of one of this agent's options (its default when unset)."""
        spec = next(o for o in self.OPTIONS if o.name == name)
        return spec.parse(self.options.get(name))

    def attach(self, pc: RTCPeerConnection) -> None:
        raise NotImplementedError

    def dtmf_received(self, event: DtmfReceived) -> None:
        """The caller pressed a key, sent as an RFC 4733 telephone-event (the session has
        logged it already); an agent that reacts to keys overrides this."""

    def add_event_listener(self, listener: EventListener) -> None:
        """``listener(event)`` for each turn event the agent reports (none for agents that do not)."""
        self.event_listeners.append(listener)

    def send_text(self, text: str, *, interrupt: bool = True, msg_id: str | None = None) -> None:
        """Answer ``text`` as if the caller had said it (``interrupt``: stop the reply being spoken
        first). A ``PipelineError`` saying why when this agent takes no text."""
        raise PipelineError(f"the {self.name} agent does not take text: it only answers what it hears")

    async def close(self) -> None:
        pass


_AGENTS: dict[str, type[Agent]] = {}

# the built-in agents and the module whose import registers each (tests/unit/agent/test_registry.py
# checks that each module registers exactly these); imported on the first lookup of one of them
BUILTIN_AGENTS: dict[str, str] = {
    "echo": "voicedesk.agent.agents",
    "tone": "voicedesk.agent.agents",
    "parrot": "voicedesk.agent.voice_agents",
    "voice": "voicedesk.agent.voice_agents",
    "script": "voicedesk.agent.voice_agents",
}


def register_agent(agent: type[Agent]) -> type[Agent]:
    """Add (or replace, by name) an agent; usable as a class decorator."""
    _AGENTS[agent.name] = agent
    return agent


def agent_names() -> list[str]:
    """The agents' names, sorted (for ``--agent`` choices and the window's lists); imports none."""
    return sorted({*BUILTIN_AGENTS, *_AGENTS})


def _registered(key: str) -> type[Agent] | None:
    """The agent registered as ``key``, importing its built-in module first if need be."""
    if key not in _AGENTS and key in BUILTIN_AGENTS:
        importlib.import_module(BUILTIN_AGENTS[key])
    return _AGENTS.get(key)


def _all_registered() -> list[type[Agent]]:
    for module in dict.fromkeys(BUILTIN_AGENTS.values()):
        importlib.import_module(module)
    return list(_AGENTS.values())


def agent_class(name: str) -> type[Agent]:
    """The agent called ``name`` (case and spaces ignored); a ``ConfigError`` naming the known ones."""
    key = name.strip().lower()
    agent = _registered(key)
    if agent is None:
        raise ConfigError(f"unknown agent {key!r}: choose one of {', '.join(agent_names())}")
    return agent


def check_agent_name(name: str) -> str:
    return agent_class(name).name


def prepare_agent(name: str, options: dict[str, str] | None = None) -> None:
    """Check that an agent can run with these options (engines installed, options valid).

    Raises a VoiceDeskError naming what to install or fix; other agents are unaffected.
    """
    agent_class(name).preflight(options or {})


def create_agent(name: str, options: dict[str, str] | None = None) -> Agent:
    return agent_class(name)(options)


def agent_sends_events(name: str) -> bool:
    """True for an agent that writes turn events (so a caller opens the channel for them)."""
    agent = _registered(name.strip().lower())
    return agent is not None and agent.SENDS_EVENTS


def secret_option_names() -> frozenset[str]:
    """Every registered agent's secret option names (``llm_key``): masked wherever shown."""
    return frozenset(o.name for a in _all_registered() for o in a.OPTIONS if o.secret)


def parse_agent_options(pairs: list[str] | None) -> dict[str, str]:
    """``["delay=500", "stt=open"]`` -> dict; a pair without ``=`` is a ConfigError."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad agent option {pair!r}: write KEY=VALUE, e.g. delay=500")
        options[key.strip().lower()] = value.strip()
    return options
