"""Caller conditions on a call: the conditioned source and the extension that reports them.

``condition_source`` builds what ``Call.from_spec`` sends when ``CallSpec.conditions`` is set:
the source (said again with another voice, or with its sentences split by a pause, when
those are asked) wrapped in a ``ConditionedTrack`` with its noise loop and inserts made
here (espeak-ng lives in the speech layer, below this one). ``ConditionsReport`` feeds the
received audio to it (the echo path, the agent's speech onsets for backchannels), places
the agent's turn events on the caller's clock, and adds ``conditions`` (what was inserted
and when) and ``robustness`` (how the agent behaved: media/conditions/measure.py) to the
call's summary.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.errors import ConfigError
from voicedesk.media.conditions import pauses
from voicedesk.media.conditions.measure import Timeline, robustness
from voicedesk.media.conditions.mixer import ConditionedTrack, SplitSentence
from voicedesk.media.conditions.noise import active_rms, babble, pink, unit_rms, white
from voicedesk.media.conditions.sounds import SOUNDS
from voicedesk.media.conditions.spec import SPOKEN_INSERTS, CallerVoice, Conditions
from voicedesk.media.pcm import SAMPLE_RATE, SILENCE_DBFS, level_dbfs
from voicedesk.media.sources import load_audio_file
from voicedesk.media.tracks import QueuedAudioTrack
from voicedesk.rtc.extension import CallExtension

if TYPE_CHECKING:
    from voicedesk.rtc.call import Call, CallEvent

logger = logging.getLogger(__name__)

# as the say: source (speech/say.py): half a second before the first sentence, 4 s between
LEAD_S = 0.5
GAP_S = 4.0
BABBLE_VOICES = ("en-us+f3", "en-us+m3", "en-029", "en-gb-x-rp", "en-us+f2")
BABBLE_LINES = (
    "did you see the game last night it went to overtime",
    "we should book the table for seven not eight",
    "the train was late again so I walked from the station",
    "can you pass me the menu I think I will have the soup",
    "my sister moved to the coast last spring",
    "they said the meeting moved to thursday afternoon",
)


def speak(text: str, voice: CallerVoice | None = None) -> np.ndarray:
    from voicedesk.speech.tts import DEFAULT_PITCH, DEFAULT_RATE, DEFAULT_VOICE, call_samples, find_tts, voice_problem

    voice = voice or CallerVoice()
    if voice.voice is not None:
        why = voice_problem(voice.voice)
        if why is not None:
            raise ConfigError(f"caller voice: {why}")
    engine = find_tts(
        voice.voice or DEFAULT_VOICE,
        int(voice.rate) if voice.rate is not None else DEFAULT_RATE,
        int(voice.pitch) if voice.pitch is not None else DEFAULT_PITCH,
    )
    return call_samples(engine, text)


@functools.lru_cache(maxsize=4)
def babble_loop(seed: int, talkers: int = 4) -> np.ndarray:
    """Several espeak-ng voices talking at once, made here (seeded: the same room each run)."""
    rng = np.random.default_rng(seed)
    voices = rng.permutation(len(BABBLE_VOICES))[:talkers]
    clips = []
    for v in voices:
        lines = rng.permutation(len(BABBLE_LINES))[:3]
        said = [speak(BABBLE_LINES[i], CallerVoice(voice=BABBLE_VOICES[v])) for i in lines]
        clips.append(np.concatenate([np.concatenate((s, np.zeros(int(0.15 * SAMPLE_RATE), np.float32))) for s in said]))
    return babble(clips, seed)


def noise_loop(conditions: Conditions) -> np.ndarray | None:
    noise = conditions.noise
    if noise is None:
        return None
    if noise.kind == "white":
        return white(conditions.seed)
    if noise.kind == "pink":
        return pink(conditions.seed)
    if noise.kind == "babble":
        return babble_loop(conditions.seed)
    recorded = load_audio_file(noise.path or "")
    if level_dbfs(recorded) <= SILENCE_DBFS:
        raise ConfigError(f"noise file {noise.path}: it is silent")
    return unit_rms(recorded)


def insert_clips(conditions: Conditions) -> dict[str, np.ndarray]:
    clips: dict[str, np.ndarray] = {}
    for spec in conditions.inserts:
        if spec.what in clips:
            continue
        if spec.what in SOUNDS:
            clips[spec.what] = SOUNDS[spec.what](conditions.seed)
        else:
            clips[spec.what] = pauses.trim(speak(SPOKEN_INSERTS[spec.what], conditions.voice))
    return clips


def render_spoken(text: str, conditions: Conditions) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``text`` in the caller's voice, split by the condition's pause: (samples, (first half's
    end, second half's start) in samples from its start, or None when not split). A scripted
    caller (qa/runner.py) says its lines with this and tells the track where each split went."""
    halves = pauses.split_words(text) if conditions.pause_ms is not None else None
    if halves is None or conditions.pause_ms is None:
        return speak(text, conditions.voice), None
    clip, first_end, second_start = pauses.join(
        speak(halves[0], conditions.voice), speak(halves[1], conditions.voice), conditions.pause_ms
    )
    return clip, (first_end, second_start)


