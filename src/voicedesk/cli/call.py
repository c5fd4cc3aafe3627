"""``voicedesk call TARGET``: place one call and print what happened."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

import voicedesk.agent
import voicedesk.speech  # noqa: F401  (registers the say: source)
from voicedesk.cli._audio import CallAudio, add_audio_arguments
from voicedesk.cli._conditions import add_condition_arguments, conditions_from_args, robustness_lines
from voicedesk.cli._events import add_events_arguments, events_setup
from voicedesk.config import resolve_ice
from voicedesk.errors import VoiceDeskError
from voicedesk.limits import DAY_S, count, seconds
from voicedesk.media.sources import source_usages
from voicedesk.qa.report import CallReporter, add_report_arguments
from voicedesk.qa.transcripts import CallTranscription, recognizer_phrases
from voicedesk.rtc.call import Call, CallEvent, CallState, CallStateChanged, describe_setup
from voicedesk.rtc.direction import DIRECTIONS
from voicedesk.rtc.events import AgentEventReceived
from voicedesk.rtc.impair import PRESETS, ImpairmentChanged, ImpairmentSpec
from voicedesk.rtc.impair_schedule import parse_schedule
from voicedesk.rtc.liveness import MEDIA_TIMEOUT, MediaLost, MediaResumed
from voicedesk.rtc.sdp.edit import command_editor
from voicedesk.rtc.signaling import parse_headers, selectable_kinds, targets_usage
from voicedesk.rtc.spec import CallSpec
from voicedesk.rtc.telephone_event import DtmfReceived
from voicedesk.speech.recognizers import SttChoice, add_stt_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("call", help="place a call to an agent endpoint and print a summary")
    p.add_argument(
        "target",
        help=targets_usage(),
    )
    p.add_argument(
        "--signaling",
        choices=selectable_kinds(),
        help="how to reach an http(s) target: the same as prefixing it with KIND+ (default json)",
    )
    p.add_argument(
        "--source",
        default="tone:440",
        help=f"{source_usages()} (default tone:440)",
    )
    p.add_argument("--duration", type=seconds(), default=5.0, help="seconds to stay connected (default 5)")
    p.add_argument(
        "--hangup-after-source",
        action="store_true",
        help="end the call when the source has played out (wav:, say:) instead of sending silence "
        "until --duration (which still caps the call)",
    )
    p.add_argument(
        "--direction",
        choices=DIRECTIONS,
        default="sendrecv",
        help="what the offer asks for: sendonly for an ingest endpoint (WHIP to a media server), "
        "recvonly to listen only (default sendrecv); success is judged by the direction negotiated",
    )
    p.add_argument(
        "--timeout", type=seconds(above=0, maximum=DAY_S), default=15.0, help="seconds allowed for set-up (default 15)"
    )
    p.add_argument(
        "--ice",
        metavar="CONFIG.json|PRESET",
        help="RTCConfiguration JSON (iceServers, iceTransportPolicy) or a preset (voicedesk ice presets)",
    )
    p.add_argument("--relay-only", action="store_true", help='force iceTransportPolicy "relay" (TURN only)')
    p.add_argument("--record", metavar="OUT.wav", help="record received audio to a WAV file")
    p.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra HTTP header for signaling, e.g. 'Authorization: Bearer …' (repeatable)",
    )
    p.add_argument(
        "--impair",
        metavar="SPEC",
        help="impair the network through a local relay: 'loss=5%%,burst=3,delay=80ms,jitter=20ms,rate=64kbit' "
        "(each way unless prefixed up. or down.), or a preset: " + ", ".join(f"'{name}'" for name in PRESETS),
    )
    p.add_argument(
        "--impair-at",
        action="append",
        default=[],
        metavar="SECONDS:SPEC",
        help="change the impairment SECONDS after connecting, e.g. '5:loss=20%%' (repeatable)",
    )
    p.add_argument(
        "--impair-seed", type=count(minimum=None), help="seed for the impairment's random numbers (repeatable runs)"
    )
    p.add_argument(
        "--edit-offer",
        metavar="CMD",
        help="pipe the local offer through a shell command (SDP on stdin, SDP to send on stdout) before it "
        "is applied and sent, e.g. 'voicedesk sdp edit --keep-codec PCMU -'",
    )
    p.add_argument(
        "--edit-answer", metavar="CMD", help="pipe the remote answer through a shell command before applying it"
    )
    p.add_argument(
        "--media-timeout",
        type=seconds(maximum=DAY_S),
        default=MEDIA_TIMEOUT,
        metavar="SECONDS",
        help="end the call as failed when no audio packets arrive from the peer for this long: it died, froze "
        f"or the path broke (default {MEDIA_TIMEOUT:g}; 0 = off)",
    )
    p.add_argument(
        "--ride-out",
        action="store_true",
        help="when the peer's audio packets stop for --media-timeout, say so and stay on the call "
        "(a network test that expects outages) instead of ending it as failed",
    )
    p.add_argument(
        "--transcribe",
        action="store_true",
        help="transcribe what the peer says as the call goes (each stretch of speech once it ends; --stt picks "
        "the recognizer); with agent events, each transcript is compared with the text the agent says it said",
    )
    add_stt_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    add_events_arguments(p)
    add_audio_arguments(p)
    add_condition_arguments(p)
    add_report_arguments(p)
    p.set_defaults(run=run)


def progress(event: CallEvent) -> None:
    if isinstance(event, CallStateChanged) and event.state not in (CallState.FAILED, CallState.ENDED):
        print(f"[{event.t_ms:7.0f} ms] {event.state.value}", file=sys.stderr, flush=True)
    elif isinstance(event, ImpairmentChanged) and event.t_ms is not None:
        print(f"[{event.t_ms:7.0f} ms] impairment now {event.spec.describe()}", file=sys.stderr)
    elif isinstance(event, MediaLost) and event.ride_out:  # else the call fails now and says why
        print(f"[{event.t_ms:7.0f} ms] {event.reason}; riding it out", file=sys.stderr, flush=True)
    elif isinstance(event, MediaResumed):
        print(
            f"[{event.t_ms:7.0f} ms] audio packets from the peer again after {event.gap.ms / 1000:.1f} s without",
            file=sys.stderr,
            flush=True,
        )
    elif isinstance(event, DtmfReceived):
        print(
            f"[{event.t_ms:7.0f} ms] DTMF {event.tone!r} received as an RFC 4733 event ({event.duration_ms:.0f} ms"
            f"{'' if event.ended else ', its end packets lost'})",
            file=sys.stderr,
            flush=True,
        )
    elif isinstance(event, AgentEventReceived) and event.type == "dtmf" and event.protocol == "voicedesk":
        heard = event.event
        print(
            f"[{event.t_ms:7.0f} ms] agent heard DTMF {heard.get('tone')!r} ({heard.get('duration_ms')} ms)",
            file=sys.stderr,
            flush=True,
        )
    elif isinstance(event, AgentEventReceived) and event.type == "turn" and event.protocol == "voicedesk":
        turn = event.event
        v2v = (turn.get("latency_ms") or {}).get("voice_to_voice")
        print(
            f"[{event.t_ms:7.0f} ms] agent turn {turn.get('turn')}: heard {turn.get('transcript')!r}, "
            f"said {turn.get('response')!r}, voice-to-voice {'n/a' if v2v is None else f'{v2v:.0f} ms'}"
            f"{', interrupted' if turn.get('interrupted') else ''}",
            file=sys.stderr,
            flush=True,
        )


def print_heard(entry: Mapping[str, Any]) -> None:
    """One transcript of ``--transcribe`` as it comes back."""
    at = entry.get("start_ms") or 0.0
    if entry.get("unavailable"):
        print(f"[{at:7.0f} ms] heard: transcript unavailable: {entry['unavailable']}", file=sys.stderr, flush=True)
        return
    compared = ""
    if entry.get("agent_text_wer") is not None:
        compared = f" (word error rate {entry['agent_text_wer']:.2f} against the agent's text {entry['agent_said']!r})"
    print(f"[{at:7.0f} ms] heard: {entry.get('text')!r}{compared}", file=sys.stderr, flush=True)


def transcription(args: argparse.Namespace) -> CallTranscription | None:
    """``--transcribe``'s extension, or None; ``--stt``/``--stt-model`` without it is an error."""
    if not args.transcribe:
        if args.stt != "constrained" or args.stt_model:
            raise VoiceDeskError("--stt and --stt-model choose the recognizer of --transcribe: add --transcribe")
        return None
    choice = SttChoice(args.stt, args.stt_model)
    choice.check()
    return CallTranscription(
        choice,
        on_heard=None if args.json else print_heard,
        target=args.target,
        phrases=recognizer_phrases((), args.target),
    )


