"""``voicedesk load TARGET … --locust LOCUST OPTIONS``: the built-in locustfile, run by Locust."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from voicedesk.errors import ConfigError
from voicedesk.rtc.signaling import with_signaling_kind


def locust_argv(args: argparse.Namespace) -> list[str]:
    """``voicedesk load``'s options as the built-in locustfile's Locust options, then the user's own."""
    import voicedesk.load.locustfile as builtin

    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        builtin.__file__,
        "--host",
        with_signaling_kind(args.target, args.signaling),
    ]
    pairs = {
        "--source": args.source,
        "--duration": args.duration,
        "--scenario": args.scenario,
        "--ice": args.ice,
        "--impair": args.impair,
        "--call-timeout": args.timeout,
        "--media-timeout": args.media_timeout,
        "--onset": args.onset,
        "--pause": args.pause,
        "--reply-timeout": args.reply_timeout,
        "--barge-in-ms": args.barge_in_ms,
    }
    for flag, value in pairs.items():
        if value is not None:
            argv += [flag, str(value)]
    for utterance in args.say:
        argv += ["--say", utterance]
    for header in args.header:
        argv += ["--call-header", header]
    for slo in args.slo:
        argv += ["--slo", slo]
    if args.relay_only:
        argv.append("--relay-only")
    return argv + list(args.locust)


def run_locust(args: argparse.Namespace) -> int:
    """Replace this process with Locust (its Ctrl-C, exit status and output are Locust's own)."""
    if importlib.util.find_spec("locust") is None:
        raise ConfigError("--locust needs Locust: pip install 'voicedesk[load]'")
    env = dict(os.environ)
    if args.shape:
        from voicedesk.load.shapes import shape_from_spec

        shape_from_spec(args.shape)  # a bad one is a one-line error here, not a Locust traceback
        env["VOICEDESK_LOCUST_SHAPE"] = args.shape
    argv = locust_argv(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
    return 0  # not reached
