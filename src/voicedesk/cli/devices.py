"""``voicedesk devices``: the audio input and output devices PortAudio sees."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from voicedesk.errors import DeviceError
from voicedesk.media.devices import NO_DEVICES_HINT, list_devices


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list audio input and output devices with their default rates")
    p.add_argument("--json", action="store_true", help="print the devices as a JSON list")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    devices = list_devices()
    if args.json:
        print(json.dumps([dataclasses.asdict(d) for d in devices]))
    if not devices:
        raise DeviceError(f"no audio devices found: {NO_DEVICES_HINT.split('? ')[0]}?")
    if args.json:
        return 0
    for direction in ("input", "output"):
        usable = [d for d in devices if d.has(direction)]
        print(f"{direction} devices:")
        if not usable:
            print("  (none)")
        for d in usable:
            default = d.default_input if direction == "input" else d.default_output
            channels = d.max_input_channels if direction == "input" else d.max_output_channels
            print(
                f"  {'*' if default else ' '} {d.index:>3}  {d.name}  "
                f"({d.hostapi}, {channels} ch, default {d.default_samplerate:g} Hz)"
            )
    print("* = default; pick one with --input-device / --output-device INDEX or NAME", file=sys.stderr)
    return 0
