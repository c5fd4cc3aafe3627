"""The speech engines on their own (real espeak-ng and pocketsphinx), and the turn observer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.speech import agent_recognizer_settings, speak
from voicedesk.agent.conversation import TurnObserver
from voicedesk.agent.frames import (
    AgentStartedSpeakingFrame,
    AgentStoppedSpeakingFrame,
    EndFrame,
    FinalTranscriptFrame,
    FrameDirection,
    InterruptionFrame,
    ResponseEndedFrame,
    ResponseStartedFrame,
    ResponseTextFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    StartFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.errors import PipelineError
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.speech.stt import PocketsphinxRecognizer, SttSettings, normalize, transcribe
from voicedesk.speech.tts import find_tts


def test_espeak_speaks_for_a_plausible_time() -> None:
    engine = find_tts()
    pcm = engine.synthesize("The weather is sunny and warm today.")
    seconds = pcm.size / engine.sample_rate
    assert 1.5 < seconds < 5.0
    assert np.abs(pcm).max() > 3000


def test_missing_espeak_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("VOICEDESK_ESPEAK_LIBRARY", str(tmp_path / "nothing.so"))
    with pytest.raises(PipelineError, match=r"apt-get install espeak-ng.*pip install espeakng-loader"):
        find_tts()


def test_a_voice_espeak_lacks_is_one_line_not_the_end_of_the_process() -> None:
    # the espeakng-loader build exits the whole process on a name it lacks (it has en-gb-x-rp,
    # not en-gb); a server started with ``-o voice=en-gb`` died without a word before the check
    pytest.importorskip("espeakng_loader")
    with pytest.raises(PipelineError, match=r"espeak-ng has no voice 'en-gb'; e\.g\. en-us"):
        find_tts("en-gb")
    assert find_tts("en-us").synthesize("yes").size > 0  # and the process goes on speaking


def test_constrained_recognizer_gets_in_domain_speech_right() -> None:
    text = transcribe(speak("what is the weather today"), SAMPLE_RATE, agent_recognizer_settings())
    assert "weather" in text


def test_open_vocabulary_recognizer_runs() -> None:
    text = transcribe(speak("thank you"), SAMPLE_RATE, SttSettings(mode="open"))
    assert isinstance(text, str)  # accuracy is poor on synthetic speech: see the README's figures


def test_normalize() -> None:
    assert normalize("Hello, World!  It's 5.") == "hello world it's 5"


async def test_recognizer_worker_process_streams_an_utterance() -> None:
    recognizer = PocketsphinxRecognizer(agent_recognizer_settings())
    await recognizer.start()
    try:
        samples = np.concatenate([np.zeros(4800, np.float32), speak("what time is it"), np.zeros(9600, np.float32)])
        await recognizer.begin(SAMPLE_RATE)
        for i in range(0, samples.size, 4800):
            await recognizer.feed(samples[i : i + 4800], want_partial=True)
        text = await recognizer.finish()
        pid = recognizer._process.pid if recognizer._process else None
    finally:
        await recognizer.close()
    assert "time" in text
    assert pid is not None and recognizer._process is None


class _Stage(FrameProcessor):
    pass


def test_turn_observer_times_a_turn_and_a_barge_in() -> None:
    events: list[dict] = []
    observer = TurnObserver(events.append)
    src = _Stage("vad")

    def push(frame) -> None:  # type: ignore[no-untyped-def]
        observer.on_push(src, None, frame, FrameDirection.DOWNSTREAM)

    start = StartFrame(at=100.0)
    push(start)
    started = SpeechStartedFrame(onset=101.0, at=101.06)
    push(started)
    push(started)  # the same frame passing the next processor
    push(SpeechStoppedFrame(offset=102.0, at=102.5))
    push(FinalTranscriptFrame(text="what can you do", at=102.6))
    push(ResponseStartedFrame(transcript="what can you do", at=102.61))
    push(ResponseTextFrame(text="I can tell you my name.", at=102.62))
    push(ResponseEndedFrame(at=102.63))
    push(AgentStartedSpeakingFrame(at=102.7))
    push(SpeechStartedFrame(onset=103.9, at=104.0))
    push(InterruptionFrame(at=104.0))
    push(AgentStoppedSpeakingFrame(interrupted=True, at=104.01))
    push(EndFrame(at=106.0))

    turns = [e for e in events if e["type"] == "turn"]
    assert [t["turn"] for t in turns] == [1, 2]
    first = turns[0]
    assert first["transcript"] == "what can you do" and first["interrupted"] is True
    assert first["timings_ms"]["speech_ended"] == pytest.approx(2000.0)
    assert first["latency_ms"]["voice_to_voice"] == pytest.approx(700.0)
    assert first["latency_ms"]["transcription"] == pytest.approx(100.0)
    assert first["latency_ms"]["barge_in"] == pytest.approx(10.0)
    assert [e["type"] for e in events if e["type"] == "barge_in"] == ["barge_in"]
    # a frame seen at several processors counts once
    assert len([e for e in events if e["type"] == "speech_started"]) == 2


async def test_recognizer_also_runs_under_multiprocessing(monkeypatch: pytest.MonkeyPatch) -> None:
    # the form a frozen (PyInstaller) app uses, where there is no "python -c"
    monkeypatch.setenv("VOICEDESK_STT_WORKER", "multiprocessing")
    recognizer = PocketsphinxRecognizer(agent_recognizer_settings())
    await recognizer.start()
    try:
        await recognizer.begin(SAMPLE_RATE)
        await recognizer.feed(np.concatenate([speak("testing one two three"), np.zeros(9600, np.float32)]))
        text = await recognizer.finish()
        process = recognizer._mp[0] if recognizer._mp else None
    finally:
        await recognizer.close()
    assert "testing" in text or "three" in text
    assert process is not None and not process.is_alive()


def test_say_source_speaks_then_stays_silent() -> None:
    from voicedesk.errors import ConfigError
    from voicedesk.media.sources import parse_source

    with pytest.raises(ConfigError, match="give the words"):
        parse_source("say:  ")
    track = parse_source("say:hello|goodbye")
    seconds = track.queued_samples / SAMPLE_RATE
    assert 5.0 < seconds < 7.0  # 0.5 s lead, two words, 4 s between them
    assert not track.speaking