def print_summary(summary: Mapping[str, Any]) -> None:
    def fmt(value: Any, unit: str) -> str:
        return "n/a" if value is None else f"{value} {unit}"

    lines = [
        f"state          {summary['state']}",
        f"set-up         {describe_setup(summary['setup_ms'], summary.get('setup_phases') or {})}",
        f"packets        sent {summary['packets_sent']}, received {summary['packets_received']}",
        f"loss           {fmt(summary['loss_pct'], '%')}",
        f"jitter         {fmt(summary['jitter_ms'], 'ms')}",
        f"rtt            {fmt(summary['rtt_ms'], 'ms')}  (from the peer's RTCP reports)",
        f"received audio {fmt(summary['rx_level_dbfs'], 'dBFS')}, peak {fmt(summary['rx_peak_hz'], 'Hz')} "
        f"in the last second; {audible_share(summary)}",
        f"ice path       {summary.get('path') or summary.get('ice_unavailable') or 'n/a'}"
        f"{' (through TURN)' if summary.get('turn_used') else ''}",
    ]
    direction = summary.get("direction")  # only for a call that is not plain two-way
    if direction:
        lines.append(
            f"direction      {direction.get('negotiated') or 'n/a'} (offered {direction.get('offered')})"
            f"{'; judged: ' + summary['judged'] if summary.get('judged') else ''}"
        )
    gaps = summary.get("media_gaps") or []
    if gaps or summary.get("media_lost_at_ms") is not None:  # only then: other calls print as they did
        lost = summary.get("media_lost_at_ms")
        longest = max((g["ms"] for g in gaps), default=0.0) / 1000
        lines.append(
            f"media gaps     {f'{len(gaps)}, longest {longest:.1f} s' if gaps else 'none'}"
            + (f"; lost at t = {lost / 1000:.1f} s" if lost is not None else "")
        )
    lines.extend(conversation_lines(summary))
    print("\n".join(lines))