def _said(
    utterances: list[str], conditions: Conditions
) -> tuple[QueuedAudioTrack, tuple[SplitSentence, ...], np.ndarray]:
    """The say: source again, in the caller's voice, each sentence split when a pause is asked."""
    track = QueuedAudioTrack()
    position = int(LEAD_S * SAMPLE_RATE)
    track.enqueue(np.zeros(position, dtype=np.float32))
    splits = []
    spoken = []
    for i, text in enumerate(t.strip() for t in utterances if t.strip()):
        if i:
            gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
            track.enqueue(gap)
            position += gap.size
        clip, split = render_spoken(text, conditions)
        if split is not None:
            splits.append(SplitSentence(position, position + split[0], position + split[1], position + clip.size))
        track.enqueue(clip)
        spoken.append(clip)
        position += clip.size
    return track, tuple(splits), np.concatenate(spoken) if spoken else np.zeros(0, np.float32)


def _from_file(path: str, conditions: Conditions) -> tuple[QueuedAudioTrack, tuple[SplitSentence, ...], np.ndarray]:
    """A file said with a pause in its middle (cut at a word boundary), then silence."""
    samples = load_audio_file(path)
    halves = pauses.split_audio(samples)
    track = QueuedAudioTrack()
    if halves is None or conditions.pause_ms is None:
        track.enqueue(samples)
        return track, (), samples
    clip, first_end, second_start = pauses.join(halves[0], halves[1], conditions.pause_ms)
    track.enqueue(clip)
    return track, (SplitSentence(0, first_end, second_start, clip.size),), clip


def condition_source(
    source_spec: str, track: MediaStreamTrack, conditions: Conditions
) -> tuple[ConditionedTrack, ConditionsReport]:
    """``track`` (built from ``source_spec``) with ``conditions`` mixed in, and its extension.

    A ``say:`` source is said again here when a voice or a pause is asked (and ``track``
    stopped), a ``wav:`` file when a pause is; any other source keeps its audio."""
    name, _, arg = source_spec.partition(":")
    name = name.strip().lower()
    splits: tuple[SplitSentence, ...] = ()
    known: np.ndarray | None = None
    notes: list[str] = []
    if name == "say" and arg.strip():
        if conditions.pause_ms is not None or conditions.voice.resynthesizes or conditions.noise is not None:
            track.stop()
            track, splits, known = _said(arg.split("|"), conditions)
            if conditions.pause_ms is not None:
                notes += [
                    f"{t.strip()!r} has one word: said without a pause" for t in arg.split("|") if len(t.split()) == 1
                ]
    elif name in ("wav", "file") and arg.strip():
        if conditions.pause_ms is not None:
            track.stop()
            track, splits, known = _from_file(arg, conditions)
            if not splits:
                notes.append(f"{arg} is too short to split: said without a pause")
        elif conditions.noise is not None:
            known = load_audio_file(arg)
    elif (conditions.pause_ms is not None or conditions.voice.resynthesizes) and not isinstance(
        track, QueuedAudioTrack
    ):
        # a queued track is a scripted caller's: it renders its lines with render_spoken
        raise ConfigError(
            f"a pause or a caller voice changes what the caller says: use it with a say: or wav: source, not {name}"
        )
    gain = 10 ** ((conditions.voice.volume_db + conditions.voice.clip_db) / 20)
    speech_rms = None
    if known is not None and known.size:
        speech_rms = active_rms(np.clip(known * gain, -1, 1) if conditions.voice.clip_db else known * gain)
    conditioned = ConditionedTrack(
        track,
        conditions,
        noise_loop=noise_loop(conditions),
        insert_clips=insert_clips(conditions),
        speech_rms=speech_rms,
        splits=list(splits),
    )
    conditioned.notes.extend(notes)
    return conditioned, ConditionsReport(conditioned)


class ConditionsReport(CallExtension):
    def __init__(self, track: ConditionedTrack) -> None:
        self.track = track
        self.events: list[tuple[float, dict[str, Any]]] = []  # (monotonic arrival, event)
        self.events_channel = False

    def attach(self, call: Call) -> None:
        call.add_received_observer(self.track.received)
        call.add_listener(self._on_event)
        self.events_channel = call.agent_events is not None

    def _on_event(self, event: CallEvent) -> None:
        from voicedesk.rtc.events import AgentEventReceived

        if isinstance(event, AgentEventReceived):
            self.events.append((time.monotonic(), event.event))

    def timeline(self) -> Timeline:
        track = self.track
        started = track.started_at
        ms = 1000 / SAMPLE_RATE
        return Timeline(
            caller_dbfs=list(track.speech_dbfs),
            received=[(pos * ms, level) for pos, level in track.received_dbfs],
            inserts=track.inserts.to_json() if track.inserts is not None else [],
            splits=[s.to_json() for s in track.splits],
            events=[((at - started) * 1000, e) for at, e in self.events] if started is not None else [],
            events_available=self.events_channel and bool(self.events),
            echo=track.echo is not None,
        )

    def summary(self) -> dict[str, Any]:
        report = self.track.report()
        robust = robustness(self.timeline())
        noise = report.get("noise")
        robust["noise_snr_db"] = noise.get("snr_db_sent") if noise else None
        # what the agent understood under these conditions (its turn reports, when it sends them)
        robust["transcripts"] = [e.get("transcript") for _, e in self.events if e.get("type") == "turn"]
        return {"conditions": report, "robustness": robust}
