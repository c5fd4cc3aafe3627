"""The caller's decisions and the judge's answers, without a call."""

from __future__ import annotations

import random

import numpy as np
import pytest

from voicedesk.qa.caller import RuleBrain, condition_holds
from voicedesk.qa.caller_spec import Condition
from voicedesk.qa.judge import read_verdict, transcript_text
from voicedesk.qa.scenario import parse_scenarios

RULES = """\
target: embedded:voice
caller:
  rules:
    - when: {contains: account number}
      say: 4 5 7 2
    - when: {silent: true}
      say: hello are you there
    - when: {after: 4}
      hangup: true
  otherwise: [pardon, say again, sorry what]
"""


async def test_rules_match_in_order_and_otherwise_is_picked_by_the_seed():
    [s] = parse_scenarios(RULES, "r.yaml")
    brain = RuleBrain(s.caller, random.Random(1))
    said = await brain.decide("What is your Account-Number, please?", 1)
    assert (said.say, said.why) == ("4 5 7 2", "rule at line 4")
    assert (await brain.decide(None, 2)).say == "hello are you there"
    assert (await brain.decide("the weather is sunny", 4)).hangup is True
    picks = [(await RuleBrain(s.caller, random.Random(9)).decide("hmm", 2)).say for _ in range(3)]
    assert len(set(picks)) == 1  # the same seed, the same choice
    seen = {(await RuleBrain(s.caller, random.Random(seed)).decide("hmm", 2)).say for seed in range(30)}
    assert seen == {"pardon", "say again", "sorry what"}


@pytest.mark.parametrize(
    ("when", "heard", "turn", "holds"),
    [
        (Condition(contains=("sunny",)), "It is SUNNY today.", 1, True),
        (Condition(contains=("rain", "snow")), "sunny", 1, False),
        (Condition(matches=r"\bcard\b"), "your card is blocked", 1, True),
        (Condition(after=3), "anything", 2, False),
        (Condition(after=3), "anything", 3, True),
        (Condition(silent=True), "", 1, True),
        (Condition(silent=False), None, 1, False),
    ],
)
def test_conditions(when, heard, turn, holds):
    assert condition_holds(when, heard, turn) is holds


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ('{"pass": true, "reason": "it was polite"}', (True, "it was polite")),
        ('```json\n{"pass": false, "reason": "rude"}\n```', (False, "rude")),
        ("PASS: the agent greeted", (True, "the agent greeted")),
        ("fail - no greeting", (False, "no greeting")),
        ('{"pass": "maybe"}', None),
        ("I think so", None),
    ],
)
def test_the_judges_answer_is_read_or_refused(answer, verdict):
    assert read_verdict(answer) == verdict


def test_the_judge_reads_the_conversation_in_order():
    conversation = {"turns": [{"heard": None, "said": "hi"}, {"heard": "Hello, how can I help?", "said": "bye"}]}
    assert transcript_text([], conversation) == "Caller: hi\nAgent: Hello, how can I help?\nCaller: bye"
    turns = [{"said": "'hi'", "transcript": "hello", "agent": {"response": "Hello."}}]
    assert transcript_text(turns, None) == "Caller: 'hi'\nAgent: Hello."


def test_the_caller_hears_the_end_of_a_reply_from_voicedesk_reports_and_from_the_conversation_model():
    import time

    from voicedesk.qa.caller import AgentEars
    from voicedesk.rtc.events import AgentEventReceived
    from voicedesk.rtc.events.model import Speaker, SpeechStarted, SpeechStopped, TranscriptReceived

    since = time.monotonic()
    ours = AgentEars()
    ours(AgentEventReceived({"type": "audio_out_started", "turn": 1}, 1.0))
    assert ours.talking() is True and not ours.reply_done(since)
    ours(AgentEventReceived({"type": "audio_out_stopped", "turn": 1}, 2.0))  # a pause between sentences
    assert not ours.reply_done(since)
    ours(AgentEventReceived({"type": "turn", "turn": 1, "response": "It is sunny."}, 3.0))
    assert ours.reply_done(since) and ours.reply_text(since) == "It is sunny." and ours.talking() is False

    # RTVI (pipecat): the same sentence on three channels, then the bot stops speaking
    rtvi = AgentEars()
    rtvi(AgentEventReceived({"type": "bot-started-speaking"}, 1.0, "rtvi"))
    base = {"protocol": "rtvi", "who": Speaker.AGENT}
    rtvi(SpeechStarted(t_ms=1.0, type="bot-started-speaking", **base))
    for channel in ("bot-transcription", "bot-tts-text", "bot-output"):
        rtvi(TranscriptReceived(t_ms=2.0, type=channel, text="It is sunny.", channel=channel, **base))
    assert rtvi.talking() is True and not rtvi.reply_done(since)
    rtvi(SpeechStopped(t_ms=3.0, type="bot-stopped-speaking", **base))
    assert rtvi.reply_done(since) and rtvi.reply_text(since) == "It is sunny."
    # the caller's own words in the model are not the agent's
    rtvi(TranscriptReceived(t_ms=4.0, type="user-transcription", text="thanks", protocol="rtvi", who=Speaker.CALLER))
    assert rtvi.reply_text(since) == "It is sunny."


