"""The conditions mixed into real tracks' frames, offline: SNR, placement, pauses, echo."""

from __future__ import annotations

import asyncio

import numpy as np

from voicedesk.media.conditions import Conditions, EchoSpec, InsertSpec, NoiseSpec
from voicedesk.media.conditions import noise as noises
from voicedesk.media.conditions.mixer import ConditionedTrack
from voicedesk.media.conditions.pauses import join
from voicedesk.media.conditions.sounds import SOUNDS
from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE, frame_to_mono
from voicedesk.media.tracks import QueuedAudioTrack


def speechlike(seconds: float, seed: int = 1) -> np.ndarray:
    """A 300 Hz buzz with a syllable rhythm (4 Hz) at about -20 dBFS."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    buzz = sum(np.sin(2 * np.pi * 300 * k * t) / k for k in range(1, 6))
    return (0.08 * buzz * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


async def pull(track: ConditionedTrack, frames: int, on_frame=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = []
    for i in range(frames):
        out.append(frame_to_mono(await track.recv()))
        if on_frame is not None:
            on_frame(i)
    return np.concatenate(out)


def test_noise_is_mixed_at_the_asked_snr() -> None:
    async def main() -> tuple[np.ndarray, ConditionedTrack]:
        source = QueuedAudioTrack()
        speech = speechlike(1.0)
        source.enqueue(np.zeros(SAMPLE_RATE // 2, np.float32))
        source.enqueue(speech)
        conditions = Conditions(noise=NoiseSpec("pink", 10.0), seed=3)
        track = ConditionedTrack(source, conditions, noise_loop=noises.pink(3), speech_rms=noises.active_rms(speech))
        return await pull(track, 75), track

    sent, track = asyncio.run(main())
    noise_power = np.mean(sent[: SAMPLE_RATE // 2].astype(np.float64) ** 2)
    mix_power = np.mean(sent[SAMPLE_RATE // 2 : SAMPLE_RATE * 3 // 2].astype(np.float64) ** 2)
    measured = 10 * np.log10((mix_power - noise_power) / noise_power)
    assert abs(measured - 10.0) < 1.0, measured
    assert abs(track.report()["noise"]["snr_db_sent"] - 10.0) < 0.5


def test_an_insert_goes_at_the_sample_asked() -> None:
    async def main() -> tuple[np.ndarray, dict]:
        track = ConditionedTrack(
            QueuedAudioTrack(),
            Conditions(inserts=(InsertSpec("knock", 330.0),)),
            insert_clips={"knock": SOUNDS["knock"](0)},
        )

        def on_frame(i: int) -> None:
            if i == 10:  # the agent starts speaking: its audio arrives after the 11th frame went
                track.received(speechlike(0.02))

        sent = await pull(track, 60, on_frame)
        return sent, track.report()

    sent, report = asyncio.run(main())
    placed = report["backchannels"][0]
    assert placed["late_ms"] == 0.0 and placed["asked_ms"] == placed["agent_onset_ms"] + 330.0
    loud = np.nonzero(np.abs(sent) > 1e-4)[0]
    assert abs(loud[0] / SAMPLE_RATE * 1000 - placed["placed_ms"]) < 1.0


def test_echo_trails_what_arrived_by_its_delay_and_says_when_nothing_came() -> None:
    async def main(feed: bool) -> tuple[np.ndarray, dict]:
        track = ConditionedTrack(QueuedAudioTrack(), Conditions(echo=EchoSpec(200.0, 6.0)))
        tone = (0.5 * np.sin(2 * np.pi * 500 * np.arange(FRAME_SAMPLES) / SAMPLE_RATE)).astype(np.float32)

        def on_frame(i: int) -> None:
            if feed and 5 <= i < 30:
                track.received(tone)

        return await pull(track, 50, on_frame), track.report()

    sent, _ = asyncio.run(main(True))
    first = np.nonzero(np.abs(sent) > 1e-3)[0][0] / SAMPLE_RATE * 1000
    assert 5 * 20 + 200 - 20 <= first <= 5 * 20 + 200 + 40, first  # arrival + delay, ±a frame
    assert abs(np.max(np.abs(sent)) - 0.5 * 10 ** (-6 / 20)) < 0.01  # erl_db
    _, nothing = asyncio.run(main(False))
    assert nothing["echo"]["note"].startswith("nothing received yet")


def test_a_pause_is_the_silence_asked_between_the_halves() -> None:
    a, b = speechlike(0.4), speechlike(0.3, 2)
    padded = np.concatenate((np.zeros(2400, np.float32), a, np.zeros(4800, np.float32)))
    joined, first_end, second_start = join(padded, b, 420.0)
    assert second_start - first_end == int(0.42 * SAMPLE_RATE)
    assert not np.any(joined[first_end:second_start])
    assert abs(first_end - a.size) <= 2  # the half's own silence was trimmed, to the sample


def test_the_same_seed_makes_the_same_noise() -> None:
    assert np.array_equal(noises.white(5), noises.white(5))
    assert not np.array_equal(noises.pink(5), noises.pink(6))
    for name, make in SOUNDS.items():
        clip = make(0)
        assert 0.1 < clip.size / SAMPLE_RATE < 1.5, name
