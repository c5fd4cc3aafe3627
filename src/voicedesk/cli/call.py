"""``voicedesk call TARGET``: place one call and print what happened."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from voicedesk.config import IceConfig
from voicedesk.errors import VoiceDeskError
from voicedesk.media.sinks import AudioSink, WavRecorderSink
from voicedesk.media.sources import parse_source
from voicedesk.rtc.call import Call, CallEvent, CallState, CallStateChanged


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("call", help="place a call to an agent endpoint and print a summary")
    p.add_argument("target", help="http(s)://…/api/voice/offer, or embedded:echo / embedded:tone")
    p.add_argument(
        "--source", default="tone:440", help="tone:FREQ, wav:PATH, wav+loop:PATH or silence (default tone:440)"
    )
    p.add_argument("--duration", type=float, default=5.0, help="seconds to stay connected (default 5)")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds allowed for set-up (default 15)")
    p.add_argument("--ice", metavar="CONFIG.json", help="RTCConfiguration JSON (iceServers, iceTransportPolicy)")
    p.add_argument("--record", metavar="OUT.wav", help="record received audio to a WAV file")
    p.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra HTTP header for signaling, e.g. 'Authorization: Bearer …' (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    p.set_defaults(run=run)


def parse_headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise VoiceDeskError(f"bad header {value!r}: use 'Name: value'")
        headers[name.strip()] = rest.strip()
    return headers


def progress(event: CallEvent) -> None:
    if isinstance(event, CallStateChanged) and event.state not in (CallState.FAILED, CallState.ENDED):
        print(f"[{event.t_ms:7.0f} ms] {event.state.value}", file=sys.stderr, flush=True)


def print_summary(summary: dict[str, Any]) -> None:
    def fmt(value: Any, unit: str) -> str:
        return "n/a" if value is None else f"{value} {unit}"

    lines = [
        f"state          {summary['state']}",
        f"set-up         {fmt(summary['setup_ms'], 'ms')}",
        f"packets        sent {summary['packets_sent']}, received {summary['packets_received']}",
        f"loss           {fmt(summary['loss_pct'], '%')}",
        f"jitter         {fmt(summary['jitter_ms'], 'ms')}",
        f"rtt            {fmt(summary['rtt_ms'], 'ms')}  (from the peer's RTCP reports)",
        f"received audio {fmt(summary['rx_level_dbfs'], 'dBFS')}, peak {fmt(summary['rx_peak_hz'], 'Hz')}",
    ]
    print("\n".join(lines))


async def run(args: argparse.Namespace) -> int:
    ice = IceConfig.load(args.ice) if args.ice else IceConfig()
    for warning in ice.warnings:
        print(f"voicedesk: warning: {warning}", file=sys.stderr)
    if args.duration < 0 or args.timeout <= 0:
        raise VoiceDeskError("--duration must be ≥ 0 and --timeout > 0")
    sinks: list[AudioSink] = [WavRecorderSink(args.record)] if args.record else []
    call = Call(
        args.target,
        source=parse_source(args.source),
        sinks=sinks,
        ice=ice,
        timeout=args.timeout,
        headers=parse_headers(args.header),
    )
    call.add_listener(progress)
    error: VoiceDeskError | None = None
    try:
        summary = await call.run(args.duration)
    except VoiceDeskError as exc:
        error = exc
        summary = call.summary()
    if args.json:
        print(json.dumps(summary), flush=True)
    elif error is None:
        print_summary(summary)
    if error is not None:
        print(f"voicedesk: {error}", file=sys.stderr)
        return 1
    if summary["final_state"] == "failed":
        print(f"voicedesk: {summary['reason']}", file=sys.stderr)
        return 1
    if not call.audio_received:
        print("voicedesk: connected but no audio was received from the peer", file=sys.stderr)
        return 1
    return 0
