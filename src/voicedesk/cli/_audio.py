"""Audio options of ``voicedesk call``: devices, speaker, recordings, DTMF.

Kept apart from ``call.py`` (which many features touch) so the call command only
adds the arguments, builds a ``CallAudio``, asks it for the source and hands it to
the call as an extension (rtc/extension.py): it attaches the speaker, the recorders
and the DTMF sender, and adds the devices it used to the summary.
The leading underscore keeps this module out of the subcommand list.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from aiortc.mediastreams import MediaStreamTrack

from voicedesk.errors import ConfigError
from voicedesk.limits import checked, number, seconds
from voicedesk.media.devices import AudioDeviceNotice, parse_device_spec
from voicedesk.media.dtmf import dtmf_samples, validate_digits
from voicedesk.media.microphone import MicrophoneTrack
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.sinks import AudioSink, StereoRecorderSink, WavRecorderSink
from voicedesk.media.sources import parse_source
from voicedesk.media.speaker import SpeakerSink
from voicedesk.rtc.call import Call, CallEvent, CallState, CallStateChanged
from voicedesk.rtc.call_dtmf import DTMF_MODES, NOT_NEGOTIATED, DtmfSending, event_seconds
from voicedesk.rtc.extension import CallExtension
from voicedesk.tasks import TaskOwner


def add_audio_arguments(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("audio devices, recordings and DTMF")
    group.add_argument(
        "--input-device", metavar="DEV", help="microphone for --source mic: index or name (`voicedesk devices`)"
    )
    group.add_argument(
        "--output-device", metavar="DEV", help="speaker: index or name (`voicedesk devices`); implies --speaker"
    )
    group.add_argument("--speaker", action="store_true", help="play received audio on the default output device")
    group.add_argument(
        "--playout-ms",
        type=number(minimum=0, maximum=1000),
        default=60.0,
        metavar="MS",
        help="playout buffer target depth in front of the speaker (default 60 ms)",
    )
    group.add_argument("--record-sent", metavar="OUT.wav", help="record sent audio to a WAV file")
    group.add_argument(
        "--record-stereo", metavar="OUT.wav", help="record both directions to one stereo WAV: left sent, right received"
    )
    group.add_argument(
        "--dtmf",
        type=_dtmf_digits,
        metavar="DIGITS",
        help="send DTMF after connecting, e.g. '1234#' (',' pauses: 0.5 s in-band, 2 s as events)",
    )
    group.add_argument(
        "--dtmf-mode",
        choices=DTMF_MODES,
        default="inband",
        help="inband: tones in the audio (default); rfc4733: telephone-event packets, as browsers send "
        "(the peer must accept telephone-event); auto: rfc4733 when accepted, else in-band",
    )
    group.add_argument(
        "--dtmf-delay",
        type=seconds(),
        default=1.0,
        metavar="SECONDS",
        help="wait this long after connecting before sending --dtmf (default 1)",
    )


def _dtmf_digits(text: str) -> str:
    """An argparse ``type=``: a bad key stops parsing (exit 2) before anything is dialed."""
    try:
        return validate_digits(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_dtmf_digits.__name__ = "DTMF digits"


class CallAudio(CallExtension):
    """What the audio options ask for, built before the call and attached to it."""

    def __init__(self, args: argparse.Namespace, duration: float) -> None:
        self.args = args
        self.duration = duration
        self.dtmf = validate_digits(args.dtmf) if args.dtmf else None
        # the parser's types checked these (voicedesk/limits.py); again for a namespace built by hand
        checked(args.dtmf_delay, "--dtmf-delay", minimum=0, kind="seconds")
        checked(args.playout_ms, "--playout-ms", minimum=0, maximum=1000)
        self.dtmf_mode: str = getattr(args, "dtmf_mode", None) or "inband"
        self.dtmf_seconds = 0.0
        if self.dtmf:  # how long the keys take: the longer way when auto has yet to choose
            inband = dtmf_samples(self.dtmf).size / SAMPLE_RATE
            events = event_seconds(self.dtmf)
            self.dtmf_seconds = {"inband": inband, "rfc4733": events}.get(self.dtmf_mode, max(inband, events))
        self.source_track: MediaStreamTrack | None = None
        self.recorder: WavRecorderSink | None = None
        self.speaker: SpeakerSink | None = None
        self.sent_recorder: WavRecorderSink | None = None
        self.stereo: StereoRecorderSink | None = None
        self._tasks = TaskOwner()
        self._t0_ms = 0.0
        self.sending: DtmfSending | None = None
        self.failure: str | None = None  # why the call was ended early (rfc4733 not negotiated)

    def source(self, spec: str) -> MediaStreamTrack:
        is_mic = spec.strip().lower().split(":", 1)[0] in ("mic", "microphone")
        if self.args.input_device is not None and not is_mic:
            raise ConfigError("--input-device chooses the microphone: use it with --source mic")
        self.source_track = parse_source(spec, input_device=parse_device_spec(self.args.input_device))
        if isinstance(self.source_track, MicrophoneTrack):
            self.source_track.add_listener(self._notice)
        return self.source_track

    def open_sinks(self) -> None:
        """Open the recordings and the speaker (before the call: a bad path or device fails early)."""
        sinks: list[AudioSink] = []
        try:
            if getattr(self.args, "record", None):
                self.recorder = WavRecorderSink(self.args.record)
                sinks.append(self.recorder)
            if self.args.speaker or self.args.output_device is not None:
                self.speaker = SpeakerSink(parse_device_spec(self.args.output_device), target_ms=self.args.playout_ms)
                self.speaker.add_listener(self._notice)
                sinks.append(self.speaker)
            if self.args.record_sent:
                self.sent_recorder = WavRecorderSink(self.args.record_sent)
            if self.args.record_stereo:
                self.stereo = StereoRecorderSink(self.args.record_stereo)
                sinks.append(self.stereo)
        except Exception:
            for sink in [*sinks, self.sent_recorder]:
                if sink is not None:
                    sink.close()
            raise
        self._sinks = sinks

    def attach(self, call: Call) -> None:
        for sink in getattr(self, "_sinks", []):
            call.add_sink(sink)
        if self.sent_recorder is not None:
            call.add_sent_observer(self.sent_recorder.write)
        if self.stereo is not None:
            call.add_sent_observer(self.stereo.write_sent)
        if self.dtmf:
            duration = self.duration
            if duration < self.args.dtmf_delay + self.dtmf_seconds:
                print(
                    f"voicedesk: warning: the call ends after {duration:g} s, before the DTMF tones "
                    f"({self.args.dtmf_delay:g} s + {self.dtmf_seconds:.1f} s) are all sent",
                    file=sys.stderr,
                )
            call.add_listener(lambda event: self._on_event(call, event))

    def _on_event(self, call: Call, event: CallEvent) -> None:
        if isinstance(event, CallStateChanged) and event.state == CallState.CONNECTED and self.dtmf:
            self._t0_ms = event.t_ms
            if self.dtmf_mode == "rfc4733" and not call.keypad.can_send_events:
                # known now, not after --dtmf-delay: say so and end the call
                self.failure = f"--dtmf-mode rfc4733: {NOT_NEGOTIATED} (use --dtmf-mode auto or inband)"
                print(f"voicedesk: {self.failure}", file=sys.stderr, flush=True)
                self._tasks.spawn(call.hangup(), "hang up")
                return
            self._tasks.spawn(self._send_dtmf(call), "dtmf")

    async def _send_dtmf(self, call: Call) -> None:
        await asyncio.sleep(self.args.dtmf_delay)
        assert self.dtmf is not None
        self.sending = sending = call.send_dtmf(self.dtmf, self.dtmf_mode)
        how = "as RFC 4733 telephone-events" if sending.mode == "rfc4733" else "in-band"
        why = f"; {sending.note}" if sending.note else ""
        print(f"[DTMF] sending {self.dtmf!r} {how} ({sending.seconds:.2f} s{why})", file=sys.stderr, flush=True)

    def _notice(self, notice: AudioDeviceNotice) -> None:
        print(f"voicedesk: {notice.message}", file=sys.stderr, flush=True)

    async def detach(self) -> None:
        await self.close()

    async def close(self) -> None:
        await self._tasks.cancel_all()
        # the call closes its own sinks; the sent-audio recorder is only an observer
        for sink in (self.recorder, self.sent_recorder, self.stereo, self.speaker):
            if sink is not None:
                sink.close()
        if self.source_track is not None:
            self.source_track.stop()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.speaker is not None:
            stats = self.speaker.stats()
            out["speaker"] = {
                "device": self.speaker.device.name if self.speaker.device else None,
                "rate": self.speaker.samplerate,
                "fallback": self.speaker.using_fallback,
                "playout_target_ms": round(stats.target_ms, 1) if stats else None,
                "playout_depth_ms": round(stats.depth_ms, 1) if stats else None,
                "underruns": stats.underruns if stats else None,
                "overruns": stats.overruns if stats else None,
                "drift_dropped_ms": round(stats.dropped_ms, 1) if stats else None,
                "drift_inserted_ms": round(stats.inserted_ms, 1) if stats else None,
            }
        if isinstance(self.source_track, MicrophoneTrack):
            mic = self.source_track
            out["microphone"] = {
                "device": mic.device.name if mic.device else None,
                "rate": mic.samplerate,
                "fallback": mic.using_fallback,
                "blocks": mic.blocks_captured,
                "overruns": mic.overruns,
            }
        if self.dtmf:
            out["dtmf_sent"] = self.dtmf
        return out

    def dtmf_line(self, keypad: dict[str, Any] | None) -> str | None:
        """The summary's DTMF line, from the call summary's ``dtmf`` entry."""
        if not keypad:
            return None
        parts = []
        if keypad.get("sent"):
            how = "as RFC 4733 events" if keypad.get("mode") == "rfc4733" else keypad.get("mode") or "in-band"
            how = "in-band" if how == "inband" else how
            pt = keypad.get("telephone_event")
            parts.append(f"sent {keypad['sent']!r} {how}" + (f" (payload type {pt})" if how != "in-band" else ""))
        parts.extend(keypad.get("notes") or [])
        if keypad.get("received_events"):
            parts.append(f"received {keypad['received']!r} as RFC 4733 events")
        return "dtmf           " + "; ".join(parts)

    def summary_lines(self) -> list[str]:
        lines = []
        info = self.summary()
        if "microphone" in info:
            mic = info["microphone"]
            where = "silence (fallback)" if mic["fallback"] else f"{mic['device']} at {mic['rate']} Hz"
            lines.append(f"microphone     {where}")
        if "speaker" in info:
            spk = info["speaker"]
            if spk["fallback"] or spk["playout_target_ms"] is None:
                lines.append("speaker        not played (fallback: null sink)")
            else:
                lines.append(
                    f"speaker        {spk['device']} at {spk['rate']} Hz; playout depth {spk['playout_depth_ms']} ms "
                    f"(target {spk['playout_target_ms']}), underruns {spk['underruns']}, overruns {spk['overruns']}"
                )
        return lines
