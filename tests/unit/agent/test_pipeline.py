"""Frame pipeline semantics, with the processor harness (tests/helpers/pipeline.py)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tests.helpers.pipeline import ProcessorHarness
from voicedesk.agent.engines.responder import RuleResponder
from voicedesk.agent.frames import (
    AudioInFrame,
    ControlFrame,
    ErrorFrame,
    FinalTranscriptFrame,
    Frame,
    FrameDirection,
    FrameKind,
    InterruptionFrame,
    ResponseEndedFrame,
    ResponseStartedFrame,
    ResponseTextFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    StartFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.agent.processors.responder import ResponderProcessor
from voicedesk.agent.processors.vad import VADProcessor
from voicedesk.agent.registry import parse_agent_options
from voicedesk.agent.voice_agents import VoiceAgent
from voicedesk.errors import ConfigError
from voicedesk.speech.vad import EnergyVad


class Slow(FrameProcessor):
    """Takes a while over each text frame, like a service streaming a reply."""

    def __init__(self) -> None:
        super().__init__("slow")
        self.started: list[str] = []
        self.finished: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, ResponseTextFrame):
            self.started.append(frame.text)
            await asyncio.sleep(0.3)
            self.finished.append(frame.text)
        await super().process_frame(frame, direction)


class Broken(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, ResponseTextFrame) and frame.text == "boom":
            raise ValueError("bad text")
        await super().process_frame(frame, direction)


def test_frame_kinds_follow_pipecat() -> None:
    assert AudioInFrame(samples=np.zeros(960, np.float32)).kind is FrameKind.SYSTEM
    assert InterruptionFrame().kind is FrameKind.SYSTEM
    assert ResponseTextFrame(text="x").kind is FrameKind.DATA
    assert isinstance(ResponseEndedFrame(), ControlFrame)
    assert ResponseTextFrame(text="a").id != ResponseTextFrame(text="a").id


async def test_frames_pass_through_in_order_and_observers_see_each_push() -> None:
    async with ProcessorHarness(FrameProcessor("a"), FrameProcessor("b")) as h:
        for text in ("one", "two", "three"):
            await h.send(ResponseTextFrame(text=text))
        await h.wait_for(ResponseTextFrame, count=3)
    assert [f.text for f in h.of_type(ResponseTextFrame)] == ["one", "two", "three"]
    assert isinstance(h.frames[0], StartFrame)
    hops = [(src, dst) for src, dst, f in h.recorder.pushes if isinstance(f, ResponseTextFrame) and f.text == "one"]
    assert hops == [("a", "b"), ("b", "collector"), ("collector", None)]


async def test_interruption_drops_queued_data_cancels_the_frame_in_hand_and_keeps_control() -> None:
    slow = Slow()
    async with ProcessorHarness(slow) as h:
        for text in ("first", "second", "third"):
            await h.send(ResponseTextFrame(text=text))
        await h.send(ResponseEndedFrame())
        await h.settle(0.1)
        await h.send(InterruptionFrame())  # system: handled at once, ahead of the queue
        await h.wait_for(ResponseEndedFrame)
        await h.send(ResponseTextFrame(text="after"))
        await h.wait_for(ResponseTextFrame)
    assert slow.started == ["first", "after"]
    assert slow.finished == ["after"]
    assert [f.text for f in h.of_type(ResponseTextFrame)] == ["after"]
    # the interruption overtook the queued frames
    names = [type(f).__name__ for f in h.frames if not isinstance(f, StartFrame)]
    assert names.index("InterruptionFrame") < names.index("ResponseEndedFrame")


async def test_an_exception_becomes_an_error_frame_and_the_pipeline_goes_on() -> None:
    async with ProcessorHarness(Broken()) as h:
        await h.send(ResponseTextFrame(text="boom"))
        error = await h.wait_for(ErrorFrame)
        await h.send(ResponseTextFrame(text="fine"))
        await h.wait_for(ResponseTextFrame)
    assert "bad text" in error.message and error.source == "Broken" and not error.fatal
    assert h.pipeline.errors == [error]


async def test_stop_cancels_every_task() -> None:
    h = ProcessorHarness(Slow())
    await h.__aenter__()
    await h.send(ResponseTextFrame(text="long"))
    tasks = set(h.pipeline.tasks)
    assert tasks and all(t.get_name().startswith("harness/") for t in tasks)
    await h.__aexit__(None, None, None)
    assert all(t.done() for t in tasks)
    assert not h.pipeline.tasks


def _block(level: float) -> AudioInFrame:
    return AudioInFrame(samples=np.full(960, level, dtype=np.float32))


async def test_vad_reports_speech_with_onset_and_offset_and_interrupts() -> None:
    vad = VADProcessor(EnergyVad(-40.0), stop_ms=200)
    async with ProcessorHarness(vad) as h:
        for level in [0.0] * 5 + [0.3] * 20 + [0.0] * 15:
            await h.send(_block(level))
        stopped = await h.wait_for(SpeechStoppedFrame)
    started = h.of_type(SpeechStartedFrame)
    assert len(started) == 1 and h.of_type(InterruptionFrame)
    assert started[0].onset < started[0].at  # the onset predates the detection
    assert stopped.offset < stopped.at


async def test_rule_responder_streams_sentences_and_ignores_empty_transcripts() -> None:
    async with ProcessorHarness(ResponderProcessor(RuleResponder())) as h:
        await h.send(FinalTranscriptFrame(text=""))
        await h.send(FinalTranscriptFrame(text="hello what is your name"))
        await h.wait_for(ResponseEndedFrame)
    assert len(h.of_type(ResponseStartedFrame)) == 1
    text = "".join(f.text for f in h.of_type(ResponseTextFrame))
    assert text.strip() == "My name is Voice Desk. I am a test agent."
    assert len(h.of_type(ResponseTextFrame)) == 2  # sentence by sentence


def test_rule_responder_repeats_what_it_heard_when_unsure() -> None:
    responder = RuleResponder()
    assert responder.reply_for("purple elephants") == "I am not sure. I heard you say: purple elephants."
    assert responder.reply_for("thank you") == "You are welcome."
    assert "weather" in " ".join(responder.phrases())


def test_agent_options_are_checked() -> None:
    assert parse_agent_options(["delay=500", "stt = open"]) == {"delay": "500", "stt": "open"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_agent_options(["delay"])
    with pytest.raises(ConfigError, match="no option colour"):
        VoiceAgent({"colour": "red"})
    with pytest.raises(ConfigError, match="unknown stt 'psychic': use constrained, open or whisper"):
        VoiceAgent.preflight({"stt": "psychic"})
    with pytest.raises(ConfigError, match="unknown responder"):
        VoiceAgent.preflight({"responder": "oracle"})


class ScriptedRecognizer:
    """A Recognizer (engines/stt.py protocol) that counts the audio it is given."""

    def __init__(self) -> None:
        self.fed_samples = 0
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def begin(self, input_rate: int) -> None:
        self.calls.append("begin")

    async def feed(self, samples: np.ndarray, want_partial: bool = False) -> str | None:
        self.fed_samples += samples.size
        return "partial words" if want_partial else None

    async def finish(self) -> str:
        self.calls.append("finish")
        return "final words"

    async def close(self) -> None:
        self.calls.append("close")


async def test_stt_feeds_the_utterance_but_not_the_vad_hang_over() -> None:
    from voicedesk.agent.frames import PartialTranscriptFrame
    from voicedesk.agent.processors.stt import STTProcessor
    from voicedesk.speech.stt import SttSettings

    recognizer = ScriptedRecognizer()
    stt = STTProcessor(SttSettings(), recognizer=recognizer, preroll_s=0.3, holdback_s=0.4, tail_s=0.15)
    t0 = 1000.0

    def frame(i: int) -> AudioInFrame:  # frame i arrives at t0 + (i + 1) * 20 ms
        return AudioInFrame(samples=np.full(960, 0.1, np.float32), at=t0 + (i + 1) * 0.02)

    async with ProcessorHarness(stt) as h:
        for i in range(50):  # 1 s before the speech: only the pre-roll of it is used
            await h.send(frame(i))
        await h.send(SpeechStartedFrame(onset=t0 + 1.0, at=t0 + 1.06))
        for i in range(50, 150):  # 2 s of speech, then 0.5 s of hang-over silence
            await h.send(frame(i))
        for i in range(150, 175):
            await h.send(frame(i))
        await h.send(SpeechStoppedFrame(offset=t0 + 3.0, at=t0 + 3.5))
        final = await h.wait_for(FinalTranscriptFrame)
    assert final.text == "final words"
    assert h.of_type(PartialTranscriptFrame)
    fed_s = recognizer.fed_samples / 48_000
    # pre-roll (0.3 s) + speech (2 s) + tail (0.15 s), give or take a frame; never the 0.5 s hang-over
    assert 2.4 <= fed_s <= 2.5, fed_s
    assert recognizer.calls == ["start", "begin", "finish", "close"]


async def test_vad_ends_a_turn_whose_audio_stops_coming() -> None:
    vad = VADProcessor(EnergyVad(-40.0), stop_ms=200)
    async with ProcessorHarness(vad) as h:
        for level in [0.0] * 5 + [0.3] * 20:  # speech, then no frames at all (a caller that stopped sending)
            await h.send(_block(level))
        await h.wait_for(SpeechStartedFrame)
        last_frame_at = time.monotonic()
        stopped = await h.wait_for(SpeechStoppedFrame, within_s=2.0)
        waited = time.monotonic() - last_frame_at
    assert len(h.of_type(SpeechStoppedFrame)) == 1
    assert 0.15 < waited < 0.5  # stop_ms of missing audio (checked every 0.1 s), as of silence
    assert stopped.offset <= last_frame_at
