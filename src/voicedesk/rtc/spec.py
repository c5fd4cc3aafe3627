"""CallSpec: everything that defines a call, as plain data.

The command line, the window, scenarios, load and the pytest plugin each turn what a
user gave them into one ``CallSpec`` and build the call from it with
``Call.from_spec(spec, extensions=[…])``; what hangs off the call (recorders, a
speaker, a report capture, an SDP pause, analyzers) comes as extensions
(rtc/extension.py), so no builder reaches into a call it did not make.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voicedesk.config import IceConfig
from voicedesk.errors import ConfigError
from voicedesk.limits import problem
from voicedesk.media.conditions.spec import Conditions
from voicedesk.rtc.direction import check_direction
from voicedesk.rtc.events import AgentEventsSetup, check_agent_events
from voicedesk.rtc.impair import ImpairmentSpec
from voicedesk.rtc.impair_schedule import ImpairmentSchedule, ScheduledImpairment
from voicedesk.rtc.liveness import MEDIA_TIMEOUT
from voicedesk.speech.recognizers import SttChoice

if TYPE_CHECKING:
    from voicedesk.rtc.call import SdpEditor


@dataclass(frozen=True)
class CallSpec:
    target: str  # one word: see rtc/signaling/__init__.py
    signaling: str | None = None  # ``--signaling KIND``: the same as a ``KIND+`` prefix on the target
    source: str = "tone:440"  # media/sources.py: tone:FREQ, wav:PATH, say:TEXT, mic, silence…
    ice: IceConfig = field(default_factory=IceConfig)
    timeout: float = 15.0  # seconds allowed for set-up
    stats_interval: float = 1.0
    headers: Mapping[str, str] = field(default_factory=dict)  # extra HTTP headers for signaling
    impairment: ImpairmentSpec | None = None  # through the impairment relay from the start
    impair_schedule: tuple[ScheduledImpairment, ...] = ()  # changes after connecting (implies the relay)
    impair_seed: int | None = None
    edit_offer: SdpEditor | None = None
    edit_answer: SdpEditor | None = None
    # the agent's events protocol (rtc/events/): auto/None by the target, voicedesk, rtvi,
    # openai, off (True: voicedesk, False: off); what to send on it
    agent_events: bool | str | None = None
    agent_events_setup: AgentEventsSetup | None = None
    direction: str = "sendrecv"  # what the offer asks for: sendrecv, sendonly (ingest) or recvonly
    hangup_after_source: bool = False  # a run ends once the source (a file, say:) has played out
    media_timeout: float | None = MEDIA_TIMEOUT  # seconds without RTP from the peer; 0 or None: not watched
    ride_out: bool = False  # media lost: report it and stay on the call instead of failing it
    # noise, echo path, backchannels, pauses, caller voice mixed into what is sent (rtc/conditions.py)
    conditions: Conditions | None = None
    # VoiceDesk's recognizer on the replies (rtc/transcription.py): their words join the call's
    # conversation, placed by their audio, labelled with the recognizer; None: no transcription.
    # ``transcribe_phrases``: the constrained recognizer's phrases (qa/transcripts.py recognizer_phrases)
    transcribe: SttChoice | None = None
    transcribe_phrases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.target.strip():
            raise ConfigError("no target: give a URL or embedded:AGENT")
        # limits.problem is the one check of a number (NaN and infinities included); the words
        # here name the spec's fields, which a user may have set from any of the builders
        if problem(self.timeout, above=0) is not None:
            raise ConfigError(f"the set-up timeout must be a number of seconds > 0, not {self.timeout:g}")
        if problem(self.stats_interval, above=0) is not None:
            raise ConfigError(f"the stats interval must be a number of seconds > 0, not {self.stats_interval:g}")
        check_direction(self.direction)
        check_agent_events(self.agent_events)
        if self.media_timeout is not None and problem(self.media_timeout, minimum=0) is not None:
            raise ConfigError(
                f"the media timeout must be a number of seconds ≥ 0 (0 = off), not {self.media_timeout:g}"
            )

    def relay_impairment(self) -> ImpairmentSpec | None:
        """What the relay starts with; a schedule needs the relay even from a clean start."""
        if self.impairment is None and self.impair_schedule:
            return ImpairmentSpec()
        return self.impairment

    def schedule_extension(self) -> ImpairmentSchedule:
        return ImpairmentSchedule(self.impair_schedule)
