"""Audio sources: aiortc tracks that produce paced 20 ms frames at 48 kHz.

Every source is a ``MediaStreamTrack`` so it can be handed to ``addTrack`` as is.
``parse_source`` turns the command line's ``tone:440`` / ``wav:PATH`` / ``silence``
into a track.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.errors import ConfigError, MediaError
from voicedesk.media.pcm import SAMPLE_RATE, frame_to_mono, mono_to_frame
from voicedesk.media.tracks import PacedAudioTrack
from voicedesk.plugins import load_plugins

logger = logging.getLogger(__name__)

FrameObserver = Callable[[np.ndarray], None]


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
        why = "it is a directory" if path.is_dir() else "not a file" if path.exists() else "no such file"
        raise MediaError(f"cannot read audio file {path}: {why}")
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
    """Plays an audio file (any format av decodes); loops, or at its end sends silence (as a
    microphone would, so that an agent hears the caller's turn end; ``played_out`` is set),
    or with ``silence_after_end=False`` ends there (aiortc then stops sending)."""

    def __init__(self, path: str | Path, loop: bool = False, silence_after_end: bool = True) -> None:
        super().__init__(silence_after_end=silence_after_end)
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

    def insert_audio(self, samples: np.ndarray) -> float:
        """Queue audio (mono float32, 48 kHz) that replaces the source's frame by frame, as
        DTMF tones do (words typed to be spoken); returns the seconds queued in all."""
        self._dtmf = np.concatenate((self._dtmf, np.asarray(samples, dtype=np.float32)))
        return self._dtmf.size / SAMPLE_RATE

    @property
    def dtmf_pending(self) -> bool:
        return self._dtmf.size > 0

    async def recv(self) -> av.AudioFrame:
        frame = cast(av.AudioFrame, await self.source.recv())
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


@dataclass(frozen=True)
class SourceKind:
    """One kind of source as users write it: ``NAME[:ARG]``.

    ``build(arg, input_device)`` returns the track; it raises ``ConfigError`` for a bad
    ``arg``. Layers above media add their own with ``register_source`` (the speech
    layer adds ``say:``), so the CLI, the window, scenarios and load read one list.
    """

    name: str
    usage: str  # "tone:FREQ"
    help: str
    build: Callable[[str, int | str | None], MediaStreamTrack]
    aliases: tuple[str, ...] = ()
    needs_arg: bool = False


PLUGIN_GROUP = "voicedesk.sources"  # entry points whose import registers sources (say:)
_SOURCES: dict[str, SourceKind] = {}


def register_source(kind: SourceKind) -> None:
    for name in (kind.name, *kind.aliases):
        _SOURCES[name] = kind


def source_kinds() -> list[SourceKind]:
    """Every registered kind once, in registration order."""
    load_plugins(PLUGIN_GROUP)
    return list(dict.fromkeys(_SOURCES.values()))


def _microphone(arg: str, input_device: int | str | None) -> MediaStreamTrack:
    from voicedesk.media.devices import parse_device_spec
    from voicedesk.media.microphone import MicrophoneTrack

    return MicrophoneTrack(parse_device_spec(arg) if arg else input_device)


def _tone(arg: str, _device: int | str | None) -> MediaStreamTrack:
    spec = f"tone:{arg}" if arg else "tone"
    try:
        freq = float(arg) if arg else 440.0
    except ValueError:
        raise ConfigError(f"bad source {spec!r}: tone frequency must be a number, e.g. tone:440") from None
    if not 20.0 <= freq <= 20_000.0:
        raise ConfigError(f"bad source {spec!r}: tone frequency must be 20–20000 Hz")
    return ToneTrack(freq)


register_source(SourceKind("tone", "tone:FREQ", "a steady sine (440 Hz unless given)", _tone))
register_source(
    SourceKind(
        "wav",
        "wav:PATH",
        "an audio file (any format FFmpeg reads)",
        lambda arg, _d: WavTrack(arg),
        aliases=("file",),
        needs_arg=True,
    )
)
register_source(
    SourceKind(
        "wav+loop",
        "wav+loop:PATH",
        "an audio file, looped",
        lambda arg, _d: WavTrack(arg, loop=True),
        aliases=("file+loop",),
        needs_arg=True,
    )
)
register_source(
    SourceKind(
        "mic", "mic[:DEVICE]", "a microphone (the default input unless named)", _microphone, aliases=("microphone",)
    )
)
register_source(SourceKind("silence", "silence", "digital silence", lambda _arg, _d: SilenceTrack()))

_ARG_EXAMPLES = {"wav": "wav:prompt.wav", "wav+loop": "wav+loop:prompt.wav"}


def parse_source(spec: str, input_device: int | str | None = None) -> MediaStreamTrack:
    """``tone[:FREQ]``, ``silence``, ``wav:PATH`` (``wav+loop:PATH`` loops), ``mic[:DEVICE]``,
    and what layers above register (``say:TEXT[|TEXT…]`` from ``voicedesk.speech``).

    ``mic`` captures ``input_device`` (index or name; the default device if None);
    ``mic:DEVICE`` names the device in the spec itself.
    """
    name, _, arg = spec.partition(":")
    kind = _SOURCES.get(name.strip().lower())
    if kind is None:
        load_plugins(PLUGIN_GROUP)
        kind = _SOURCES.get(name.strip().lower())
    if kind is None:
        raise ConfigError(f"unknown source {spec!r}: use {source_usages()}")
    if kind.needs_arg and not arg.strip():
        example = _ARG_EXAMPLES.get(kind.name, kind.usage)
        raise ConfigError(f"bad source {spec!r}: give a path, e.g. {example}")
    return kind.build(arg, input_device)


def source_usages() -> str:
    """``tone:FREQ, wav:PATH, … or say:TEXT``: every registered kind, for ``--source``'s help
    and the error line for an unknown one."""
    usages = [k.usage for k in source_kinds()]
    return ", ".join(usages[:-1]) + " or " + usages[-1] if len(usages) > 1 else usages[0]
