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
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.agent.conversation import TurnObserver
from voicedesk.agent.frames import InterruptionFrame, TextInputFrame
from voicedesk.agent.pipeline import FrameProcessor, Pipeline
from voicedesk.agent.processors.transport import TransportInputProcessor, TransportOutputProcessor
from voicedesk.agent.processors.vad import VADProcessor
from voicedesk.agent.registry import Agent, AgentOption, register_agent
from voicedesk.errors import ConfigError, PipelineError
from voicedesk.media.tracks import QueuedAudioTrack
from voicedesk.rtc.events.voicedesk import CHANNEL_LABEL
from voicedesk.rtc.telephone_event import DtmfReceived
from voicedesk.speech.vad import create_vad

logger = logging.getLogger(__name__)

COMMON_OPTIONS = (
    AgentOption("vad", "auto, webrtc or energy (default auto: webrtc when installed)", default="auto"),
    AgentOption("vad_stop_ms", "silence that ends a caller turn, ms (default 500)", "number", "500", 100, 5000),
    AgentOption("interruptions", "on/off: the caller's speech stops the agent (default on)", "flag", "on"),
)


class PipelineAgent(Agent):
    """Base: subclasses list their options and build the middle of the pipeline."""

    SENDS_EVENTS = True

    def __init__(self, options: dict[str, str] | None = None) -> None:
        super().__init__(options)
        self.pipeline: Pipeline | None = None
        self.observer = TurnObserver(self._send_event)
        self.speaker: QueuedAudioTrack | None = None
        self._channel: RTCDataChannel | None = None
        self._unsent: collections.deque[str] = collections.deque(maxlen=500)

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        super().preflight(options)
        create_vad(options.get("vad") or "auto")

    def middle(self) -> list[FrameProcessor]:
        raise NotImplementedError

    # peer connection ----------------------------------------------------
    def attach(self, pc: RTCPeerConnection) -> None:
        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label == CHANNEL_LABEL:
                self._channel = channel
                self._flush_events()
                channel.on("open", self._flush_events)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind != "audio" or self.pipeline is not None:
                return
            # added here, inside setRemoteDescription, so the answer carries it (as echo does)
            self.speaker = QueuedAudioTrack()
            pc.addTrack(self.speaker)
            self.pipeline = self._build(track, self.speaker)
            self.pipeline.tasks.spawn(self.pipeline.start(), "start")

    def _build(self, track: MediaStreamTrack, speaker: QueuedAudioTrack) -> Pipeline:
        vad = VADProcessor(
            create_vad(self.option("vad")),
            stop_ms=self.option("vad_stop_ms"),
            interruptions=self.option("interruptions"),
        )
        processors = [TransportInputProcessor(track), vad, *self.middle(), TransportOutputProcessor(speaker)]
        return Pipeline(processors, [self.observer], name=f"{self.name}-agent")

    # events to the caller ------------------------------------------------
    def _send_event(self, event: dict[str, Any]) -> None:
        logger.debug("agent event %s", event)
        self._unsent.append(json.dumps(event, separators=(",", ":")))
        self._flush_events()
        for listener in self.event_listeners:  # e.g. the session's RTVI side (agent/rtvi.py)
            try:
                listener(event)
            except Exception:
                logger.exception("an agent event listener failed")

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

    def dtmf_received(self, event: DtmfReceived) -> None:
        # told to the caller on the agent events channel, as turn events are
        self._send_event({"type": "dtmf", **event.to_json()})

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
    summary = "repeats each utterance after a delay"
    OPTIONS = (
        *COMMON_OPTIONS,
        AgentOption(
            "delay", "ms between the end of an utterance and its replay (default 500)", "number", "500", 0, 60_000
        ),
    )

    def middle(self) -> list[FrameProcessor]:
        from voicedesk.agent.processors.parrot import ParrotProcessor

        return [ParrotProcessor(delay_ms=self.option("delay"))]


def _tts_options(options: dict[str, str]) -> tuple[str, int]:
    from voicedesk.speech.tts import DEFAULT_VOICE

    rate = next(o for o in TTS_OPTIONS if o.name == "rate").parse(options.get("rate"))
    return options.get("voice") or DEFAULT_VOICE, int(rate)


TTS_OPTIONS = (
    AgentOption("voice", "espeak-ng voice (default en-us)"),
    AgentOption("rate", "speaking rate, words per minute (default 140)", "number", "140", 80, 450),
)