class PieceHearing:
    """A recognizer stand-in: each streamed piece is "piece N", and every sample fed is kept."""

    name = "pieces"

    def __init__(self) -> None:
        self.pieces: list[list[np.ndarray]] = []
        self.whole: list[int] = []

    async def start(self) -> None:
        pass

    async def transcribe(self, audio: np.ndarray) -> str:
        self.whole.append(audio.size)
        return "whole"

    async def stream(self) -> PieceHearing.Stream:
        self.pieces.append([])
        return PieceHearing.Stream(self, len(self.pieces))

    async def close(self) -> None:
        pass

    class Stream:
        def __init__(self, hearing: PieceHearing, n: int) -> None:
            self.hearing, self.n = hearing, n

        async def feed(self, audio: np.ndarray) -> None:
            self.hearing.pieces[self.n - 1].append(audio.copy())

        async def finish(self) -> str:
            return f"piece {self.n}"

        async def cancel(self) -> None:
            pass


async def test_a_reply_heard_from_audio_is_streamed_in_pieces_and_ends_at_a_long_silence():
    """Two bursts with a pause between (longer than a piece's, shorter than a reply's end): two pieces
    recognized as they end, joined as one reply, each fed once with no gap inside it."""
    import asyncio
    import time
    from types import SimpleNamespace

    from voicedesk.media.pcm import SAMPLE_RATE
    from voicedesk.qa.caller import GUESS_HANG_MS, REPLY_END_MS, ConversationTurn, SimulatedCaller
    from voicedesk.qa.latency import TimedRecorder, Turn

    pause_s = (GUESS_HANG_MS + REPLY_END_MS) / 2000.0
    t = np.arange(int(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
    burst = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    noise = np.random.default_rng(1).normal(0, 1e-4, SAMPLE_RATE * 3).astype(np.float32)
    reply = np.concatenate([noise[: SAMPLE_RATE // 5], burst, noise[: int(pause_s * SAMPLE_RATE)], burst, noise])
    since = time.monotonic()
    # the recorder's clock counts samples: a loaded machine's late block does not stretch the audio's times
    rx = TimedRecorder(clock=lambda: since + rx.total / SAMPLE_RATE)
    [scenario] = parse_scenarios(RULES, "r.yaml")
    hearing = PieceHearing()
    caller = SimulatedCaller(SimpleNamespace(capture=SimpleNamespace(rx=rx)), scenario.caller, 0, hearing)
    caller._agent_ended = lambda: False  # type: ignore[method-assign]

    async def play() -> None:  # the received audio, in 20 ms blocks as it would arrive
        block, started = SAMPLE_RATE // 50, time.monotonic()
        for i in range(0, reply.size, block):
            await asyncio.sleep(max(0.0, started + i / SAMPLE_RATE - time.monotonic()))
            rx.write(reply[i : i + block])

    player = asyncio.ensure_future(play())
    entry, turn = ConversationTurn(2), Turn(index=1, said="", utterance_start=since, utterance_end=since)
    await caller._listen_to_audio(entry, turn, since, 5.0, hearing)
    player.cancel()
    assert entry.heard == "piece 1 piece 2" and entry.heard_from == "pieces" and turn.transcript == entry.heard
    assert hearing.whole == []  # nothing left to recognize when the reply ended
    # the reply: from the first burst's start to the second's end (not cut at the pause)
    assert turn.reply_start is not None and turn.reply_end is not None
    assert turn.reply_end - turn.reply_start == pytest.approx(0.8 + pause_s, abs=0.05)
    first, second = (np.concatenate(p) for p in hearing.pieces)
    # each piece holds its burst once, whole (fed by sample index: no gap, no overlap), and the quiet
    # around it (the pause's own fed again so a last word is not cut), not the other burst
    energy = float(np.sum(burst.astype(np.float64) ** 2))
    for piece in (first, second):
        assert float(np.sum(piece.astype(np.float64) ** 2)) == pytest.approx(energy, rel=0.02)
        assert burst.size < piece.size < burst.size + int((pause_s + 0.4) * SAMPLE_RATE)
