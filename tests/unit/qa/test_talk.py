"""qa/talk.py: utterances encoded once, reply onsets read from packets by each method."""

import asyncio
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from voicedesk.errors import ConfigError
from voicedesk.media.pcm import FRAME_SAMPLES, mono_to_frame
from voicedesk.qa.load import LoadPlan
from voicedesk.qa.talk import (
    SILENT_OPUS,
    SPEECH_DBOV,
    OnsetDetector,
    TalkingTrack,
    Utterances,
    parse_utterance,
)
from voicedesk.rtc import aiortc_patches


def _packet(payload: bytes, level: int | None = None) -> av.Packet:
    packet = av.Packet(payload)
    packet.pts, packet.time_base = 0, Fraction(1, 48000)
    aiortc_patches.set_packet_audio_level(packet, level)
    return packet


def test_an_utterance_is_encoded_once_with_a_level_per_packet():
    tone = Utterances.get("tone:700/0.4")
    assert Utterances.get("tone:700/0.4") is tone  # cached: no per-call encoding
    assert len(tone.opus) == len(tone.levels) == 20  # 0.4 s of 20 ms packets
    assert all(level > SPEECH_DBOV for level in tone.levels[1:-1])  # the tone (30 % of full scale): ~ -13 dBov
    assert -20 < tone.levels[10] < -8
    assert len(SILENT_OPUS) <= 10  # coded digital silence: the opus-size method's premise


def test_bad_utterances_are_one_line_errors():
    with pytest.raises(ConfigError, match="tone:HZ"):
        parse_utterance("tone:abc")
    with pytest.raises(ConfigError, match="20–20000 Hz"):
        parse_utterance("tone:5")
    with pytest.raises(ConfigError, match="--onset: expected one of auto"):
        LoadPlan("embedded:echo", calls=1, onset="magic").check()
    with pytest.raises(ConfigError, match="either utterances"):
        LoadPlan("embedded:echo", calls=1, say=("hi",), scenario="x.yaml").check()


@pytest.mark.parametrize("method", ["auto", "audio-level", "opus-size", "decoded"])
def test_each_method_tells_speech_from_silence(method):
    tone = Utterances.get("tone:700/0.4")
    detector = OnsetDetector(method)
    speech = _packet(tone.opus[10], tone.levels[10])
    assert detector.is_speech(speech)
    # a decoder rings for a frame or two after sound stops (as a decoded recording shows): the silence is
    # silent once it has settled
    said = [detector.is_speech(_packet(SILENT_OPUS, -127)) for _ in range(4)]
    assert not said[-1] and (method == "decoded" or not any(said))
    assert detector.method == ("audio-level" if method == "auto" else method)
    assert (detector.decoded > 0) == (method == "decoded")  # only the decoded method decodes


def test_without_a_level_auto_reads_the_opus_size_and_a_frame_is_measured():
    tone = Utterances.get("tone:700/0.4")
    detector = OnsetDetector("auto")
    assert detector.is_speech(_packet(tone.opus[10])) and detector.method == "opus-size"
    assert not detector.is_speech(_packet(SILENT_OPUS))
    frame = mono_to_frame(np.full(FRAME_SAMPLES, 0.1, dtype=np.float32), 0)
    assert detector.is_speech(frame) and detector.method == "decoded"
    assert detector.decoded == 0


def test_the_reply_starts_at_the_first_speech_after_listening_began():
    tone = Utterances.get("tone:700/0.4")
    detector = OnsetDetector()
    detector.feed(_packet(tone.opus[5], tone.levels[5]), 1.0)  # before the turn: not its reply
    detector.listen_from(2.0)
    detector.feed(_packet(SILENT_OPUS, -127), 2.1)
    assert detector.reply_start is None and not detector.onset.is_set()
    for t in (2.5, 2.52, 2.54):
        detector.feed(_packet(tone.opus[5], tone.levels[5]), t)
    assert detector.reply_start == 2.5 and detector.last_voiced == 2.54 and detector.onset.is_set()


