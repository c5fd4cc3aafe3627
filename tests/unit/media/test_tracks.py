import asyncio
import time

import numpy as np

from voicedesk.media.pcm import FRAME_SAMPLES
from voicedesk.media.tracks import FramePacer, QueuedAudioTrack


async def test_pacer_starts_at_the_first_frame_it_is_given_and_keeps_20_ms_after_it():
    loop = asyncio.get_running_loop()
    pacer = FramePacer()
    started = loop.time()
    await pacer.wait(50 * FRAME_SAMPLES)  # mid-stream: due at once, not a second from now
    assert loop.time() - started < 0.5
    await pacer.wait(52 * FRAME_SAMPLES)
    assert loop.time() - started >= 0.039


async def test_a_paced_track_does_not_drift_after_a_late_frame():
    loop = asyncio.get_running_loop()
    track = QueuedAudioTrack()
    first = await track.recv()
    started = loop.time()
    await asyncio.sleep(0.05)  # a stall: the frames it owes come at once, then 20 ms apart
    frames = [await track.recv() for _ in range(4)]
    assert [f.pts for f in frames] == [FRAME_SAMPLES * n for n in range(1, 5)]
    assert loop.time() - started >= 0.079
    assert first.pts == 0
    track.stop()


async def test_a_file_that_ends_goes_on_with_silence_unless_told_to_end(tmp_path):
    import numpy as np
    import pytest
    from aiortc.mediastreams import MediaStreamError

    from tests.helpers.speech import write_wav
    from voicedesk.media.pcm import frame_to_mono
    from voicedesk.media.sources import WavTrack

    path = write_wav(tmp_path / "short.wav", np.full(FRAME_SAMPLES * 2, 0.5, dtype=np.float32))
    track = WavTrack(path)
    levels = [float(np.abs(frame_to_mono(await track.recv())).max()) for _ in range(5)]
    assert levels[:2] == pytest.approx([0.5, 0.5], abs=1e-3) and levels[2:] == [0.0, 0.0, 0.0]
    assert track.played_out.is_set() and track.readyState == "live"

    ending = WavTrack(path, silence_after_end=False)
    await ending.recv()
    await ending.recv()
    assert not ending.played_out.is_set()
    with pytest.raises(MediaStreamError):
        await ending.recv()
    assert ending.played_out.is_set() and ending.readyState == "ended"


async def test_a_queued_clip_says_when_it_went_out_and_a_flush_cancels_the_rest() -> None:
    track = QueuedAudioTrack()
    first = track.enqueue(np.ones(1_440, dtype=np.float32))  # 30 ms: one frame and a half
    second = track.enqueue(np.ones(960, dtype=np.float32))
    empty = track.enqueue(np.zeros(0, dtype=np.float32))
    assert first is not None and second is not None and empty is not None and empty.done()
    before = time.monotonic()
    await track.recv()
    assert not first.done()  # 20 of its 30 ms have gone
    await track.recv()
    start, end = first.result()
    assert start >= before and 0.025 <= end - start < 1.0  # at least its 30 ms, however late the loop ran
    assert not second.done()  # 10 of its 20 ms went out with the end of the first clip
    assert track.flush() is True  # it was speaking: a barge-in
    assert second.cancelled() and track.queued_samples == 0
    track.stop()


def test_a_clip_queued_before_any_loop_runs_is_still_sent() -> None:
    track = QueuedAudioTrack()
    assert track.enqueue(np.ones(960, dtype=np.float32)) is None  # a say: source built before its call
    assert track.queued_samples == 960
