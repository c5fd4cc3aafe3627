"""The constrained recognizer's phrases for a target; the transcription of replies itself
lives in rtc/transcription.py (any call runs it: ``CallSpec.transcribe``), imported from
here as before.
"""

from __future__ import annotations

import contextlib

from voicedesk.rtc.transcription import (  # noqa: F401  (their home before the move)
    CallTranscription,
    ReplyTranscriber,
    Segment,
)


def recognizer_phrases(extra: tuple[str, ...] = (), target: str = "") -> tuple[str, ...]:
    """The constrained recognizer's phrases: a small vocabulary, ``extra`` (a scenario's
    words) and, for the embedded agents, their own replies."""
    from voicedesk.speech.stt import SMALL_VOCABULARY

    phrases = tuple(SMALL_VOCABULARY) + tuple(extra)
    if target.startswith(("embedded:", "embedded+http:")):
        # the embedded agents' own replies: what their transcripts should be recognized as
        with contextlib.suppress(ImportError):
            from voicedesk.agent.engines.responder import INTENTS, NOTHING_HEARD_REPLY

            phrases += (*(i.reply for i in INTENTS), NOTHING_HEARD_REPLY)
    return phrases
