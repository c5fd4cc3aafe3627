"""The ``say:TEXT|TEXT…`` source: the caller speaks (espeak-ng), as the voice agent does.

Registered with the media layer's sources when ``voicedesk.speech`` is imported.
"""

from __future__ import annotations

import numpy as np

from voicedesk.errors import ConfigError
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.sources import SourceKind, register_source
from voicedesk.media.tracks import QueuedAudioTrack


def spoken_track(utterances: list[str], lead_s: float = 0.5, gap_s: float = 4.0) -> QueuedAudioTrack:
    """A source that says each utterance (espeak-ng), ``gap_s`` apart, then stays silent.

    It never ends by itself, so an agent hears the silence that ends the caller's last turn.
    """
    from voicedesk.speech.tts import call_samples, find_tts

    engine = find_tts()
    track = QueuedAudioTrack()
    track.enqueue(np.zeros(int(lead_s * SAMPLE_RATE), dtype=np.float32))
    for i, text in enumerate(t.strip() for t in utterances if t.strip()):
        if i:
            track.enqueue(np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32))
        track.enqueue(call_samples(engine, text))
    return track


def _say(arg: str, _device: int | str | None) -> QueuedAudioTrack:
    if not arg.strip():
        raise ConfigError(f"bad source {'say:' + arg!r}: give the words, e.g. 'say:what time is it|thank you'")
    return spoken_track(arg.split("|"))


register_source(SourceKind("say", "say:TEXT[|TEXT…]", "words spoken by espeak-ng, one utterance every 4 s", _say))