async def test_the_talking_track_says_when_the_utterance_went_out():
    tone = Utterances.get("tone:700/0.4")
    track = TalkingTrack()
    sent: list[tuple[float, av.Packet]] = []

    async def pump() -> None:
        while True:
            packet = await track.recv()
            sent.append((time.monotonic(), packet))

    reader = asyncio.get_running_loop().create_task(pump())
    try:
        await asyncio.sleep(0.1)  # silence first
        start, end = await asyncio.wait_for(track.say(tone), 5)
    finally:
        reader.cancel()
        track.stop()
    voiced = [(t, p) for t, p in sent if aiortc_patches.packet_audio_level(p) > SPEECH_DBOV]
    assert len(voiced) >= 18  # the tone's packets, bar its fades
    assert abs(start - voiced[0][0]) < 0.005
    assert abs(end - (voiced[-1][0] + 0.02)) < 0.005  # the end of its last voiced packet
    assert 0.3 < end - start < 0.5
    assert all(bytes(p) == SILENT_OPUS for _, p in sent[: len(sent) - len(tone.opus)][:3])


class _Agent:
    """A scripted far end: replies REPLY_AFTER s after each utterance ends, for REPLY_FOR s, and stops
    STOPS_AFTER s after being talked over; feeds the detector as received packets would."""

    REPLY_AFTER, REPLY_FOR, STOPS_AFTER = 0.15, 0.6, 0.06

    def __init__(self, detector: OnsetDetector) -> None:
        self.detector = detector
        self.talking_until = 0.0
        self.said: list[str] = []

    async def say(self, utterance) -> tuple[float, float]:  # the TalkingTrack's part
        start = time.monotonic()
        if start < self.talking_until:  # talked over: the agent stops soon
            self.talking_until = start + self.STOPS_AFTER
        self.said.append(utterance.spec)
        await asyncio.sleep(utterance.seconds)
        end = time.monotonic()
        asyncio.get_running_loop().call_later(self.REPLY_AFTER, self._reply)  # it answers whatever it heard
        return start, end

    def _reply(self) -> None:
        self.talking_until = time.monotonic() + self.REPLY_FOR

    async def run(self) -> None:
        loud = _packet(Utterances.get("tone:700/0.4").opus[10], -13)
        while True:
            if time.monotonic() < self.talking_until:
                self.detector.feed(loud, time.monotonic())
            await asyncio.sleep(0.02)


async def _converse(monkeypatch, seconds, barge_in_ms=None):
    from voicedesk.qa import talk
    from voicedesk.qa.talk import converse

    monkeypatch.setattr(talk, "REPLY_HANG_S", 0.25)  # a shorter pause ends a reply: a quicker test
    detector = OnsetDetector()
    agent = _Agent(detector)
    feeder = asyncio.get_running_loop().create_task(agent.run())
    try:
        turns = await converse(
            agent,  # type: ignore[arg-type]
            detector,
            [Utterances.get("tone:500/0.2"), Utterances.get("tone:900/0.2")],
            until=time.monotonic() + seconds,
            reply_timeout=3.0,
            pause=0.05,
            ended=lambda: False,
            on_turn=lambda turn: None,
            barge_in_ms=barge_in_ms,
        )
    finally:
        feeder.cancel()
    return turns, agent


async def test_a_conversation_measures_every_turn_from_the_packets(monkeypatch):
    turns, agent = await _converse(monkeypatch, 2.0)
    assert len(turns) >= 2 and all(t.replied and t.method == "audio-level" for t in turns)
    for turn in turns:
        # the agent's 150 ms and 600 ms, to a 20 ms packet (wide: a loaded machine wakes the loop late)
        assert 120 <= turn.voice_to_voice_ms <= 600
        assert 500 <= turn.reply_ms <= 1000
    assert agent.said[:2] == ["tone:500/0.2", "tone:900/0.2"]


async def test_talking_over_a_reply_measures_how_long_the_agent_went_on(monkeypatch):
    turns, agent = await _converse(monkeypatch, 2.6, barge_in_ms=200)
    turn = turns[0]
    assert turn.replied and turn.barge_in_stop_ms is not None
    # the agent stops 60 ms after being talked over; had it not, it would have gone on 400 ms more
    assert 30 <= turn.barge_in_stop_ms < 350
    assert agent.said[:3] == ["tone:500/0.2", "tone:900/0.2", "tone:500/0.2"]  # the next turn starts afresh
