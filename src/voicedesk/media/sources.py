"""Audio sources: aiortc tracks that produce paced 20 ms frames at 48 kHz.

Every source is a ``MediaStreamTrack`` so it can be handed to ``addTrack`` as is.
``parse_source`` turns the command line's ``tone:440`` / ``wav:PATH`` / ``silence``
into a track.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.errors import ConfigError, MediaError
from voicedesk.media.frames import FRAME_SAMPLES, SAMPLE_RATE, frame_to_mono, mono_to_frame

logger = logging.getLogger(__name__)

FrameObserver = Callable[[np.ndarray], None]


class PacedAudioTrack(MediaStreamTrack):
    """Base for generated audio: subclasses fill ``_next_block``; this paces it.

    Frame n is due at start + n * 20 ms on the loop's clock, so a late frame does
    not shift every later one (no drift), and a stall is followed by a catch-up
    rather than a permanent delay.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    def _next_block(self, count: int) -> np.ndarray:
        raise NotImplementedError

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._pts / SAMPLE_RATE
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        block = self._next_block(FRAME_SAMPLES)
        if block is None:
            self.stop()
            raise MediaStreamError
        frame = mono_to_frame(block, self._pts)
        self._pts += FRAME_SAMPLES
        return frame


class ToneTrack(PacedAudioTrack):
    """A steady sine at ``frequency`` Hz, ``amplitude`` of full scale."""

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.5) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._phase = 0.0

    def _next_block(self, count: int) -> np.ndarray:
        step = 2.0 * np.pi * self.frequency / SAMPLE_RATE
        phases = self._phase + step * np.arange(count)
        self._phase = float((self._phase + step * count) % (2.0 * np.pi))
        return (self.amplitude * np.sin(phases)).astype(np.float32)


class SilenceTrack(PacedAudioTrack):
    def _next_block(self, count: int) -> np.ndarray:
        return np.zeros(count, dtype=np.float32)


def load_audio_file(path: str | Path) -> np.ndarray:
    """Decode any file av can read to mono float32 at 48 kHz, or raise MediaError."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"cannot read audio file {path}: no such file")
    try:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        blocks: list[np.ndarray] = []
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"cannot read audio file {path}: it holds no audio stream")
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    blocks.append(frame_to_mono(out))
            for out in resampler.resample(None):
                blocks.append(frame_to_mono(out))
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"cannot read audio file {path}: {exc}") from exc
    if not blocks:
        raise MediaError(f"cannot read audio file {path}: it decodes to no samples")
    return np.concatenate(blocks)


class WavTrack(PacedAudioTrack):
    """Plays an audio file (any format av decodes); ends, or loops, at its end."""

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._samples = load_audio_file(self.path)
        self._pos = 0

    @property
    def duration_s(self) -> float:
        return self._samples.size / SAMPLE_RATE

    def _next_block(self, count: int) -> np.ndarray | None:
        if self._pos >= self._samples.size:
            if not self.loop:
                return None
            self._pos = 0
        block = self._samples[self._pos : self._pos + count]
        self._pos += count
        if block.size < count:
            if self.loop:
                self._pos = count - block.size
                block = np.concatenate((block, self._samples[: self._pos]))
            else:
                block = np.pad(block, (0, count - block.size))
        return block


class OutboundAudioTrack(MediaStreamTrack):
    """What the call sends: a source, plus mute and observers of the sent samples.

    Observers see exactly the samples handed to the encoder (silence while muted),
    so meters and waveforms show what went on the wire. Observers run on the
    event loop and must be cheap (copy into a ring buffer).
    """

    kind = "audio"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self.muted = False
        self.frames_sent = 0
        self.dtmf_sent = ""
        self._observers: list[FrameObserver] = []
        self._dtmf = np.zeros(0, dtype=np.float32)

    def add_observer(self, observer: FrameObserver) -> None:
        self._observers.append(observer)

    def send_dtmf(self, digits: str, tone_ms: float = 90.0, gap_ms: float = 70.0) -> float:
        """Queue in-band DTMF tones (Q.23); returns how many seconds they take to send.

        The tones replace the source's audio frame by frame (as a phone keypad
        does), also while muted: a key press is meant to be heard.
        """
        from voicedesk.media.dtmf import dtmf_samples, validate_digits

        tones = dtmf_samples(digits, tone_ms, gap_ms)
        self._dtmf = np.concatenate((self._dtmf, tones))
        self.dtmf_sent += validate_digits(digits)
        return self._dtmf.size / SAMPLE_RATE

    @property
    def dtmf_pending(self) -> bool:
        return self._dtmf.size > 0

    async def recv(self) -> av.AudioFrame:
        frame = await self.source.recv()
        samples = frame_to_mono(frame)
        if self._dtmf.size:
            tones, self._dtmf = self._dtmf[: samples.size], self._dtmf[samples.size :]
            samples = np.pad(tones, (0, samples.size - tones.size))
            frame = mono_to_frame(samples, frame.pts, frame.sample_rate)
        elif self.muted:
            samples = np.zeros_like(samples)
            frame = mono_to_frame(samples, frame.pts, frame.sample_rate)
        self.frames_sent += 1
        for observer in self._observers:
            observer(samples)
        return frame

    def stop(self) -> None:
        super().stop()
        self.source.stop()


def parse_source(spec: str, input_device: int | str | None = None) -> MediaStreamTrack:
    """``tone[:FREQ]``, ``silence``, ``wav:PATH`` (``wav+loop:PATH`` loops), ``mic[:DEVICE]``,
    ``say:TEXT[|TEXT…]`` (spoken by espeak-ng, one utterance every few seconds, then silence).

    ``mic`` captures ``input_device`` (index or name; the default device if None);
    ``mic:DEVICE`` names the device in the spec itself.
    """
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("mic", "microphone"):
        from voicedesk.media.devices import parse_device_spec
        from voicedesk.media.microphone import MicrophoneTrack

        return MicrophoneTrack(parse_device_spec(arg) if arg else input_device)
    if kind == "tone":
        try:
            freq = float(arg) if arg else 440.0
        except ValueError:
            raise ConfigError(f"bad source {spec!r}: tone frequency must be a number, e.g. tone:440") from None
        if not 20.0 <= freq <= 20_000.0:
            raise ConfigError(f"bad source {spec!r}: tone frequency must be 20–20000 Hz")
        return ToneTrack(freq)
    if kind == "silence":
        return SilenceTrack()
    if kind in ("wav", "file", "wav+loop", "file+loop"):
        if not arg:
            raise ConfigError(f"bad source {spec!r}: give a path, e.g. wav:prompt.wav")
        return WavTrack(arg, loop=kind.endswith("+loop"))
    if kind == "say":
        if not arg.strip():
            raise ConfigError(f"bad source {spec!r}: give the words, e.g. 'say:what time is it|thank you'")
        from voicedesk.agent.engines.tts import spoken_track  # espeak-ng, as the voice agent speaks

        return spoken_track(arg.split("|"))
    raise ConfigError(
        f"unknown source {spec!r}: use tone:FREQ, wav:PATH, wav+loop:PATH, mic[:DEVICE], say:TEXT or silence"
    )