def conversation_lines(summary: Mapping[str, Any]) -> list[str]:
    """The turns an agent's events told (RTVI, OpenAI; VoiceDesk's agents print theirs as they
    come), and the messages dropped: only when there are any, so other calls print as before."""
    lines = []
    for turn in summary.get("turns") or []:
        if "protocol" not in turn:  # a voicedesk agent's own report
            continue
        tools = ", ".join(str(call.get("name")) for call in turn.get("tool_calls") or [])
        lines.append(
            f"agent turn {turn.get('turn'):<3} heard {turn.get('heard')!r}, said {turn.get('said')!r}"
            + (f"; tools {tools}" if tools else "")
            + ("; interrupted" if turn.get("interrupted") else "")
        )
    if summary.get("agent_events_dropped"):
        lines.append(f"agent events   {summary['agent_events_dropped']} dropped (not JSON, over 64 KiB or unknown)")
    return lines


def audible_share(summary: Mapping[str, Any]) -> str:
    """``2.3 s of 8.0 s audible``: how much of what arrived was not silence."""
    received, audible = summary.get("rx_audio_ms") or 0.0, summary.get("rx_audible_ms") or 0.0
    return f"{audible / 1000:.1f} s of {received / 1000:.1f} s audible" if received else "no audio arrived"


async def run(args: argparse.Namespace) -> int:
    ice = resolve_ice(args.ice, relay_only=args.relay_only)
    for warning in ice.warnings:
        print(f"voicedesk: warning: {warning}", file=sys.stderr)
    spec = CallSpec(
        args.target,
        signaling=args.signaling,
        source=args.source,
        ice=ice,
        timeout=args.timeout,
        headers=parse_headers(args.header),
        impairment=ImpairmentSpec.parse(args.impair) if args.impair else None,
        impair_schedule=parse_schedule(args.impair_at),
        impair_seed=args.impair_seed,
        edit_offer=command_editor(args.edit_offer, "offer", args.timeout) if args.edit_offer else None,
        edit_answer=command_editor(args.edit_answer, "answer", args.timeout) if args.edit_answer else None,
        agent_events=args.agent_events,
        agent_events_setup=events_setup(args),
        direction=args.direction,
        hangup_after_source=args.hangup_after_source,
        media_timeout=args.media_timeout or None,
        ride_out=args.ride_out,
        conditions=conditions_from_args(args),
    )
    transcribe = transcription(args)
    if transcribe is not None:
        await transcribe.start()  # the model loads before the call: a bad one stops it here
    audio = CallAudio(args, args.duration)
    try:
        source = audio.source(args.source)
        audio.open_sinks()
        reporter = CallReporter(args.report, args.mask)
        extensions = [audio, *reporter.extensions(), *([transcribe] if transcribe is not None else [])]
        call = Call.from_spec(spec, source=source, extensions=extensions)
    except BaseException:
        await audio.close()  # a microphone already opened, a recording already created
        if transcribe is not None:
            await transcribe.transcriber.close()
        raise
    call.add_listener(progress)
    error: VoiceDeskError | None = None
    try:
        summary = await call.run(args.duration)
    except VoiceDeskError as exc:
        error = exc
        summary = call.summary()
    reporter.write(summary.to_json())
    if args.json:
        print(json.dumps(summary.to_json()), flush=True)
    elif error is None:
        print_summary(summary)
        for line in [*audio.summary_lines(), *robustness_lines(summary)]:
            print(line)
        dtmf = audio.dtmf_line(summary.get("dtmf"))
        if dtmf:
            print(dtmf)
    if error is not None:
        print(f"voicedesk: {error}", file=sys.stderr)
        return 1
    if audio.failure is not None:  # already said
        return 1
    if summary["final_state"] == "failed":
        print(f"voicedesk: {summary['reason']}", file=sys.stderr)
        return 1
    verdict = call.media_verdict()  # by the negotiated direction: a send-only call is judged by what it sent
    if not verdict.ok:
        print(f"voicedesk: {verdict.problem}", file=sys.stderr)
        return 1
    return 0
