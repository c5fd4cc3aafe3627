"""Scenario checks on what the agent reported on its events channel (rtc/events/).

``expect_event: {type: bot-ready}``, ``expect_tool_call: {name: get_weather, args: {city:
Paris}}`` (the arguments given must be among the call's, nested mappings likewise) and
``expect_agent_transcript: {contains: sunny}`` (the agent's own words, over every turn so
far). Each waits up to its ``timeout`` for what it looks for, since events arrive while
the call goes on; after hang-up it reads what came.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any

from voicedesk.rtc.events import Conversation, TextSource, ToolCall

POLL_S = 0.05


def subset(expected: Any, actual: Any) -> bool:
    """Whether ``expected`` is found in ``actual``: every key of a mapping (recursively), any
    other value equal (a number equals its float: YAML's 2 is JSON's 2.0)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def agent_words(conversation: Conversation) -> str:
    """Everything the agent said, as it reported it, turn after turn."""
    said = [t.agent.text(TextSource.AGENT) for t in conversation.turns if t.agent is not None]
    return " ".join(s for s in said if s)


def event_found(conversation: Conversation, match: Mapping[str, Any]) -> bool:
    wanted, protocol = match.get("type"), match.get("protocol")
    return any(
        (e.type == wanted or type(e).__name__ == wanted) and (protocol is None or e.protocol == protocol)
        for e in conversation.events
    )


def tool_calls(conversation: Conversation) -> list[ToolCall]:
    return [call for turn in conversation.turns for call in turn.tool_calls]


def tool_found(conversation: Conversation, match: Mapping[str, Any]) -> bool:
    args = match.get("args") or {}
    return any(c.name == match.get("name") and subset(args, c.args or {}) for c in tool_calls(conversation))


def words_found(conversation: Conversation, contains: tuple[str, ...], matches: str | None) -> bool:
    text = agent_words(conversation).lower()
    if not all(c.lower() in text for c in contains):
        return False
    return matches is None or re.search(matches, text, re.IGNORECASE) is not None


async def wait_for(found: Any, timeout: float, live: Any) -> bool:  # noqa: ASYNC109 (not finding it is a result)
    """Poll ``found()`` until it holds or ``timeout`` passes; once only when not ``live()``."""
    deadline = time.monotonic() + timeout
    while not found():
        if not live() or time.monotonic() >= deadline:
            return bool(found())
        await asyncio.sleep(POLL_S)
    return True


def measured(kind: str, conversation: Conversation) -> str:
    """What the call had instead, for a failed check's message."""
    if kind == "expect_event":
        types = list(dict.fromkeys(e.type for e in conversation.events))
        return f"events: {', '.join(types[:20]) or 'none'}"
    if kind == "expect_tool_call":
        calls = [f"{c.name}({dict(c.args or {})})" for c in tool_calls(conversation)]
        return f"tool calls: {', '.join(calls) or 'none'}"
    words = agent_words(conversation)
    return f"the agent said: {words[:300]!r}" if words else "the agent reported no words"