class VoiceAgent(PipelineAgent):
    """VAD -> pocketsphinx -> responder -> espeak-ng, streaming and interruptible."""

    name = "voice"
    summary = "VAD, speech recognition, a responder and espeak-ng: a voice agent of its own"
    OPTIONS = (
        *COMMON_OPTIONS,
        AgentOption("stt", "constrained (default: phrases of the responder and a small vocabulary), open, or whisper"),
        AgentOption("stt_model", "stt=whisper: a CTranslate2 Whisper model directory (default: the packaged tiny.en)"),
        AgentOption("phrases", "a text file of extra phrases for the constrained recognizer, one per line", "path"),
        AgentOption("responder", "rules (default) or openai (an OpenAI-compatible chat completions endpoint)"),
        AgentOption("llm_url", "API base URL for responder=openai (or VOICEDESK_LLM_URL)"),
        AgentOption("llm_model", "model for responder=openai (or VOICEDESK_LLM_MODEL)"),
        AgentOption("llm_key", "API key for responder=openai (or VOICEDESK_LLM_API_KEY / OPENAI_API_KEY)", secret=True),
        AgentOption("llm_timeout", "seconds to wait for the first token and between tokens (default 8)"),
        *TTS_OPTIONS,
    )

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        from voicedesk.agent.engines.responder_factory import create_responder
        from voicedesk.speech.tts import find_tts

        super().preflight(options)
        cls._stt_choice(options).check()  # pocketsphinx, or faster-whisper and the model's files
        find_tts(*_tts_options(options))
        cls._stt_settings(options, create_responder(options.get("responder", "rules"), options))

    @staticmethod
    def _stt_choice(options: dict[str, str]):
        from voicedesk.speech.recognizers import SttChoice

        return SttChoice(options.get("stt", "constrained").lower(), options.get("stt_model") or None)

    @staticmethod
    def _stt_settings(options: dict[str, str], responder: Any):
        from voicedesk.speech.stt import SMALL_VOCABULARY, SttSettings

        phrases = [*responder.phrases(), *SMALL_VOCABULARY]
        if options.get("phrases"):
            path = Path(options["phrases"])
            try:
                phrases.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
            except OSError as exc:
                raise ConfigError(f"cannot read the phrases file {path}: {exc.strerror or exc}") from None
        mode = options.get("stt", "constrained").lower()
        # whisper needs no phrase list; the settings keep pocketsphinx's default mode then
        return SttSettings(mode=mode if mode != "whisper" else "constrained", phrases=tuple(phrases))

    def send_text(self, text: str, *, interrupt: bool = True, msg_id: str | None = None) -> None:
        """The responder answers ``text`` as it would a transcript (it has not started: a PipelineError)."""
        pipeline = self.pipeline
        if pipeline is None:
            raise PipelineError("the voice agent has not started yet: send text once the call is connected")

        async def deliver() -> None:
            if interrupt:  # as pipecat's run_immediately: the reply being spoken stops first
                await pipeline.queue_frame(InterruptionFrame())
            await pipeline.queue_frame(TextInputFrame(text=text, msg_id=msg_id))

        pipeline.tasks.spawn(deliver(), "text input")

    def middle(self) -> list[FrameProcessor]:
        from voicedesk.agent.engines.responder_factory import create_responder
        from voicedesk.agent.processors.responder import ResponderProcessor
        from voicedesk.agent.processors.stt import STTProcessor
        from voicedesk.agent.processors.tts import TTSProcessor
        from voicedesk.speech.tts import find_tts

        responder = create_responder(self.options.get("responder", "rules"), self.options)
        settings = self._stt_settings(self.options, responder)
        choice = self._stt_choice(self.options)
        return [
            STTProcessor(settings, recognizer=choice.recognizer(settings.phrases)),
            ResponderProcessor(responder),
            TTSProcessor(find_tts(*_tts_options(self.options))),
        ]


class ScriptAgent(PipelineAgent):
    """Plays a list of texts or audio files, one each time the caller stops speaking."""

    name = "script"
    summary = "plays a list of texts or audio files, one each time the caller stops speaking"
    OPTIONS = (
        *COMMON_OPTIONS,
        AgentOption("say", "the lines, separated by | (a line ending in .wav/.mp3/.ogg/.flac is played as a file)"),
        AgentOption("file", "a text file with one line per turn (relative audio paths are relative to it)", "path"),
        AgentOption("loop", "on/off: start again after the last line (default off)", "flag", "off"),
        AgentOption("voice", "espeak-ng voice for text lines (default en-us)"),
        AgentOption("rate", "speaking rate for text lines (default 140)", "number", "140", 80, 450),
    )

    @classmethod
    def preflight(cls, options: dict[str, str]) -> None:
        super().preflight(options)
        items = cls._items(options)
        if any(item.text for item in items):
            from voicedesk.speech.tts import find_tts

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
        processors: list[FrameProcessor] = [ScriptProcessor(items, loop=self.option("loop"))]
        if any(item.text for item in items):
            from voicedesk.agent.processors.tts import TTSProcessor
            from voicedesk.speech.tts import find_tts

            processors.append(TTSProcessor(find_tts(*_tts_options(self.options))))
        return processors


for _agent in (ParrotAgent, VoiceAgent, ScriptAgent):
    register_agent(_agent)
