"""``voicedesk`` command line: one module per subcommand, each with register/run."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from voicedesk import __version__
from voicedesk.errors import VoiceDeskError


def command_modules() -> list[str]:
    """Every module in this package is a subcommand with register(subparsers) / run(args)."""
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``voicedesk call: --duration: 'x' is not a number``, exit 2.

    argparse prints the whole usage block (13 lines for ``call``) before its one line of
    error, which buries what went wrong; ``--help`` still shows the usage. Subparsers
    inherit the class (argparse makes them with ``type(parent)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message.removeprefix('argument ')}\n")


def build_parser(only: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with just those in ``only`` (each command
    module imports what it runs with: registering all of them costs start-up time)."""
    import importlib

    parser = ArgumentParser(
        prog="voicedesk",
        description="A WebRTC workbench for voice-AI agents: call, measure, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"voicedesk {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output on stderr (-vv also raises aiortc/aioice)",
    )
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="check this install: versions, C extensions, audio devices, and a call to embedded:echo "
        "in the window (offscreen without a display); one JSON line; exit 0 only if audio came back",
    )
    parser.add_argument("--headless", action="store_true", help="with --smoke-test: no window")
    parser.add_argument("--screenshot", metavar="PATH.png", help="with --smoke-test: save the window as a PNG")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        if only is None or name in only:
            importlib.import_module(f"voicedesk.cli.{name}").register(sub)
    return parser


def commands_needed(argv: Sequence[str]) -> list[str] | None:
    """The subcommands ``argv`` can reach, or None for all of them (help, or a word that
    is not a command, where argparse must list the real choices)."""
    if any(arg in ("-h", "--help") for arg in argv):
        return None
    words = [arg for i, arg in enumerate(argv) if not arg.startswith("-") and (i == 0 or argv[i - 1] != "--screenshot")]
    if not words:
        return ["gui", "call"]  # no command: the window, or the embedded call without a display
    return [words[0]] if words[0] in command_modules() else None


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiortc", "aioice", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)


def fail(message: str) -> int:
    print(f"voicedesk: {message}", file=sys.stderr)
    return 1


def has_display() -> bool:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return sys.platform in ("darwin", "win32")


def smoke_test(headless: bool, screenshot: str | None) -> int:
    from voicedesk.qa import smoke

    if not headless:
        try:
            from voicedesk.gui.app import GuiOptions
            from voicedesk.gui.app import run as run_app
        except ImportError:
            headless = True  # no Qt in this install: the call still proves the engine
    if not headless:
        return run_app(GuiOptions(smoke_test=True, screenshot=screenshot, smoke_environment=True))
    result = asyncio.run(smoke.headless_call())
    result.update(smoke.environment_report())
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(commands_needed(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if args.smoke_test and args.command is None:
        configure_logging(args.verbose)
        return smoke_test(headless=args.headless, screenshot=args.screenshot)
    if args.command is None:  # no command: open the window (global options still apply)
        default = ["gui"]
        if not has_display():
            # the main job on the embedded default still runs where no window can open
            print(
                "voicedesk: no display found, so no window: calling the embedded echo agent here instead "
                "(on a desktop `voicedesk` opens the window; `voicedesk --help` lists the commands)",
                file=sys.stderr,
            )
            default = ["call", "embedded:echo"]
        args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), *default])
    configure_logging(args.verbose)
    try:
        result = args.run(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except VoiceDeskError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`voicedesk … | head`): not an error worth a traceback;
        # point stdout at devnull so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
