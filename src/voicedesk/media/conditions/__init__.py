"""Caller conditions mixed into what the caller sends, before encoding (one module each).

``spec`` holds the plain data every face fills (``Conditions``); ``noise``, ``echo``,
``inserts`` (backchannels, with ``sounds`` for the non-speech ones) and ``pauses`` make and
mix each condition; ``mixer.ConditionedTrack`` wraps the call's source and reports what it
inserted when, on the caller's clock; ``measure`` reads the robustness table from the levels
it kept and the agent's turn events. Speech (babble talkers, spoken backchannels, another
voice) comes from the layer above (rtc/conditions.py), which owns the TTS.
"""

from voicedesk.media.conditions.spec import (
    INSERT_KINDS,
    NOISE_KINDS,
    CallerVoice,
    Conditions,
    EchoSpec,
    InsertSpec,
    NoiseSpec,
)

__all__ = ["INSERT_KINDS", "NOISE_KINDS", "CallerVoice", "Conditions", "EchoSpec", "InsertSpec", "NoiseSpec"]
