"""The server's end of RTVI, pipecat's client protocol, for every session of the agent server.

pipecat's clients (``@pipecat-ai/client-js`` with the small-webrtc transport, and other
RTVI clients) open a data channel (client-js calls it ``chat``), send ``client-ready``
and wait for ``bot-ready`` before ``connect()`` resolves; then they show what the bot
reports. This speaks protocol 2.x with the message shapes of pipecat 1.14
(``pipecat/processors/frameworks/rtvi/models.py``, label ``rtvi-ai``):

- ``client-ready`` → ``bot-ready`` with the same id, ``{version, about, capabilities}``,
  as pipecat's ``PipelineWorker`` sends it (``about`` names VoiceDesk and the agent);
- the agent's turn events (``TurnObserver``'s, the ones the ``voicedesk`` channel carries:
  one account of a turn, translated here by ``RtviTranslator``, never re-derived from
  frames) → ``user-started-speaking``/``user-stopped-speaking``, ``user-input`` +
  ``user-transcription``, ``bot-llm-started``/``-stopped``, ``bot-transcription``,
  ``bot-output``, ``bot-tts-text``, ``bot-started-speaking``/``bot-stopped-speaking``,
  ``bot-interrupted``, ``error``, and one ``metrics`` per turn (``ttfb``/``processing``
  in seconds, pipecat's units);
- ``send-text`` → the agent's ``send_text`` (the voice agent's responder answers it;
  others refuse with an ``error-response``); ``client-message`` ``{t: "turns"}`` →
  ``server-response`` with the turn reports so far (the latest that fit in 64 KiB);
  ``disconnect-bot`` ends the session; any other type → ``error-response``.

A channel counts as RTVI once a message labelled ``rtvi-ai`` arrives on it (or it is
called ``rtvi-ai``): other channels a client opens hear nothing from here. Text that is
not JSON, over 64 KiB, or not RTVI is counted (``dropped``) and logged at debug, never
raised; client-js's keep-alive ``ping`` strings and pipecat's ``signalling`` messages
are expected and ignored.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voicedesk import __version__
from voicedesk.errors import VoiceDeskError
from voicedesk.rtc.events.channel import MAX_MESSAGE_BYTES
from voicedesk.rtc.events.rtvi import MESSAGE_LABEL as LABEL
from voicedesk.rtc.events.rtvi import PROTOCOL_VERSION
from voicedesk.rtc.events.voicedesk import CHANNEL_LABEL as VOICEDESK_CHANNEL
from voicedesk.rtc.signaling.log import parse_json

if TYPE_CHECKING:
    from aiortc import RTCDataChannel, RTCPeerConnection

    from voicedesk.agent.registry import Agent

__all__ = ["LABEL", "MAX_MESSAGE", "PROTOCOL_VERSION", "RtviResponder", "RtviTranslator"]

logger = logging.getLogger(__name__)

MAX_MESSAGE = MAX_MESSAGE_BYTES  # the same limit both ends of VoiceDesk keep
# what pipecat's clients send besides RTVI on the same channel: keep-alives and track status
_PING = "ping"
_SIGNALLING = "signalling"

# the turn report's latencies (ms) as pipecat's metrics name them: the stage that took the time
_TTFB = (("response", "ResponderProcessor"), ("synthesis", "TTSProcessor"))
_PROCESSING = (("transcription", "STTProcessor"), ("end_detection", "VADProcessor"))


def _message(kind: str, data: Any = None, msg_id: str | None = None) -> dict[str, Any]:
    """One RTVI message as pipecat serializes it (``exclude_none``: no ``id``/``data`` when None)."""
    message: dict[str, Any] = {"label": LABEL, "type": kind}
    if msg_id is not None:
        message["id"] = msg_id
    if data is not None:
        message["data"] = data
    return message


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class RtviTranslator:
    """VoiceDesk's turn events (README: "Turn events") -> the RTVI messages pipecat 1.14 would send.

    One per session: pipecat sends ``bot-output`` and ``bot-tts-text`` once the bot speaks
    the text (its observer holds them until ``BotStartedSpeakingFrame``), while our
    observer reports a reply's text when it is complete, which for a scripted line is
    before its audio starts; so those two wait here for the next ``audio_out_started``
    (or the turn's report, should the audio never come). Events RTVI has no word for
    (``session_started``, ``script_step``) give nothing."""

    def __init__(self, user_id: str = "") -> None:
        self.user_id = user_id
        self._speaking = False
        self._unspoken: list[dict[str, Any]] = []  # bot-output / bot-tts-text waiting for the audio

    def translate(self, event: dict[str, Any], *, timestamp: str | None = None) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "speech_started":
            return [_message("user-started-speaking")]
        if kind == "speech_stopped":
            return [_message("user-stopped-speaking")]
        if kind == "transcript":
            return _transcript(event, self.user_id, timestamp or _now_iso())
        if kind == "response_started":
            return [_message("bot-llm-started")]  # the observer says so at the reply's first text
        if kind == "response_ended":
            return self._reply_text((event.get("text") or "").strip())
        if kind == "audio_out_started":
            self._speaking = True
            released, self._unspoken = self._unspoken, []
            return [_message("bot-started-speaking"), *released]
        if kind == "audio_out_stopped":
            self._speaking = False
            return [_message("bot-stopped-speaking")]
        if kind == "barge_in":
            return [_message("bot-interrupted")]
        if kind == "error":
            return [_message("error", {"error": str(event.get("message", "")), "fatal": bool(event.get("fatal"))})]
        if kind == "turn":
            released, self._unspoken = self._unspoken, []
            metrics = _metrics(event.get("latency_ms") or {})
            return [*released, *([_message("metrics", metrics)] if metrics else [])]
        return []

    def _reply_text(self, text: str) -> list[dict[str, Any]]:
        if not text:  # an audio-only reply (parrot, a script's audio file): nothing to show
            return []
        # pipecat: the aggregated sentence once the TTS has spoken it (no word timestamps here)
        output = {
            "text": text,
            "output_type": "sentence",
            "text_type": "sentence",
            "aggregated_by": "sentence",
            "spoken": True,
            "will_be_spoken": True,
            "spoken_status": "completed",
            "spoken_progress": {"accumulated_text": text, "remaining_text": ""},
        }
        spoken = [_message("bot-output", output), _message("bot-tts-text", {"text": text})]
        now = [_message("bot-transcription", {"text": text}), _message("bot-llm-stopped")]
        if self._speaking:
            return [now[0], *spoken, now[1]]
        self._unspoken.extend(spoken)
        return now


def _transcript(event: dict[str, Any], user_id: str, timestamp: str) -> list[dict[str, Any]]:
    text = str(event.get("text") or "")
    final = bool(event.get("final"))
    if event.get("input") == "text":  # typed (send-text): pipecat reports it as chat input only
        data = {"text": text, "input_type": "chat", "timestamp": timestamp, "final": True, "user_id": user_id}
        if event.get("msg_id"):
            data["msg_id"] = event["msg_id"]
        return [_message("user-input", data)]
    if not text.strip():  # noise the VAD took for speech: nothing was said
        return []
    said = {"text": text, "input_type": "transcription", "timestamp": timestamp, "final": final, "user_id": user_id}
    transcription = {"text": text, "user_id": user_id, "timestamp": timestamp, "final": final}
    return [_message("user-input", said), _message("user-transcription", transcription)]


def _metrics(latency_ms: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    metrics: dict[str, list[dict[str, Any]]] = {}
    for key, stages in (("ttfb", _TTFB), ("processing", _PROCESSING)):
        for name, processor in stages:
            value = latency_ms.get(name)
            if isinstance(value, int | float):
                metrics.setdefault(key, []).append({"processor": processor, "value": round(value / 1000.0, 4)})
    return metrics


class RtviResponder:
    """Answers RTVI clients on one session's peer connection (see the module's docstring).

    ``end_session(why)`` is called for ``disconnect-bot``; ``user_id`` names the caller in
    transcripts (pipecat's small-webrtc transport uses the connection's ``pc_id``)."""

    def __init__(self, agent: Agent, *, user_id: str = "", end_session: Callable[[str], None] | None = None) -> None:
        self.agent = agent
        self.user_id = user_id
        self.end_session = end_session
        self.channels: list[RTCDataChannel] = []  # the channels that spoke RTVI
        self.client_version: str | None = None
        self.dropped = 0  # messages that were not JSON, too large, or malformed RTVI
        self.translator = RtviTranslator(user_id)
        agent.add_event_listener(self._on_agent_event)

    def attach(self, pc: RTCPeerConnection) -> None:
        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label == VOICEDESK_CHANNEL:
                return  # VoiceDesk's own events channel (the agent answers it)
            if channel.label == LABEL:
                self._adopt(channel)
            channel.on("message", lambda message: self._on_message(channel, message))

    def _adopt(self, channel: RTCDataChannel) -> None:
        if channel not in self.channels:
            self.channels.append(channel)

    # client -> server ---------------------------------------------------
    def _on_message(self, channel: RTCDataChannel, raw: str | bytes) -> None:
        if isinstance(raw, str) and raw.startswith(_PING):
            return
        if len(raw) > MAX_MESSAGE:
            self._drop(f"a message of {len(raw)} bytes (over {MAX_MESSAGE // 1024} KiB)")
            return
        try:
            message = parse_json(raw)
        except (ValueError, UnicodeDecodeError):
            self._drop(f"not JSON: {raw[:80]!r}")
            return
        if not isinstance(message, dict) or message.get("label") != LABEL:
            if not (isinstance(message, dict) and message.get("type") == _SIGNALLING):
                self._drop(f"not an RTVI message: {str(message)[:80]}")
            return
        self._adopt(channel)
        kind, raw_id, data = message.get("type"), message.get("id"), message.get("data")
        if not isinstance(kind, str):
            self._drop(f"an RTVI message without a type: {str(message)[:80]}")
            self._send(channel, _message("error", {"error": "RTVI message without a string type", "fatal": False}))
            return
        # pipecat's models take a string id; a number is what a hand-written client sends
        msg_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else ""
        try:
            self._handle(channel, kind, msg_id, data)
        except (_Refused, VoiceDeskError) as exc:
            self._send(channel, _message("error-response", {"error": str(exc)}, msg_id))

    def _handle(self, channel: RTCDataChannel, kind: str, msg_id: str, data: Any) -> None:
        if kind == "client-ready":
            self._client_ready(channel, msg_id, data if isinstance(data, dict) else {})
        elif kind == "send-text":
            if not isinstance(data, dict) or not isinstance(data.get("content"), str):
                raise _Refused('send-text needs data {"content": "the text"}')
            options = data.get("options")
            if not isinstance(options, dict):
                options = {}
            self.agent.send_text(
                data["content"], interrupt=bool(options.get("run_immediately", True)), msg_id=msg_id or None
            )
        elif kind == "client-message":
            self._client_message(channel, msg_id, data)
        elif kind == "disconnect-bot":
            if self.end_session is not None:
                self.end_session("the RTVI client asked (disconnect-bot)")
        else:
            raise _Refused(f"the {self.agent.name} agent does not handle RTVI {kind!r} messages")

    def _client_ready(self, channel: RTCDataChannel, msg_id: str, data: dict[str, Any]) -> None:
        version = data.get("version")
        self.client_version = version if isinstance(version, str) else None
        about_client = data.get("about")
        if not isinstance(about_client, dict):
            about_client = {}
        logger.info("RTVI client ready: protocol %s, %s", self.client_version, about_client.get("library", "unknown"))
        if not self.client_version or self.client_version.split(".")[0] != PROTOCOL_VERSION.split(".")[0]:
            # as pipecat does: a warning to the client, and the session goes on
            warning = f"RTVI version {self.client_version or 'unknown'} may not be compatible with {PROTOCOL_VERSION}"
            self._send(channel, _message("error-response", {"error": warning}, msg_id))
        ready = {
            "version": PROTOCOL_VERSION,
            "about": {"library": "voicedesk", "library_version": __version__, "agent": self.agent.name},
            "capabilities": {
                "audio_in": True,
                "audio_out": True,
                "video_in": False,
                "video_out": False,
                "metrics": self.agent.SENDS_EVENTS,
            },
        }
        self._send(channel, _message("bot-ready", ready, msg_id))

    def _client_message(self, channel: RTCDataChannel, msg_id: str, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("t"), str):
            raise _Refused('client-message needs data {"t": type, "d": data}')
        kind = data["t"]
        if kind == "turns":
            self._send(channel, _message("server-response", {"t": kind, "d": self._recent_turns()}, msg_id))
            return
        raise _Refused(f'the {self.agent.name} agent does not answer client-message "{kind}" (it answers "turns")')

    def _recent_turns(self) -> list[dict[str, Any]]:
        """The turn reports, the oldest left out where all of them would not fit one message
        (a browser's data channel refuses messages over its maxMessageSize, 64 KiB at least)."""
        turns = list(getattr(self.agent, "turns", []))
        budget = MAX_MESSAGE - 200  # the envelope
        sizes = [len(json.dumps(t, separators=(",", ":"))) + 1 for t in turns]
        while turns and sum(sizes) > budget:
            turns.pop(0)
            sizes.pop(0)
        return turns

    def _drop(self, what: str) -> None:
        self.dropped += 1
        logger.debug("RTVI channel: dropped %s", what)

    # server -> client ---------------------------------------------------
    def _on_agent_event(self, event: dict[str, Any]) -> None:
        messages = self.translator.translate(event)  # also before a client: it keeps the speaking state
        for message in messages:
            for channel in self.channels:
                self._send(channel, message)

    def _send(self, channel: RTCDataChannel, message: dict[str, Any]) -> None:
        if channel.readyState != "open":
            return
        try:
            channel.send(json.dumps(message, separators=(",", ":")))
        except Exception as exc:  # the channel closed under us
            logger.debug("RTVI channel: %s", exc)


class _Refused(Exception):
    """A client message this server will not act on; its text goes back as an ``error-response``."""
