"""Judged criteria: an LLM reads the call's transcript and events and says pass or fail, and why.

One request per criterion (through the agent layer's ``ChatClient``); the answer is one JSON
object ``{"pass": true|false, "reason": "…"}`` (a leading PASS/FAIL word is read too). A
judge that cannot be reached or answers nonsense fails its criterion with that reason, never
the whole run of scenarios. Every result made here is labelled ``judged``: a model's opinion,
not a measurement.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from voicedesk.qa.caller_spec import Criterion, LlmEndpoint
from voicedesk.rtc.signaling.log import redact_url

logger = logging.getLogger(__name__)

JUDGE_PROMPT = (
    "You judge a phone call between a caller and a voice agent, from its transcript and the agent's events. "
    "Decide whether the criterion holds. Answer with one JSON object and nothing else: "
    '{"pass": true or false, "reason": "one short sentence"}.'
)
MAX_EVENTS = 60  # what the judge is shown of the agent's events (the transcript is what matters)


@dataclass(frozen=True)
class Verdict:
    criterion: Criterion
    passed: bool
    reason: str
    failed_to_judge: bool = False  # the LLM could not be asked or its answer not read


def transcript_text(turns: list[dict[str, Any]], conversation: dict[str, Any] | None) -> str:
    """The call as lines: what the caller said, what the agent said (and where that text came from)."""
    lines: list[str] = []
    if conversation is not None:
        for t in conversation.get("turns", []):
            if t.get("heard"):
                lines.append(f"Agent: {t['heard']}")
            if t.get("said"):
                lines.append(f"Caller: {t['said']}")
        return "\n".join(lines)
    for t in turns:
        lines.append(f"Caller: {t.get('said')}")
        agent = (t.get("agent") or {}).get("response") or t.get("transcript")
        if agent:
            lines.append(f"Agent: {agent}")
    return "\n".join(lines)


def events_text(events: list[dict[str, Any]]) -> str:
    keep = ("type", "turn", "text", "transcript", "response", "message", "name", "arguments")
    rows = [json.dumps({k: e[k] for k in keep if k in e}, default=str) for e in events[:MAX_EVENTS]]
    return "\n".join(rows) or "(none)"


def read_verdict(answer: str) -> tuple[bool, str] | None:
    """``(passed, reason)`` from the judge's answer, or None when it cannot be read."""
    match = re.search(r"\{.*\}", answer, re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("pass"), bool):
            return data["pass"], str(data.get("reason") or "").strip()
    word = re.match(r"\s*(PASS|FAIL)\b[\s:.-]*(.*)", answer, re.IGNORECASE | re.DOTALL)
    if word:
        return word.group(1).upper() == "PASS", word.group(2).strip()
    return None


async def judge(
    criteria: tuple[Criterion, ...], endpoint: LlmEndpoint, transcript: str, events: list[dict[str, Any]]
) -> list[Verdict]:
    from voicedesk.agent.engines.llm_http import LlmError

    client = endpoint.chat_client()
    where = redact_url(endpoint.url)
    verdicts = []
    try:
        for criterion in criteria:
            messages = [
                {"role": "system", "content": JUDGE_PROMPT},
                {
                    "role": "user",
                    "content": f"Criterion: {criterion.text}\n\nTranscript:\n{transcript or '(nothing was said)'}"
                    f"\n\nAgent events:\n{events_text(events)}",
                },
            ]
            try:
                answer = await asyncio.wait_for(
                    client.complete(messages, stream=endpoint.stream, temperature=0), endpoint.timeout
                )
            except TimeoutError:
                verdicts.append(Verdict(criterion, False, f"the judge's LLM at {where} gave no answer", True))
                continue
            except LlmError as exc:
                verdicts.append(Verdict(criterion, False, f"the judge's LLM at {where}: {exc}", True))
                continue
            read = read_verdict(answer)
            if read is None:
                verdicts.append(
                    Verdict(criterion, False, f"the judge's answer could not be read: {answer[:80]!r}", True)
                )
            else:
                verdicts.append(Verdict(criterion, read[0], read[1]))
    finally:
        await client.close()
    return verdicts
