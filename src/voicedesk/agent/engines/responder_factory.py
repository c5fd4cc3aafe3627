"""Which responder an agent uses: ``rules`` (offline) or ``openai`` (any OpenAI-compatible chat endpoint)."""

from __future__ import annotations

from voicedesk.agent.engines.responder import Responder, RuleResponder
from voicedesk.errors import ConfigError


def create_responder(kind: str, options: dict[str, str] | None = None) -> Responder:
    kind = kind.strip().lower()
    if kind in ("rules", "rule"):
        return RuleResponder()
    if kind in ("openai", "llm", "http"):
        from voicedesk.agent.engines.llm_http import OpenAIChatResponder, settings_from

        return OpenAIChatResponder(settings_from(options or {}))
    raise ConfigError(f"unknown responder {kind!r}: use rules or openai")
