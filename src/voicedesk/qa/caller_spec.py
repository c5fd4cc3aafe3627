"""The ``caller:``, ``judge:`` and ``impair_runs:`` blocks of a scenario, checked node by node.

A simulated caller talks to the agent turn by turn (qa/caller.py runs it)::

    caller:
      persona: a customer whose card was stolen     # instructions for an LLM caller
      goal: get the card blocked
      max_turns: 6
      opening: hello I lost my card                 # said first; else the caller listens first
      greeting: 3                                   # (no opening) seconds to wait for a greeting
      voice: {name: en-us, rate: 150, pitch: 40, volume: 100}
      seed: 7
      rules:                                        # a rule-driven caller: offline, deterministic
        - when: {contains: account number}
          say: 4 5 7 2
        - when: {contains: [blocked, cancelled]}
          say: thank you goodbye
          goal: true
          hangup: true
        - when: {after: 4}                          # from the caller's 4th turn on
          hangup: true
      otherwise: [sorry can you repeat that, pardon]  # one picked by the seed
      success:
        - goal                                      # the caller reached its goal
        - agent_said: blocked                       # deterministic
        - the agent confirmed the card is blocked   # judged by the LLM
      llm_url: http://127.0.0.1:8000/v1             # an LLM caller when there are no rules
      llm_model: caller-model
      llm_key_env: MY_KEY                           # the key is read from this variable
      llm_timeout: 8
      llm_stream: true

    judge: [the agent was polite, the agent never asked for a PIN]   # or {criteria: […], llm_url: …}

    impair_runs: {share: 0.5, impair: up.loss=100%}  # a seeded share of repeated runs impaired

Every message points at the line that is wrong (``file:line: what was expected``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the node walker lives in scenario.py, which imports this module
    from voicedesk.agent.engines.llm_http import ChatClient
    from voicedesk.qa.scenario import _Checker

DEFAULT_LLM_URL = "https://api.openai.com/v1"
DEFAULT_LLM_MODEL = "gpt-4o-mini"
KEY_VARIABLES = ("VOICEDESK_LLM_API_KEY", "OPENAI_API_KEY")


@dataclass(frozen=True)
class Condition:
    """``when:``: every given part must hold. ``contains``: any of the texts."""

    contains: tuple[str, ...] = ()
    matches: str | None = None
    after: int | None = None  # from the caller's turn N on (1 = always)
    silent: bool | None = None  # the agent said nothing this turn

    def describe(self) -> str:
        parts = []
        if self.contains:
            parts.append("the agent says " + " or ".join(repr(c) for c in self.contains))
        if self.matches:
            parts.append(f"the agent's words match /{self.matches}/")
        if self.after is not None:
            parts.append(f"from turn {self.after} on")
        if self.silent is not None:
            parts.append("the agent said nothing" if self.silent else "the agent said something")
        return " and ".join(parts) or "always"


@dataclass(frozen=True)
class Rule:
    line: int
    when: Condition
    say: tuple[str, ...] = ()  # one is picked by the seeded random generator
    hangup: bool = False
    goal: bool = False


@dataclass(frozen=True)
class CallerVoice:
    name: str = "en-us"
    rate: int = 140
    pitch: int | None = None  # espeak-ng 0–99 (50 is its default)
    volume: int | None = None  # percent, 100 = as synthesized


@dataclass(frozen=True)
class LlmEndpoint:
    """Where an LLM caller or judge asks; the key is read from the environment when used."""

    url: str = DEFAULT_LLM_URL
    model: str = DEFAULT_LLM_MODEL
    key_env: tuple[str, ...] = KEY_VARIABLES
    timeout: float = 8.0
    stream: bool = True

    def api_key(self) -> str | None:
        return next((os.environ[name] for name in self.key_env if os.environ.get(name)), None)

    def chat_client(self) -> ChatClient:
        """A client of this endpoint (the agent layer's ``ChatClient``, imported when first used)."""
        from voicedesk.agent.engines.llm_http import ChatClient, LlmSettings

        return ChatClient(LlmSettings(url=self.url, model=self.model, api_key=self.api_key(), timeout=self.timeout))


@dataclass(frozen=True)
class Criterion:
    """A success criterion: ``goal``, ``agent_said`` (deterministic) or ``judged`` (an LLM decides)."""

    line: int
    kind: str
    text: str = ""

    def describe(self) -> str:
        if self.kind == "goal":
            return "the caller reached its goal"
        if self.kind == "agent_said":
            return f"the agent said {self.text!r}"
        return f"judged: {self.text}"


@dataclass(frozen=True)
class CallerSpec:
    line: int
    persona: str = ""
    goal: str = ""
    max_turns: int = 6
    opening: str | None = None
    listen_s: float = 15.0  # how long one turn waits for the agent to start and finish a reply
    greeting_s: float = 3.0  # without an opening: how long the caller waits for a greeting first
    voice: CallerVoice = field(default_factory=CallerVoice)
    seed: int = 0
    rules: tuple[Rule, ...] = ()
    otherwise: tuple[str, ...] = ()
    hear: str = "auto"  # auto: the agent's own transcript events where it sends them, else the recognizer
    llm: LlmEndpoint | None = None
    success: tuple[Criterion, ...] = ()

    @property
    def kind(self) -> str:
        return "llm" if self.llm is not None else "rules"

    def phrases(self) -> tuple[str, ...]:
        """What the recognizer should know: the words the rules wait for and say."""
        out: list[str] = []
        for rule in self.rules:
            out.extend(rule.when.contains)
            out.extend(rule.say)
        out.extend(self.otherwise)
        out.extend(c.text for c in self.success if c.kind == "agent_said")
        if self.opening:
            out.append(self.opening)
        return tuple(out)


@dataclass(frozen=True)
class JudgeSpec:
    line: int
    criteria: tuple[Criterion, ...]
    llm: LlmEndpoint


@dataclass(frozen=True)
class ImpairRuns:
    """Impair a seeded share of repeated runs (the others run clean): a known truth for pass rates."""

    line: int
    share: float
    impair: str


LLM_KEYS = ("llm_url", "llm_model", "llm_key_env", "llm_timeout", "llm_stream")
CALLER_KEYS = (
    "persona",
    "instructions",
    "goal",
    "max_turns",
    "opening",
    "listen",
    "greeting",
    "voice",
    "seed",
    "rules",
    "otherwise",
    "hear",
    "success",
    *LLM_KEYS,
)


def _whole(checker: _Checker, node: yaml.Node, what: str, minimum: int, maximum: int) -> int:
    value = checker.number(node, what)
    if value != int(value) or not minimum <= value <= maximum:
        raise checker.fail(node, f"{what}: expected a whole number {minimum}–{maximum}, got {value:g}")
    return int(value)


def _says(checker: _Checker, node: yaml.Node, what: str) -> tuple[str, ...]:
    if isinstance(node, yaml.SequenceNode) and not node.value:
        raise checker.fail(node, f"{what}: expected a sentence or a list of sentences, got an empty list")
    return checker.texts(node, what)


def environment_endpoint() -> LlmEndpoint:
    """The endpoint the environment names (as the embedded agent's responder reads it)."""
    env = os.environ
    return LlmEndpoint(
        url=env.get("VOICEDESK_LLM_URL") or env.get("OPENAI_BASE_URL") or DEFAULT_LLM_URL,
        model=env.get("VOICEDESK_LLM_MODEL") or DEFAULT_LLM_MODEL,
    )


def llm_endpoint(checker: _Checker, keys: dict[str, tuple[yaml.Node, yaml.Node]], what: str) -> LlmEndpoint:
    """The ``llm_*`` keys of a block, else the environment the embedded agent reads too."""
    given: dict[str, Any] = {}
    if "llm_url" in keys:
        node = keys["llm_url"][1]
        given["url"] = url = checker.text(node, f"{what}.llm_url")
        if not url.startswith(("http://", "https://")):
            raise checker.fail(node, f"{what}.llm_url: expected an http(s) URL, got {url!r}")
    if "llm_model" in keys:
        given["model"] = checker.text(keys["llm_model"][1], f"{what}.llm_model")
    if "llm_key_env" in keys:
        node = keys["llm_key_env"][1]
        name = checker.text(node, f"{what}.llm_key_env")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise checker.fail(node, f"{what}.llm_key_env: expected the name of an environment variable, got {name!r}")
        given["key_env"] = (name,)
    if "llm_timeout" in keys:
        node = keys["llm_timeout"][1]
        given["timeout"] = timeout = checker.number(node, f"{what}.llm_timeout")
        if timeout <= 0:
            raise checker.fail(node, f"{what}.llm_timeout: expected seconds > 0, got {timeout:g}")
    if "llm_stream" in keys:
        given["stream"] = checker.flag(keys["llm_stream"][1], f"{what}.llm_stream")
    return replace(environment_endpoint(), **given)


def _condition(checker: _Checker, node: yaml.Node, what: str) -> Condition:
    keys = checker.mapping(node, what, ("contains", "matches", "after", "silent"))
    if not keys:
        raise checker.fail(node, f"{what}: expected at least one of contains, matches, after, silent")
    matches = checker.regex(keys["matches"][1], f"{what}.matches") if "matches" in keys else None
    return Condition(
        contains=_says(checker, keys["contains"][1], f"{what}.contains") if "contains" in keys else (),
        matches=matches,
        after=_whole(checker, keys["after"][1], f"{what}.after", 1, 10_000) if "after" in keys else None,
        silent=checker.flag(keys["silent"][1], f"{what}.silent") if "silent" in keys else None,
    )


def _rule(checker: _Checker, node: yaml.Node, index: int) -> Rule:
    what = f"caller.rules {index}"
    keys = checker.mapping(node, what, ("when", "say", "hangup", "goal"))
    if "when" not in keys:
        raise checker.fail(node, f"{what}: missing 'when' (e.g. when: {{contains: account number}})")
    say = _says(checker, keys["say"][1], f"{what}.say") if "say" in keys else ()
    hangup = checker.flag(keys["hangup"][1], f"{what}.hangup") if "hangup" in keys else False
    if not say and not hangup:
        raise checker.fail(node, f"{what}: expected 'say' and/or 'hangup: true' (what the caller does)")
    return Rule(
        line=node.start_mark.line + 1,
        when=_condition(checker, keys["when"][1], f"{what}.when"),
        say=say,
        hangup=hangup,
        goal=checker.flag(keys["goal"][1], f"{what}.goal") if "goal" in keys else False,
    )


def _criteria(checker: _Checker, node: yaml.Node, what: str, allow_goal: bool) -> tuple[Criterion, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        raise checker.fail(node, f"{what}: expected at least one criterion")
    out = []
    for item in items:
        line = item.start_mark.line + 1
        if isinstance(item, yaml.ScalarNode) and item.value == "goal" and allow_goal:
            out.append(Criterion(line, "goal"))
        elif isinstance(item, yaml.MappingNode):
            keys = checker.mapping(item, what, ("agent_said", "judge") if allow_goal else ("judge",))
            if len(keys) != 1:
                raise checker.fail(item, f"{what}: expected one of agent_said or judge per item")
            name, (_, value) = next(iter(keys.items()))
            out.append(Criterion(line, "agent_said" if name == "agent_said" else "judged", checker.text(value, what)))
        else:
            out.append(Criterion(line, "judged", checker.text(item, f"{what} (a criterion in words)")))
    return tuple(out)


def parse_caller(checker: _Checker, node: yaml.Node, line: int | None = None) -> CallerSpec:
    """``line``: where ``caller:`` is written (the block's own first line when not given)."""
    keys = checker.mapping(node, "caller", CALLER_KEYS)
    rules: tuple[Rule, ...] = ()
    if "rules" in keys:
        rules_node = keys["rules"][1]
        if not isinstance(rules_node, yaml.SequenceNode) or not rules_node.value:
            raise checker.fail(rules_node, f"caller.rules: expected a list of rules, got {checker.kind_of(rules_node)}")
        rules = tuple(_rule(checker, item, i + 1) for i, item in enumerate(rules_node.value))
    otherwise = _says(checker, keys["otherwise"][1], "caller.otherwise") if "otherwise" in keys else ()
    uses_llm = not rules and not otherwise
    if uses_llm and not any(k in keys for k in ("persona", "instructions", "goal", *LLM_KEYS)):
        raise checker.fail(
            node, "caller: expected rules/otherwise (a rule-driven caller) or persona/goal with llm_url (an LLM caller)"
        )
    given_llm = any(k in keys for k in LLM_KEYS)
    voice = CallerVoice()
    if "voice" in keys:
        v = keys["voice"][1]
        if isinstance(v, yaml.ScalarNode):
            voice = CallerVoice(name=checker.text(v, "caller.voice"))
        else:
            vk = checker.mapping(v, "caller.voice", ("name", "rate", "pitch", "volume"))
            voice = CallerVoice(
                name=checker.text(vk["name"][1], "caller.voice.name") if "name" in vk else "en-us",
                rate=_whole(checker, vk["rate"][1], "caller.voice.rate", 80, 450) if "rate" in vk else 140,
                pitch=_whole(checker, vk["pitch"][1], "caller.voice.pitch", 0, 99) if "pitch" in vk else None,
                volume=_whole(checker, vk["volume"][1], "caller.voice.volume", 1, 200) if "volume" in vk else None,
            )
    hear = "auto"
    if "hear" in keys:
        hear = checker.text(keys["hear"][1], "caller.hear")
        if hear not in ("auto", "events", "recognizer"):
            raise checker.fail(keys["hear"][1], f"caller.hear: expected auto, events or recognizer, got {hear!r}")
    persona = ""
    for name in ("persona", "instructions"):
        if name in keys:
            persona = (persona + "\n" + checker.text(keys[name][1], f"caller.{name}")).strip()
    listen = 15.0
    if "listen" in keys:
        listen = checker.number(keys["listen"][1], "caller.listen")
        if listen <= 0:
            raise checker.fail(keys["listen"][1], f"caller.listen: expected seconds > 0, got {listen:g}")
    greeting = 3.0
    if "greeting" in keys:
        greeting = checker.number(keys["greeting"][1], "caller.greeting")
    return CallerSpec(
        greeting_s=greeting,
        line=line if line is not None else node.start_mark.line + 1,
        persona=persona,
        goal=checker.text(keys["goal"][1], "caller.goal") if "goal" in keys else "",
        max_turns=_whole(checker, keys["max_turns"][1], "caller.max_turns", 1, 200) if "max_turns" in keys else 6,
        opening=checker.text(keys["opening"][1], "caller.opening") if "opening" in keys else None,
        listen_s=listen,
        voice=voice,
        seed=_whole(checker, keys["seed"][1], "caller.seed", 0, 2**31) if "seed" in keys else 0,
        rules=rules,
        otherwise=otherwise,
        hear=hear,
        llm=llm_endpoint(checker, keys, "caller") if uses_llm or given_llm else None,
        success=_criteria(checker, keys["success"][1], "caller.success", True) if "success" in keys else (),
    )


def parse_judge(checker: _Checker, node: yaml.Node, caller: CallerSpec | None) -> JudgeSpec:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        keys = checker.mapping(node, "judge", ("criteria", *LLM_KEYS))
        if "criteria" not in keys:
            raise checker.fail(node, "judge: missing 'criteria' (what the LLM decides, in words)")
        criteria = _criteria(checker, keys["criteria"][1], "judge.criteria", False)
        llm = llm_endpoint(checker, keys, "judge") if any(k in keys for k in LLM_KEYS) else None
    else:
        criteria, llm = _criteria(checker, node, "judge", False), None
    if llm is None:  # the caller's endpoint, else the environment's
        llm = caller.llm if caller is not None and caller.llm is not None else environment_endpoint()
    return JudgeSpec(line=line, criteria=criteria, llm=llm)


def parse_impair_runs(checker: _Checker, node: yaml.Node) -> ImpairRuns:
    keys = checker.mapping(node, "impair_runs", ("share", "impair"))
    if "share" not in keys or "impair" not in keys:
        raise checker.fail(node, "impair_runs: expected share (0–1) and impair (e.g. up.loss=100%)")
    share = checker.number(keys["share"][1], "impair_runs.share")
    if share > 1:
        raise checker.fail(keys["share"][1], f"impair_runs.share: expected a share 0–1, got {share:g}")
    spec = checker.text(keys["impair"][1], "impair_runs.impair")
    checker.impairment(keys["impair"][1], spec, "impair_runs.impair")
    return ImpairRuns(line=node.start_mark.line + 1, share=share, impair=spec)
