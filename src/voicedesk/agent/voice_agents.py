"""Agents built on the frame pipeline: ``parrot``, ``voice`` and ``script``.

Each call gets its own pipeline::

    transport in -> vad -> [stt -> responder | parrot | script] -> [tts] -> transport out

and a ``TurnObserver`` whose events go to the caller on the data channel named
``voicedesk`` (when the caller opened one) as JSON text messages.
"""

from __future__ import annotations

import collections
import json
import logging
from pathlib import Path
from typing import Any, ClassVar

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.agent.agents import Agent
from voicedesk.agent.engines.vad import create_vad
from voicedesk.agent.pipeline import FrameProcessor, Pipeline
from voicedesk.agent.processors.transport import SpeakerTrack, TransportInputProcessor, TransportOutputProcessor
from voicedesk.agent.processors.vad import VADProcessor
from voicedesk.agent.turns import TurnObserver
from voicedesk.errors import ConfigError

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "voicedesk"
COMMON_OPTIONS = {
    "vad": "auto, webrtc or energy (default auto: webrtc when installed)",
    "vad_stop_ms": "silence that ends a caller turn, ms (default 500)",
    "interruptions": "on/off: the caller's speech stops the agent (default on)",
}


def parse_agent_options(pairs: list[str] | None) -> dict[str, str]:
    """``["delay=500", "stt=open"]`` -> dict; a pair without ``=`` is a ConfigError."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad agent option {pair!r}: write KEY=VALUE, e.g. delay=500")
        options[key.strip().lower()] = value.strip()
    return options


def _flag(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "on", "yes", "true"):
        return True
    if v in ("0", "off", "no", "false"):
        return False
    raise ConfigError(f"agent option {name} must be on or off, not {value!r}")


def _number(options: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = options.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"agent option {name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"agent option {name} must be between {low:g} and {high:g}, not {value:g}")
    return value


class PipelineAgent(Agent):
    """Base: subclasses list their options and build the middle of the pipeline."""

    OPTIONS: ClassVar[dict[str, str]] = {}

    def __init__(self, options: dict[str, str] | None = None) -> None:
        self.options = dict(options or {})
        self.check_options(self.options)
        self.pipeline: Pipeline | None = None
        self.observer = TurnObserver(self._send_event)
        self.speaker: SpeakerTrack | None = None
        self._channel: RTCDataChannel | None = None
        self._unsent: collections.deque[str] = collections.deque(maxlen=500)

    @classmethod
    def check_options(cls, options: dict[str, str]) -> None:
        known = {**COMMON_OPTIONS, **cls.OPTIONS}
        unknown = sorted(set(options) - set(known))
        if unknown:
            listed = "; ".join(f"{k}: {v}" for k, v in known.items())
            raise ConfigError(f"the {cls.name} agent has no option {', '.join(unknown)} (options: {listed})")

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        """Raise a VoiceDeskError naming what is missing, before any call is answered."""
        cls.check_options(options)
        create_vad(options.get("vad", "auto"))

    def middle(self) -> list[FrameProcessor]:
        raise NotImplementedError

    # peer connection ----------------------------------------------------
    def attach(self, pc: RTCPeerConnection) -> None:
        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label == EVENTS_CHANNEL:
                self._channel = channel
                self._flush_events()
                channel.on("open", self._flush_events)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind != "audio" or self.pipeline is not None:
                return
            # added here, inside setRemoteDescription, so the answer carries it (as echo does)
            self.speaker = SpeakerTrack()
            pc.addTrack(self.speaker)
            self.pipeline = self._build(track, self.speaker)
            self.pipeline.tasks.create(self.pipeline.start(), "start")

    def _build(self, track: MediaStreamTrack, speaker: SpeakerTrack) -> Pipeline:
        vad = VADProcessor(
            create_vad(self.options.get("vad", "auto")),
            stop_ms=_number(self.options, "vad_stop_ms", 500.0, 100.0, 5000.0),
            interruptions=_flag(self.options.get("interruptions", "on"), "interruptions"),
        )
        processors = [TransportInputProcessor(track), vad, *self.middle(), TransportOutputProcessor(speaker)]
        return Pipeline(processors, [self.observer], name=f"{self.name}-agent")

    # events to the caller ------------------------------------------------
    def _send_event(self, event: dict[str, Any]) -> None:
        logger.debug("agent event %s", event)
        self._unsent.append(json.dumps(event, separators=(",", ":")))
        self._flush_events()

    def _flush_events(self) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        while self._unsent:
            try:
                channel.send(self._unsent[0])
            except Exception as exc:  # the channel closed under us: keep the rest for nobody
                logger.debug("agent events channel: %s", exc)
                return
            self._unsent.popleft()

    @property
    def turns(self) -> list[dict[str, Any]]:
        return list(self.observer.reports)

    async def close(self) -> None:
        if self.pipeline is not None:
            await self.pipeline.stop()
        self.observer.finish()


class ParrotAgent(PipelineAgent):
    """Repeats each utterance after a delay."""

    name = "parrot"
    OPTIONS: ClassVar[dict[str, str]] = {"delay": "ms between the end of an utterance and its replay (default 500)"}

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        super().preflight(options)
        _number(options, "delay", 500.0, 0.0, 60_000.0)

    def middle(self) -> list[FrameProcessor]:
        from voicedesk.agent.processors.parrot import ParrotProcessor

        return [ParrotProcessor(delay_ms=_number(self.options, "delay", 500.0, 0.0, 60_000.0))]


def _tts_options(options: dict[str, str]) -> tuple[str, int]:
    from voicedesk.agent.engines.tts import DEFAULT_RATE, DEFAULT_VOICE

    return options.get("voice") or DEFAULT_VOICE, int(_number(options, "rate", DEFAULT_RATE, 80, 450))


class VoiceAgent(PipelineAgent):
    """VAD -> pocketsphinx -> responder -> espeak-ng, streaming and interruptible."""

    name = "voice"
    OPTIONS: ClassVar[dict[str, str]] = {
        "stt": "constrained (default: phrases of the responder and a small vocabulary) or open",
        "phrases": "a text file of extra phrases for the constrained recognizer, one per line",
        "responder": "rules (default) or openai (an OpenAI-compatible chat completions endpoint)",
        "llm_url": "API base URL for responder=openai (or VOICEDESK_LLM_URL)",
        "llm_model": "model for responder=openai (or VOICEDESK_LLM_MODEL)",
        "llm_key": "API key for responder=openai (or VOICEDESK_LLM_API_KEY / OPENAI_API_KEY)",
        "llm_timeout": "seconds to wait for the first token and between tokens (default 8)",
        "voice": "espeak-ng voice (default en-us)",
        "rate": "speaking rate, words per minute (default 140)",
    }

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        from voicedesk.agent.engines.responder import create_responder
        from voicedesk.agent.engines.stt import check_pocketsphinx
        from voicedesk.agent.engines.tts import find_tts

        super().preflight(options)
        check_pocketsphinx()
        find_tts(*_tts_options(options))
        cls._stt_settings(options, create_responder(options.get("responder", "rules"), options))

    @staticmethod
    def _stt_settings(options: dict[str, str], responder: Any):
        from voicedesk.agent.engines.stt import SMALL_VOCABULARY, SttSettings

        phrases = [*responder.phrases(), *SMALL_VOCABULARY]
        if options.get("phrases"):
            path = Path(options["phrases"])
            try:
                phrases.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
            except OSError as exc:
                raise ConfigError(f"cannot read the phrases file {path}: {exc.strerror or exc}") from None
        return SttSettings(mode=options.get("stt", "constrained").lower(), phrases=tuple(phrases))

    def middle(self) -> list[FrameProcessor]:
        from voicedesk.agent.engines.responder import create_responder
        from voicedesk.agent.engines.tts import find_tts
        from voicedesk.agent.processors.responder import ResponderProcessor
        from voicedesk.agent.processors.stt import STTProcessor
        from voicedesk.agent.processors.tts import TTSProcessor

        responder = create_responder(self.options.get("responder", "rules"), self.options)
        return [
            STTProcessor(self._stt_settings(self.options, responder)),
            ResponderProcessor(responder),
            TTSProcessor(find_tts(*_tts_options(self.options))),
        ]


class ScriptAgent(PipelineAgent):
    """Plays a list of texts or audio files, one each time the caller stops speaking."""

    name = "script"
    OPTIONS: ClassVar[dict[str, str]] = {
        "say": "the lines, separated by | (a line ending in .wav/.mp3/.ogg/.flac is played as a file)",
        "file": "a text file with one line per turn (relative audio paths are relative to it)",
        "loop": "on/off: start again after the last line (default off)",
        "voice": "espeak-ng voice for text lines (default en-us)",
        "rate": "speaking rate for text lines (default 140)",
    }

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        super().preflight(options)
        items = cls._items(options)
        if any(item.text for item in items):
            from voicedesk.agent.engines.tts import find_tts

            find_tts(*_tts_options(options))

    @staticmethod
    def _items(options: dict[str, str]):
        from voicedesk.agent.processors.script import load_script

        entries: list[str] = []
        base = None
        if options.get("file"):
            path = Path(options["file"])
            try:
                entries.extend(path.read_text(encoding="utf-8").splitlines())
            except OSError as exc:
                raise ConfigError(f"cannot read the script file {path}: {exc.strerror or exc}") from None
            base = path.parent
        if options.get("say"):
            entries.extend(options["say"].split("|"))
        return load_script(entries, base)

    def middle(self) -> list[FrameProcessor]:
        from voicedesk.agent.processors.script import ScriptProcessor

        items = self._items(self.options)
        processors: list[FrameProcessor] = [ScriptProcessor(items, loop=_flag(self.options.get("loop", "off"), "loop"))]
        if any(item.text for item in items):
            from voicedesk.agent.engines.tts import find_tts
            from voicedesk.agent.processors.tts import TTSProcessor

            processors.append(TTSProcessor(find_tts(*_tts_options(self.options))))
        return processors


PIPELINE_AGENTS: dict[str, type[PipelineAgent]] = {a.name: a for a in (ParrotAgent, VoiceAgent, ScriptAgent)}
