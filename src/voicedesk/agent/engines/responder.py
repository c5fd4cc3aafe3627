"""Responders turn a final transcript into reply text, streamed in chunks.

``RuleResponder`` needs nothing: it greets, answers a few intents and, when it
is unsure, repeats what it heard. ``OpenAIChatResponder`` (``llm_http.py``)
asks an OpenAI-compatible chat completions endpoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class Responder:
    """Interface: ``respond`` yields the reply in chunks; ``phrases`` feed a constrained recognizer."""

    name = "responder"

    def phrases(self) -> list[str]:
        """What callers are expected to say and what the agent says (both are recognized)."""
        return []

    async def start(self) -> None:
        """Open connections here, not in ``__init__``."""

    async def respond(self, transcript: str) -> AsyncIterator[str]:
        raise NotImplementedError
        yield ""  # pragma: no cover

    async def close(self) -> None:
        pass


@dataclass(frozen=True)
class Intent:
    name: str
    keywords: tuple[str, ...]  # any of these (a word or a phrase) in the transcript selects the intent
    examples: tuple[str, ...]  # what a caller says; also recognizer phrases
    reply: str


INTENTS: tuple[Intent, ...] = (
    Intent(
        "name",
        ("your name", "who are you", "name"),
        ("what is your name", "hello what is your name", "who are you", "tell me your name"),
        "My name is Voice Desk. I am a test agent.",
    ),
    Intent(
        "weather",
        ("weather", "sunny", "rain"),
        ("what is the weather today", "how is the weather", "tell me about the weather", "is it going to rain"),
        "The weather is sunny and warm today.",
    ),
    Intent(
        "time",
        ("time", "clock"),
        ("what time is it", "what is the time"),
        "It is time to test your voice agent.",
    ),
    Intent(
        "help",
        ("help", "what can you do"),
        ("help", "help me please", "what can you do"),
        "I can tell you my name, the weather and the time, and repeat what you say.",
    ),
    Intent(
        "thanks",
        ("thank", "thanks"),
        ("thank you", "thanks", "thank you very much"),
        "You are welcome.",
    ),
    Intent(
        "goodbye",
        ("goodbye", "bye"),
        ("goodbye", "bye", "bye bye"),
        "Goodbye. Have a nice day.",
    ),
    Intent(
        "greeting",
        ("hello", "hi", "hey", "good morning", "good evening"),
        ("hello", "hi there", "hey", "hello there", "good morning"),
        "Hello. I am the Voice Desk agent. How can I help you?",
    ),
)
UNSURE_REPLY = "I am not sure. I heard you say: {transcript}."
NOTHING_HEARD_REPLY = "Sorry, I did not hear anything. Please say that again."


class RuleResponder(Responder):
    """Keyword intents, checked in order (a specific intent wins over a greeting)."""

    name = "rules"

    def __init__(self, intents: tuple[Intent, ...] = INTENTS) -> None:
        self.intents = intents

    def phrases(self) -> list[str]:
        found: list[str] = []
        for intent in self.intents:
            found.extend(intent.examples)
            found.append(intent.reply)
        found.extend(
            (UNSURE_REPLY.format(transcript=""), "i heard you say", NOTHING_HEARD_REPLY, "i am the voice desk agent")
        )
        return found

    def match(self, transcript: str) -> Intent | None:
        text = f" {transcript.lower()} "
        for intent in self.intents:
            for keyword in intent.keywords:
                if re.search(rf"\b{re.escape(keyword)}\b", text):
                    return intent
        return None

    def reply_for(self, transcript: str) -> str:
        transcript = transcript.strip()
        if not transcript:
            return NOTHING_HEARD_REPLY
        intent = self.match(transcript)
        return intent.reply if intent else UNSURE_REPLY.format(transcript=transcript)

    async def respond(self, transcript: str) -> AsyncIterator[str]:
        # sentence by sentence, as a streamed model would, so TTS can start on the first one
        for sentence in re.findall(r"[^.!?]+[.!?]?", self.reply_for(transcript)):
            if sentence.strip():
                yield sentence.strip() + " "
