"""Call: one RTCPeerConnection to one target, a state machine and its events.

The window, the command line and tests all drive this same object::

    call = Call("embedded:echo", source=ToneTrack(1000))
    summary = await call.run(duration=3.0)           # a CallSummary (rtc/summary.py)

or, as the CLI, the window, scenarios and load build it, from a ``CallSpec``
(rtc/spec.py) with the extensions that hang off it (rtc/extension.py)::

    call = Call.from_spec(CallSpec("embedded:echo", source="tone:1000"), extensions=[recorder])

States move idle -> gathering -> signaling -> connecting -> connected -> ended,
or to failed with a reason written for the user. Listeners get frozen event
objects on the event loop; they must be quick (copy, schedule, return).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from voicedesk.config import IceConfig
from voicedesk.errors import CallTimeout, ConfigError, DtlsError, IceError, SdpError, SignalingError, VoiceDeskError
from voicedesk.media.pcm import SAMPLE_RATE, SILENCE_DBFS
from voicedesk.media.sinks import AnalyzerSink, AudioSink, CallbackSink, GapCounter, TeeSink
from voicedesk.media.sources import OutboundAudioTrack, SilenceTrack, parse_source
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.call_dtmf import CallKeypad, DtmfSending
from voicedesk.rtc.direction import MediaVerdict, check_direction, judge_media, negotiated_direction
from voicedesk.rtc.dtmf_sender import RTCDTMFSender, ToneChanged
from voicedesk.rtc.events import (
    AgentEventReceived,
    AgentEventsChannel,
    AgentEventsSetup,
    Conversation,
    ConversationEvent,
    check_agent_events,
    make_protocol,
)
from voicedesk.rtc.events.model import caller_sent
from voicedesk.rtc.extension import CallExtension
from voicedesk.rtc.ice_monitor import IceMonitor, explain_missing_relay
from voicedesk.rtc.impair import DirectionCounters, ImpairmentChanged, ImpairmentRelay, ImpairmentSpec
from voicedesk.rtc.liveness import MEDIA_TIMEOUT, MediaGap, MediaLost, MediaResumed, RtpArrivals, media_lost_reason
from voicedesk.rtc.sdp import model as sdp_model
from voicedesk.rtc.sdp.refusal import refusal_reason, rejected_audio, unusable_bundle
from voicedesk.rtc.signaling import Signaling, signaling_for_target, with_signaling_kind
from voicedesk.rtc.signaling.log import SignalingExchanged, redact_url
from voicedesk.rtc.stats import StatsSample, StatsSampler
from voicedesk.rtc.telephone_event import DtmfReceived
from voicedesk.tasks import TaskOwner

if TYPE_CHECKING:
    import numpy as np

    from voicedesk.rtc.spec import CallSpec
    from voicedesk.rtc.summary import CallSummary

logger = logging.getLogger(__name__)

PC_CLOSE_TIMEOUT = 5.0


class CallState(enum.Enum):
    IDLE = "idle"
    GATHERING = "gathering"
    SIGNALING = "signaling"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ENDED = "ended"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (CallState.ENDED, CallState.FAILED)


@dataclass(frozen=True)
class CallStateChanged:
    state: CallState
    t_ms: float
    reason: str | None = None


@dataclass(frozen=True)
class DescriptionSet:
    """A local offer or remote answer was applied (``side`` is "local" or "remote")."""

    side: str
    type: str
    sdp: str
    t_ms: float


@dataclass(frozen=True)
class StatsSampled:
    sample: StatsSample


CallEvent = (
    CallStateChanged
    | DescriptionSet
    | StatsSampled
    | ImpairmentChanged
    | SignalingExchanged
    | AgentEventReceived
    | ConversationEvent
    | MediaLost
    | MediaResumed
    | ToneChanged
    | DtmfReceived
)
CallListener = Callable[[CallEvent], None]
# an SDP edit hook: gets the offer (or answer) text, returns the text to apply (see _edited)
SdpEditor = Callable[[str], Awaitable[str]]
TrackReader = Callable[[MediaStreamTrack], None]


def candidates_in(sdp: str | None) -> list[str]:
    """Candidates of an SDP as "typ proto address:port" strings."""
    return [f"{c.type} {c.transport} {c.address}:{c.port}" for c in sdp_model.sdp_candidates(sdp)]


def negotiated_clock_rate(sdp: str | None, default: int = 48_000) -> int:
    """Clock rate of the first audio codec of a description (jitter unit conversion)."""
    if not sdp:
        return default
    try:
        for media in SessionDescription.parse(sdp).media:
            if media.kind == "audio" and media.rtp.codecs:
                return media.rtp.codecs[0].clockRate
    except Exception:
        logger.debug("cannot read the clock rate from the SDP", exc_info=True)
    return default


class Call:
    def __init__(
        self,
        target: str | Signaling,
        *,
        source: MediaStreamTrack | None = None,
        sinks: list[AudioSink] | None = None,
        ice: IceConfig | None = None,
        timeout: float = 15.0,
        stats_interval: float = 1.0,
        headers: dict[str, str] | None = None,
        impairment: ImpairmentSpec | None = None,
        impair_seed: int | None = None,
        edit_offer: SdpEditor | None = None,
        edit_answer: SdpEditor | None = None,
        agent_events: bool | str | None = None,
        agent_events_setup: AgentEventsSetup | None = None,
        send_track: MediaStreamTrack | None = None,
        decode_received: bool = True,
        extensions: list[CallExtension] | tuple[CallExtension, ...] = (),
        direction: str = "sendrecv",
        hangup_after_source: bool = False,
        media_timeout: float | None = MEDIA_TIMEOUT,
        ride_out: bool = False,
    ) -> None:
        """``direction``: what the offer asks for (rtc/direction.py; an ingest endpoint wants
        ``sendonly``). ``hangup_after_source``: ``run`` ends once the source has played out (a
        file, words to say) rather than hold the rest of its duration with silence.
        ``send_track``: a track sent as it is instead of ``source`` (its frames may be
        pre-encoded ``av.Packet``s, as load sends; the call then cannot mute it or watch what
        it sends). ``decode_received=False``: received audio is not decoded (nor analysed,
        recorded or played); the encoded track goes to ``on_received_track`` readers only,
        as load counts packets. ``extensions`` are attached now and detached at hang-up.
        ``media_timeout``: seconds without an RTP packet from a peer that sends before the
        media is reported lost (``MediaLost``) and the call fails, or only reported with
        ``ride_out`` (None or 0: not watched; see rtc/liveness.py). ``agent_events``: the agent
        events protocol to read on a data channel (rtc/events/: ``auto``/None picks by the
        target, ``off``/False none, True the ``voicedesk`` channel); ``agent_events_setup``
        what to send on it (a ``session.update``, text once the agent is ready)."""
        # redact_url: an embedded agent's API key given in the target stays out of summaries
        self.target = redact_url(target) if isinstance(target, str) else target.description
        self.signaling = (
            target if isinstance(target, Signaling) else signaling_for_target(target, headers=headers, timeout=timeout)
        )
        self.outbound = OutboundAudioTrack(source or SilenceTrack())
        self._send_track: MediaStreamTrack = send_track or self.outbound
        self.decode_received = decode_received
        self.direction = check_direction(direction)
        self.hangup_after_source = hangup_after_source
        self._track_readers: list[TrackReader] = []
        self.rx = AnalyzerSink()
        self.tx = AnalyzerSink()
        self.outbound.add_observer(self.tx.write)
        # DTMF both ways, in-band or RFC 4733 (rtc/call_dtmf.py)
        self.keypad = CallKeypad(self.outbound, self._now_ms, self._emit)
        self._sink = TeeSink([self.rx, *(sinks or [])])
        self.ice = ice or IceConfig()
        self.timeout = timeout
        self.stats_interval = stats_interval
        self.impairment = impairment
        self.impair_seed = impair_seed
        self.relay: ImpairmentRelay | None = None
        self.edit_offer = edit_offer
        self.edit_answer = edit_answer
        self.unedited_sdp: dict[str, str] = {}  # "offer"/"answer" -> the text before an edit changed it
        self._deadline: asyncio.Timeout | None = None

        self.state = CallState.IDLE
        self.reason: str | None = None
        self.pc: RTCPeerConnection | None = None
        self.sampler: StatsSampler | None = None
        self.ice_monitor: IceMonitor | None = None  # candidates, pair checks, path (rtc/ice_monitor.py)
        self.setup_ms: float | None = None
        self.local_sdp: str | None = None
        self.remote_sdp: str | None = None
        self._t0 = time.monotonic()
        self._offer_at: float | None = None
        self._paused_s = 0.0  # time spent in SDP edit hooks (a person editing): not set-up time
        # where the set-up went: gathering (offer -> local description), signaling (offer
        # sent -> answer), connecting (answer applied -> connected: ICE and DTLS)
        self.setup_phases: dict[str, float] = {}
        self._listeners: list[CallListener] = []
        self._connected = asyncio.Event()
        self._connect_error: VoiceDeskError | None = None  # why connecting failed, once it has
        self._finished = asyncio.Event()
        self._closed = False
        self._tasks = TaskOwner("call", logger=logger, failed="%s failed")
        self.signaling.add_listener(self._on_signaling_exchange)
        self.signaling.add_hangup_listener(self._on_peer_hangup)
        # liveness (rtc/liveness.py): packets counted as they arrive, decoded or not
        self.media_timeout = media_timeout or None
        self.ride_out = ride_out
        self.rtp = RtpArrivals(self._now_ms, on_gap=self._on_media_gap)
        self.media_lost_at_ms: float | None = None  # the last packet before the first loss reported
        self._packets_at_loss: int | None = None
        self.peer_hung_up_at_ms: float | None = None
        # the agent's events on a data channel (rtc/events/): by default only for targets
        # known to send them (VoiceDesk's embedded agents, pipecat, OpenAI), since it adds an
        # m=application section (and an SCTP association) other agents may refuse
        self.conversation = Conversation()
        protocol = check_agent_events(agent_events) or self.signaling.agent_events_protocol or "off"
        self.agent_events: AgentEventsChannel | None = None
        if (
            protocol == "off"
            and agent_events_setup is not None
            and (agent_events_setup.send_text or agent_events_setup.client_messages)
        ):
            raise ConfigError(
                "text and client messages go on the agent events channel, which this call does not open: "
                "name the protocol (--agent-events rtvi or openai)"
            )
        if protocol != "openai" and agent_events_setup is not None and agent_events_setup.session_update is not None:
            raise ConfigError(
                "a session update (--session-update, --instructions, --voice, --turn-detection) is for OpenAI "
                f"Realtime agents; this call reads {protocol} events: use an openai+ target or --agent-events openai"
            )
        if protocol != "off":
            setup = agent_events_setup or AgentEventsSetup()
            channel = AgentEventsChannel(
                make_protocol(protocol, setup),
                self._emit,
                self._now_ms,
                ready_timeout=setup.ready_timeout,
                conversation=self.conversation,
                on_agent_left=self.signaling.peer_hung_up,  # as a WebSocket closing: "the peer hung up"
            )
            try:
                for text in setup.send_text:
                    channel.send_text(text, when_ready=True)
                for kind, data in setup.client_messages:
                    channel.send_client_message(kind, data, when_ready=True)
            except ValueError as exc:  # the protocol takes no text (voicedesk) or no client messages
                raise ConfigError(str(exc)) from None
            self.agent_events = channel
        self.extensions: tuple[CallExtension, ...] = tuple(extensions)
        for extension in self.extensions:
            extension.attach(self)

    @classmethod
    def from_spec(
        cls,
        spec: CallSpec,
        *,
        source: MediaStreamTrack | None = None,
        extensions: list[CallExtension] | tuple[CallExtension, ...] = (),
        send_track: MediaStreamTrack | None = None,
        decode_received: bool = True,
    ) -> Call:
        """The call ``spec`` describes. ``source`` stands in for ``spec.source`` when the
        builder made the track itself (a microphone with its device options)."""
        target = with_signaling_kind(spec.target, spec.signaling)
        track = source if source is not None or send_track is not None else parse_source(spec.source)
        scheduled: list[CallExtension] = [spec.schedule_extension()] if spec.impair_schedule else []
        if spec.transcribe is not None:  # the recognizer hears the replies (in its worker process)
            from voicedesk.rtc.transcription import CallTranscription

            scheduled.append(CallTranscription(spec.transcribe, target=target, phrases=spec.transcribe_phrases or None))
        if spec.conditions is not None and not spec.conditions.empty and send_track is None:
            from voicedesk.rtc.conditions import condition_source  # only calls with conditions load it

            track, report = condition_source(spec.source, track or SilenceTrack(), spec.conditions)
            scheduled.append(report)
        return cls(
            target,
            source=track,
            ice=spec.ice,
            timeout=spec.timeout,
            stats_interval=spec.stats_interval,
            headers=dict(spec.headers) or None,
            impairment=spec.relay_impairment(),
            impair_seed=spec.impair_seed,
            edit_offer=spec.edit_offer,
            edit_answer=spec.edit_answer,
            agent_events=spec.agent_events,
            agent_events_setup=spec.agent_events_setup,
            send_track=send_track,
            decode_received=decode_received,
            extensions=[*scheduled, *extensions],
            direction=spec.direction,
            hangup_after_source=spec.hangup_after_source,
            media_timeout=spec.media_timeout,
            ride_out=spec.ride_out,
        )

    # events -------------------------------------------------------------
    def add_sink(self, sink: AudioSink) -> None:
        """One more sink for received audio (e.g. the window's speaker), before or during the call."""
        self._sink.sinks.append(sink)

    def add_received_observer(self, observer: Callable[[np.ndarray], None]) -> None:
        """Called with every block of audio received (mono float32 at 48 kHz), like a sink."""
        self.add_sink(CallbackSink(observer))

    def add_sent_observer(self, observer: Callable[[Any], None]) -> None:
        """Called with every block of audio sent (mono float32 at 48 kHz; see OutboundAudioTrack)."""
        self.outbound.add_observer(observer)

    def on_received_track(self, reader: TrackReader) -> None:
        """Called with each received audio track as it arrives (encoded with ``decode_received=False``)."""
        self._track_readers.append(reader)

    def set_sdp_editors(self, offer: SdpEditor | None = None, answer: SdpEditor | None = None) -> None:
        """Hooks that may change the offer before it is applied and sent, and the answer
        before it is applied (an extension sets them in ``attach``, before the call starts)."""
        if self.state != CallState.IDLE:
            raise VoiceDeskError("SDP editors are set before the call starts")
        if offer is not None:
            self.edit_offer = offer
        if answer is not None:
            self.edit_answer = answer

    def update_impairment(self, text: str) -> ImpairmentSpec:
        """Change the impairment of this call (``ConfigError`` for a bad figure; ``VoiceDeskError``
        when the call was not placed through the relay)."""
        if self.relay is None:
            raise VoiceDeskError("impairment applies to a call placed with the relay on")
        return self.relay.update(text)

    def impairment_now(self) -> ImpairmentSpec | None:
        """The figures the relay applies now; None when the call does not go through it."""
        return self.relay.spec if self.relay is not None else None

    def impairment_counters(self) -> dict[str, DirectionCounters]:
        """The relay's ground truth per direction (``up``: sent, ``down``: received); empty without it."""
        return self.relay.counters if self.relay is not None else {}

    def send_codec(self) -> str | None:
        """The audio codec the answer chose for what this call sends (``audio/opus``), once negotiated."""
        for transceiver in self.pc.getTransceivers() if self.pc is not None else []:
            codecs = getattr(transceiver, "_codecs", None)  # aiortc keeps the negotiated list private
            if transceiver.kind == "audio" and codecs:
                return str(codecs[0].mimeType).lower()
        return None

    async def sample_stats(self) -> None:
        """Read getStats now rather than at the next interval (a check wants this moment's figures)."""
        if self.sampler is not None and not self._closed and self.state == CallState.CONNECTED:
            with contextlib.suppress(Exception):  # a pc closing under the read: the last sample stands
                await self.sampler.sample()

    # the conversation (rtc/events/) ---------------------------------------------
    def _events_channel(self) -> AgentEventsChannel:
        if self.agent_events is None:
            raise VoiceDeskError("this call reads no agent events: place it with agent events on (--agent-events)")
        return self.agent_events

    def send_text(self, text: str) -> None:
        """Give the agent ``text`` as if the caller had said it: RTVI ``send-text``, OpenAI
        ``conversation.item.create`` + ``response.create`` (held until the channel opens)."""
        try:
            self._events_channel().send_text(text)
        except ValueError as exc:
            raise VoiceDeskError(str(exc)) from None

    def send_client_message(self, kind: str, data: Any = None) -> None:
        """An RTVI ``client-message`` (``{"t": kind, "d": data}``) to the agent."""
        try:
            self._events_channel().send_client_message(kind, data)
        except ValueError as exc:
            raise VoiceDeskError(str(exc)) from None

    async def say_text(self, text: str) -> float:
        """Speak ``text`` into the call (espeak-ng, as the ``say:`` source), replacing the
        source's audio while it plays; returns its length in seconds. The words join the
        conversation as the caller's, labelled ``sent``."""
        from voicedesk.speech.tts import TTS_EXECUTOR, call_samples, find_tts

        if not text.strip():
            raise VoiceDeskError("nothing to say: give the words")

        def render() -> np.ndarray:
            # off the loop, all of it: the first find_tts loads espeak-ng (about a second), and
            # resampling seconds of speech takes tens of ms; the loop meanwhile paces the media
            return call_samples(find_tts(), text)

        audio = await asyncio.get_running_loop().run_in_executor(TTS_EXECUTOR, render)
        at = self._now_ms()
        seconds = self.outbound.insert_audio(audio)
        self.publish_conversation_event(caller_sent(text, at, "say"))
        return seconds

    def publish_conversation_event(self, event: ConversationEvent) -> None:
        """Add an event to this call's conversation and send it to listeners (a recognizer's
        transcript of the received audio, labelled ``TextSource.RECOGNIZER``, comes this way)."""
        self.conversation.add(event)
        self._emit(event)

    def add_listener(self, listener: CallListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CallListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, event: CallEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("call listener failed")

    def _on_signaling_exchange(self, event: SignalingExchanged) -> None:
        # the signaling does not know when the call started; stamp its events here
        self._emit(dataclasses.replace(event, t_ms=(event.at - self._t0) * 1000.0))

    def _on_impairment_change(self, event: ImpairmentChanged) -> None:
        self._emit(dataclasses.replace(event, t_ms=(event.at - self._t0) * 1000.0))

    def _now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0

    def now_ms(self) -> float:
        """Now on the call's clock (ms since it started): the axis of stats samples and events."""
        return self._now_ms()

    def _set_state(self, state: CallState, reason: str | None = None) -> None:
        if self.state == state or self.state.is_final:
            return
        self.state = state
        self.reason = reason
        if state.is_final:
            self._finished.set()
        logger.info("call %s%s", state.value, f": {reason}" if reason else "")
        self._emit(CallStateChanged(state, self._now_ms(), reason))

    # lifecycle ----------------------------------------------------------
    @property
    def muted(self) -> bool:
        return self.outbound.muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self.outbound.muted = value

    @property
    def source(self) -> MediaStreamTrack:
        """The track the caller's audio comes from (a tone, a file, the microphone…)."""
        return self.outbound.source

    @property
    def dtmf_sent(self) -> str:
        """Every DTMF digit sent so far, either way."""
        return "".join(s.tones for s in self.keypad.sent)

    def send_dtmf(
        self, digits: str, mode: str = "inband", *, duration: float | None = None, inter_tone_gap: float | None = None
    ) -> DtmfSending:
        """Send ``digits``: ``inband`` tones mixed into what the call sends, ``rfc4733``
        telephone-events (the peer must have negotiated them), or ``auto`` (events when
        negotiated, else in-band). ``duration``/``inter_tone_gap`` in ms (default: 100/70 as
        events, 90/70 in-band). ``.seconds`` is how long they take (rtc/call_dtmf.py)."""
        return self.keypad.send(digits, mode, duration, inter_tone_gap)

    @property
    def dtmf(self) -> RTCDTMFSender | None:
        """W3C ``sender.dtmf`` of the audio sender (``insertDTMF``, ``toneBuffer``,
        ``canInsertDTMF``); None before the call connects or when it sends no audio."""
        return self.keypad.dtmf

    async def start(self) -> None:
        """Set the call up; returns when connected, raises VoiceDeskError otherwise.

        On failure the call is already torn down and ``state`` is FAILED.
        """
        if self.state != CallState.IDLE:
            raise VoiceDeskError("a call can be started only once; create a new Call")
        try:  # outside the set-up timeout: a model's load is not the target's slowness
            for extension in self.extensions:
                await extension.prepare()
        except VoiceDeskError as exc:
            await self._fail(str(exc))
            raise
        self._t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout) as self._deadline:
                await self._setup()
        except TimeoutError:
            error = self._timeout_error()
            await self._fail(str(error))
            raise error from None
        except VoiceDeskError as exc:
            await self._fail(str(exc))
            raise
        except asyncio.CancelledError:
            await self._fail("cancelled")
            raise
        except Exception as exc:
            logger.exception("unexpected error while setting up the call")
            await self._fail(f"unexpected error: {exc}")
            raise VoiceDeskError(f"call failed: {exc}") from exc

    async def _setup(self) -> None:
        self._set_state(CallState.GATHERING)
        # aiortc has no setConfiguration: ICE servers a target announces (WHIP Link
        # headers) must be learned before the peer connection exists
        configuration = self.ice.to_rtc()
        configuration.iceServers = [*(configuration.iceServers or []), *await self.signaling.prepare()]
        aiortc_patches.apply()
        self.pc = pc = RTCPeerConnection(configuration)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_connection_state)
        if self.direction == "sendrecv":
            pc.addTrack(self._send_track)
        else:  # recvonly sends nothing: the track is never pulled
            pc.addTransceiver(self._send_track if self.direction == "sendonly" else "audio", direction=self.direction)
        for transceiver in pc.getTransceivers():  # the peer's audio, counted as it arrives (liveness)
            if transceiver.kind == "audio":
                self.rtp.watch(transceiver.receiver)
                self.keypad.watch(transceiver.receiver)
        if self.agent_events is not None:
            self.agent_events.open(pc)
        self.ice_monitor = IceMonitor(pc, self._now_ms, self.ice, remote_sdp=lambda: self.remote_sdp)
        offer = await pc.createOffer()
        self._offer_at = time.monotonic()
        await pc.setLocalDescription(offer)  # aiortc gathers candidates here
        self.setup_phases["gathering_ms"] = (time.monotonic() - self._offer_at) * 1000.0
        self.local_sdp = pc.localDescription.sdp
        if self.edit_offer is not None:
            await self._apply_edited_offer(pc, self.edit_offer)
        self._emit(DescriptionSet("local", "offer", self.local_sdp, self._now_ms()))
        if self.ice.iceTransportPolicy == "relay" and not candidates_in(self.local_sdp):
            # aiortc does not say why: ask the TURN server (refused credentials vs no answer)
            raise IceError(await explain_missing_relay(self.ice))

        self._set_state(CallState.SIGNALING)
        offer_out = RTCSessionDescription(sdp=self.local_sdp, type="offer")  # as edited, byte for byte
        if self.impairment is not None:
            offer_out = await self._route_offer_through_relay(offer_out)
        sent_at = time.monotonic()
        answer = await self.signaling.exchange(offer_out)
        self.setup_phases["signaling_ms"] = (time.monotonic() - sent_at) * 1000.0
        self.remote_sdp = answer.sdp
        if self.edit_answer is not None:
            self.remote_sdp = await self._edited("answer", answer.sdp, self.edit_answer)
            answer = RTCSessionDescription(sdp=self.remote_sdp, type="answer")
        if self.relay is not None:
            answer = RTCSessionDescription(sdp=await self.relay.rewrite_answer(answer.sdp), type=answer.type)
        edited = "edited " if "answer" in self.unedited_sdp else ""
        rejected = rejected_audio(self.local_sdp or "", answer.sdp)
        if rejected is not None:
            raise SdpError(
                f"the {edited}answer rejects the audio ({rejected}): the peer will neither send nor play audio"
            )
        bundle = unusable_bundle(answer.sdp)
        if bundle is not None:
            raise SdpError(f"the {edited}answer could not be applied: {bundle}")
        if "a=fingerprint:" not in answer.sdp:
            # aiortc applies it, then waits out the timeout in a handshake it cannot verify
            raise SdpError(f"the {edited}answer has no a=fingerprint: the peer's DTLS certificate cannot be verified")
        try:
            await pc.setRemoteDescription(answer)
        except Exception as exc:  # aiortc raises many types on bad SDP
            why = refusal_reason(answer.sdp, "answer", _describe(exc), offer=self.local_sdp)
            raise SdpError(f"the {edited}answer could not be applied: {why}") from None
        applied_at = time.monotonic()
        self._emit(DescriptionSet("remote", "answer", answer.sdp, self._now_ms()))
        if self.agent_events is not None and not _takes_data_channel(answer.sdp):
            self.agent_events.peer_refused("the answer has no m=application section, or rejects it with port 0")
        await self.signaling.set_remote_candidate_handler(self._add_remote_candidate)

        self._set_state(CallState.CONNECTING)
        await self._connected.wait()
        if self.state.is_final:
            raise self._connect_error or IceError(self.reason or "connection failed")
        now = time.monotonic()
        self.setup_phases["connecting_ms"] = (now - applied_at) * 1000.0
        self.setup_ms = (now - self._offer_at - self._paused_s) * 1000.0
        self.sampler = StatsSampler(pc, lambda: negotiated_clock_rate(self.remote_sdp), self._t0, self.stats_interval)
        self.sampler.add_listener(lambda s: self._emit(StatsSampled(s)))
        self.sampler.start()
        self.keypad.connected(pc.getTransceivers())
        self._set_state(CallState.CONNECTED)
        if self.media_timeout is not None and self.rtp.watching and self._peer_sends_audio():
            self._tasks.spawn(self._watch_media(self._now_ms()), "media watchdog")

    def _peer_sends_audio(self) -> bool:
        """Whether the answer promises audio from the peer (a recvonly answer sends none,
        and its silence is not a lost peer); an answer that cannot be read is watched."""
        direction = self.negotiated_direction
        return direction is None or "recv" in direction

    async def _watch_media(self, connected_ms: float) -> None:
        """Report the media lost once no packet came for ``media_timeout``; end the call as
        failed then, or (riding it out) wait for packets and watch again."""
        assert self.media_timeout is not None
        since = connected_ms
        while not self.state.is_final:
            last = await self.rtp.silence(self.media_timeout, since)
            if self.state.is_final:
                return
            reason = media_lost_reason(last, connected_ms)
            if self.source.readyState == "ended" or self._send_track.readyState == "ended":
                # an echo sends back only what it gets: the silence may be ours
                reason += "; this call had stopped sending (its source ended), so an echo had nothing to return"
            if self.media_lost_at_ms is None:
                self.media_lost_at_ms, self._packets_at_loss = last, self.rtp.packets
            logger.info("%s", reason)  # the user reads it as the call's reason or the event, once
            self._emit(MediaLost(self._now_ms(), last, reason, self.ride_out))
            if not self.ride_out:
                self._set_state(CallState.FAILED, reason)
                return
            await self.rtp.next_packet()  # the gap it ends is reported by _on_media_gap
            since = self._now_ms()

    def _on_media_gap(self, gap: MediaGap) -> None:
        if not self._closed:
            self._emit(MediaResumed(self._now_ms(), gap))

    def _on_peer_hangup(self, why: str) -> None:
        """The signaling channel that carries the call ended from the far side."""
        if self._closed or self.state.is_final or self.state == CallState.IDLE:
            return
        self.peer_hung_up_at_ms = at = self._now_ms()
        reason = f"the peer hung up at t = {at / 1000:.1f} s: {why}"
        if self.state != CallState.CONNECTED:
            self._connect_error = SignalingError(reason)  # start() raises it
        self._set_state(CallState.FAILED, reason)
        self._connected.set()

    async def _edited(self, kind: str, sdp: str, editor: SdpEditor) -> str:
        """Run an SDP edit hook. The set-up clock and timeout stop while it runs: a person may
        be editing (the GUI pauses here); a command-line editor bounds its own time."""
        loop = asyncio.get_running_loop()
        deadline, remaining = self._deadline, None
        when = deadline.when() if deadline is not None else None
        if deadline is not None and when is not None:
            remaining = when - loop.time()
            deadline.reschedule(None)
        paused_at = time.monotonic()
        try:
            edited = await editor(sdp)
        except VoiceDeskError:
            raise
        except Exception as exc:
            raise SdpError(f"editing the {kind} failed: {_describe(exc)}") from None
        finally:
            self._paused_s += time.monotonic() - paused_at
            if deadline is not None and remaining is not None:
                deadline.reschedule(loop.time() + remaining)
        if not isinstance(edited, str) or not edited.strip():
            raise SdpError(f"the edited {kind} is empty")
        try:
            sdp_model.parse(edited)
        except SdpError as exc:
            raise SdpError(f"the edited {kind} is not SDP: {exc}") from None
        if edited != sdp:
            self.unedited_sdp[kind] = sdp
        return edited

    async def _apply_edited_offer(self, pc: RTCPeerConnection, editor: SdpEditor) -> None:
        """The edited offer is what the peer gets, byte for byte, and what aiortc applies locally.

        aiortc's setLocalDescription parses the text it is given (a second call in
        have-local-offer is allowed): mids, m-line order and directions then follow the edit,
        and it refuses what it cannot use. It keeps its own ICE credentials, fingerprint and
        candidates whatever the text says, and picks codecs from the answer, so an offer that
        keeps only PCMU makes the peer answer PCMU and aiortc send PCMU.
        """
        edited = await self._edited("offer", self.local_sdp or "", editor)
        if "offer" not in self.unedited_sdp:
            return
        created = [m.kind for m in sdp_model.parse(self.unedited_sdp["offer"]).media]
        sections = [m.kind for m in sdp_model.parse(edited).media]
        if sections != created:
            # aiortc keeps a transport per section it created: one dropped from the text never
            # connects, and connectionState waits for it forever
            raise SdpError(
                f"the edited offer has sections {' '.join(sections) or 'none'} where aiortc created "
                f"{' '.join(created)}: edit inside the sections, do not add, remove or reorder them"
            )
        try:
            await pc.setLocalDescription(RTCSessionDescription(sdp=edited, type="offer"))
        except Exception as exc:  # aiortc raises ValueError, KeyError, AttributeError… on SDP it cannot use
            raise SdpError(f"the edited offer was refused: {refusal_reason(edited, 'offer', _describe(exc))}") from None
        self.local_sdp = edited

    async def _route_offer_through_relay(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Both sides learn only the relay's stand-in candidates (see rtc/impair.py)."""
        hosts = [
            c.split()[2].rsplit(":", 1)[0]
            for c in candidates_in(self.local_sdp)
            if c.startswith("host udp") and "." in c.split()[2]  # IPv4: IPv6 host candidates may be link-local
        ]
        self.relay = ImpairmentRelay(self.impairment, host=hosts[0] if hosts else "127.0.0.1", seed=self.impair_seed)
        self.relay.listeners.append(self._on_impairment_change)
        return RTCSessionDescription(sdp=await self.relay.rewrite_offer(offer.sdp), type=offer.type)

    async def _add_remote_candidate(self, candidate: Any) -> None:
        if self.pc is None or self._closed:
            return
        try:
            if self.relay is not None and candidate is not None:
                # trickled candidates must go through the impairment relay too
                if str(candidate.protocol).lower() != "udp":
                    logger.info("impairment relay drops trickled TCP candidate %s:%s", candidate.ip, candidate.port)
                    return
                address, port = await self.relay.remote_candidate(candidate.ip, candidate.port)
                candidate = dataclasses.replace(candidate, ip=address, port=port)
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # a bad candidate from the peer must not end the call
            logger.warning("remote candidate ignored: %s", _describe(exc))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        if self.decode_received:
            self._sink.addTrack(track)
            self._sink.start_reading()
        elif self.pc is not None:
            receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
            aiortc_patches.forward_encoded(receiver)
        for reader in self._track_readers:
            try:
                reader(track)
            except Exception:
                logger.exception("received-track reader failed")

    def _on_connection_state(self) -> None:
        if self.pc is None:
            return
        state = self.pc.connectionState
        logger.debug("connectionState %s", state)
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed") and not self._closed:
            failure = self._connect_failure(f"connection {state}")
            reason = str(failure)
            if self.state == CallState.CONNECTED:
                reason = f"connection to the peer lost ({state})"
            else:
                self._connect_error = failure
            self._set_state(CallState.FAILED, reason)
            self._connected.set()

    def _connect_failure(self, what: str) -> IceError | DtlsError:
        """Why the connection did not come up: ICE found no path, or it found one and the
        DTLS handshake on it did not finish (the cases need different fixes)."""
        if self.pc is not None and self.pc.iceConnectionState in ("connected", "completed"):
            return DtlsError(
                f"ICE connected but the DTLS handshake did not complete ({what}): a certificate did not "
                "match the a=fingerprint its side announced (check edited or relayed SDP), or the peer "
                "never answered the handshake"
            )
        return IceError(self._ice_failure_text(what))

    def _ice_failure_text(self, what: str) -> str:
        local = candidates_in(self.local_sdp)
        remote = candidates_in(self.remote_sdp)
        diagnosis = self.ice_monitor.diagnose() if self.ice_monitor is not None else []
        return (
            f"ICE did not connect ({what}); local candidates: {', '.join(local) or 'none'}; "
            f"remote candidates: {', '.join(remote) or 'none'}"
        ) + "".join(f"; {note}" for note in diagnosis)

    def _timeout_error(self) -> VoiceDeskError:
        if self.state == CallState.CONNECTING:
            return self._connect_failure(f"no connection within {self.timeout:g} s")
        return CallTimeout(f"call set-up timed out after {self.timeout:g} s while {self.state.value}")

    async def _fail(self, reason: str) -> None:
        self._set_state(CallState.FAILED, reason)
        await self._teardown()

    async def hangup(self) -> None:
        """End the call (idempotent). Sinks are flushed and closed."""
        await self.sample_stats()
        self._set_state(CallState.ENDED)
        await self._teardown()

    async def _teardown(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._tasks.cancel_all()
        if self.agent_events is not None:
            await self.agent_events.close()
        if self.sampler is not None:
            await self.sampler.stop()
        with contextlib.suppress(Exception):
            await self.signaling.close()
        if self.pc is not None:
            try:
                await asyncio.wait_for(self.pc.close(), PC_CLOSE_TIMEOUT)
            except Exception as exc:  # close() itself can raise after a failed negotiation
                logger.debug("pc.close failed: %s", exc)
        self.outbound.stop()
        if self._send_track is not self.outbound:
            self._send_track.stop()
        await self._sink.stop()
        self.keypad.finish()
        if self.relay is not None:
            self.relay.close()
        for extension in self.extensions:
            try:
                await extension.detach()
            except Exception:
                logger.exception("%s did not detach cleanly", type(extension).__name__)

    async def run(self, duration: float) -> CallSummary:
        """Start, hold for ``duration`` seconds (or until the peer goes), hang up, summarize."""
        try:
            await self.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hold(), duration)
        finally:
            await self.hangup()
        return self.summary()

    async def _hold(self) -> None:
        """Until the call ends or, with ``hangup_after_source``, the source has played out."""
        played_out = getattr(self.source, "played_out", None)  # sources with an end have one
        if not (self.hangup_after_source and isinstance(played_out, asyncio.Event)):
            await self._finished.wait()
            return
        waits = TaskOwner("call hold")
        try:
            ends = [waits.spawn(self._finished.wait(), "call end"), waits.spawn(played_out.wait(), "source end")]
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await waits.cancel_all()

    # results ------------------------------------------------------------
    @property
    def receive_gaps(self) -> GapCounter:
        """Audio that never arrived, counted on the received frames' timestamps."""
        return self._sink.gaps

    @property
    def latest_stats(self) -> StatsSample | None:
        """The last getStats sample (None before the first): cheap, for views refreshed by a timer."""
        return self.sampler.latest if self.sampler is not None else None

    def received_audio(self) -> ReceivedAudio:
        """What the received audio itself shows so far, without the analysis ``summary()`` runs
        (its dominant frequency costs ~2 ms: too much for a view that refreshes every second)."""
        gaps = self.receive_gaps
        return ReceivedAudio(
            gaps=gaps.count,
            gap_ms=gaps.missing_ms,
            clipped_samples=self.rx.clipped_samples,
            silent_ms=self.rx.silent_samples * 1000.0 / SAMPLE_RATE,
        )

    @property
    def stats_samples(self) -> list[StatsSample]:
        """Every getStats sample of the call so far, oldest first (a copy)."""
        return list(self.sampler.samples) if self.sampler is not None else []

    @property
    def audio_received(self) -> bool:
        return self.rx.frames > 0

    @property
    def negotiated_direction(self) -> str | None:
        """Our side's direction after the answer (``sendonly`` when a ``sendrecv`` offer was
        answered ``recvonly``); None before the answer."""
        return negotiated_direction(self.direction, self.remote_sdp)

    def media_verdict(self) -> MediaVerdict:
        """Whether the media did what the negotiated direction promises (rtc/direction.py)."""
        samples = self.stats_samples
        reports = [s for s in samples if s.remote_loss_pct is not None]
        latest = samples[-1] if samples else None
        return judge_media(
            self.negotiated_direction or self.direction,
            audio_received=self.audio_received,
            packets_sent=latest.packets_sent if latest else None,
            peer_reports=len(reports),
            peer_loss_pct=reports[-1].remote_loss_pct if reports else None,
        )

    def summary(self) -> CallSummary:
        """What the call measured so far (final after hang-up); ``.to_json()`` for output."""
        # imported when first asked for (at hang-up, by a report): not by a window that
        # has yet to place a call (bench/startup.py)
        from voicedesk.rtc.summary import CallSummary

        latest = self.sampler.latest if self.sampler else None
        rx_level = self.rx.level_dbfs()
        peak = self.rx.peak_hz()
        snap = self.ice_monitor.snapshot() if self.ice_monitor is not None else None  # did this call use TURN?
        extra: dict[str, Any] = {}
        if self.ice_monitor is not None and not self.ice_monitor.available:  # say so rather than "n/a"
            extra["ice_unavailable"] = snap.note if snap is not None else None
        negotiated = self.negotiated_direction
        if self.direction != "sendrecv" or negotiated not in (None, "sendrecv"):
            # only for calls that are not plain two-way: those keep the keys they had
            extra["direction"] = {"offered": self.direction, "negotiated": negotiated}
            if self.setup_ms is not None:
                extra["judged"] = self.media_verdict().judged
        keypad = self.keypad.summary()
        if keypad is not None:  # only for calls that sent or received DTMF
            extra["dtmf"] = keypad
        for extension in self.extensions:
            try:
                extra.update(extension.summary())
            except Exception:
                logger.exception("%s could not add to the summary", type(extension).__name__)
        return CallSummary(
            target=self.target,
            state="connected" if self.setup_ms is not None else self.state.value,
            final_state=self.state.value,
            reason=self.reason,
            setup_ms=_round(self.setup_ms),
            setup_phases={name: _round(ms) for name, ms in self.setup_phases.items()},
            packets_sent=latest.packets_sent if latest else 0,
            packets_received=latest.packets_received if latest else 0,
            loss_pct=_round(latest.loss_pct if latest else None, 2),
            jitter_ms=_round(latest.jitter_ms if latest else None, 2),
            rtt_ms=_round(latest.rtt_ms if latest else None, 2),
            bitrate_out_kbps=_round(latest.bitrate_out_kbps if latest else None),
            bitrate_in_kbps=_round(latest.bitrate_in_kbps if latest else None),
            rx_frames=self.rx.frames,
            rx_peak_hz=_round(peak, 1),
            rx_level_dbfs=_round(rx_level if rx_level > SILENCE_DBFS else None, 1),
            tx_frames=getattr(self._send_track, "frames_sent", 0),
            duration_ms=_round(self._now_ms()),
            impairment=self.relay.to_json() if self.relay is not None else None,
            # no events channel: the turns VoiceDesk itself knows (words it spoke, replies its recognizer heard)
            turns=self.agent_events.turns if self.agent_events is not None else self.conversation.summary_turns(),
            mos=latest.mos if latest else None,
            rx_gaps=self.receive_gaps.count,
            rx_gap_ms=_round(self.receive_gaps.missing_ms),
            rx_clipped_samples=self.rx.clipped_samples,
            rx_silent_ms=_round(self.rx.silent_samples * 1000.0 / SAMPLE_RATE),
            rx_audio_ms=_round(self.rx.samples * 1000.0 / SAMPLE_RATE),
            rx_audible_ms=_round((self.rx.samples - self.rx.silent_samples) * 1000.0 / SAMPLE_RATE),
            path=snap.path if snap else None,
            turn_used=snap.turn_used if snap else False,
            selected_pair=snap.selected.label if snap and snap.selected else None,
            media_timeout_s=self.media_timeout,
            media_lost_at_ms=_round(self.media_lost_at_ms),
            packets_after_media_lost=(
                self.rtp.packets - self._packets_at_loss if self._packets_at_loss is not None else None
            ),
            media_gaps=[gap.to_json() for gap in self.rtp.gaps],
            peer_hung_up_at_ms=_round(self.peer_hung_up_at_ms),
            agent_events_dropped=self.agent_events.dropped if self.agent_events is not None else 0,
            extra=extra,
        )


@dataclass(frozen=True)
class ReceivedAudio:
    gaps: int  # audio that never arrived, counted on the received frames' timestamps
    gap_ms: float
    clipped_samples: int  # received samples at full scale
    silent_ms: float  # received audio below the silence floor


SETUP_PHASE_NAMES = {"gathering_ms": "gathering", "signaling_ms": "signaling", "connecting_ms": "ICE+DTLS"}


def describe_setup(setup_ms: float | None, phases: dict[str, float | None]) -> str:
    """``41 ms (gathering 5, signaling 11, ICE+DTLS 25)``: the set-up and where it went."""
    if setup_ms is None:
        return "n/a"
    parts = [f"{SETUP_PHASE_NAMES.get(name, name)} {ms:.0f}" for name, ms in phases.items() if ms is not None]
    return f"{setup_ms:.0f} ms" + (f" ({', '.join(parts)})" if parts else "")


def _takes_data_channel(sdp: str) -> bool:
    """Whether an answer accepts a data channel: an m=application section with a port (0 refuses)."""
    try:
        return any(m.kind == "application" and m.port != 0 for m in sdp_model.parse(sdp).media)
    except SdpError:  # aiortc applied it: not our reader's place to say more
        return True


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
