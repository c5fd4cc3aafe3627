"""``voicedesk gui`` (also ``voicedesk`` with no command): the desktop window.

Qt is imported only inside ``run`` so the command line stays usable (and the
core stays Qt-free) where PySide6 is not installed.
"""

from __future__ import annotations

import argparse

from voicedesk.errors import VoiceDeskError
from voicedesk.limits import DAY_S, seconds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop window (the default without a command)")
    p.add_argument("target", nargs="?", help="pre-fill the dialer with this target")
    p.add_argument("--call", action="store_true", help="call the target as soon as the window is up")
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help="call embedded:echo, wait for audio both ways, print one JSON line, quit (offscreen without a display)",
    )
    p.add_argument("--screenshot", metavar="PATH.png", help="with --smoke-test: save the window as a PNG")
    p.add_argument(
        "--timeout",
        type=seconds(above=0, maximum=DAY_S),
        default=45.0,
        help="with --smoke-test: seconds allowed (default 45)",
    )
    p.add_argument(
        "--engine",
        choices=("process", "inprocess"),
        help="where the call's media runs: its own process (the default; painting cannot delay the audio) "
        "or the window's (VOICEDESK_ENGINE sets the default)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "screenshot", None) and not getattr(args, "smoke_test", False):
        raise VoiceDeskError("--screenshot works with --smoke-test")
    if getattr(args, "call", False) and not getattr(args, "target", None):
        raise VoiceDeskError("--call needs a target: voicedesk gui embedded:echo --call")
    from voicedesk.engine import engine_mode

    engine = engine_mode(getattr(args, "engine", None))  # a bad VOICEDESK_ENGINE: one line, exit 1
    try:
        from voicedesk.gui.app import GuiOptions
        from voicedesk.gui.app import run as run_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise VoiceDeskError(
            f"the desktop app needs PySide6, qasync and pyqtgraph ({exc}): pip install 'voicedesk[gui]'"
        ) from None
    return run_app(
        GuiOptions(
            smoke_test=getattr(args, "smoke_test", False),
            screenshot=getattr(args, "screenshot", None),
            target=getattr(args, "target", None),
            call=getattr(args, "call", False),
            smoke_timeout=getattr(args, "timeout", 45.0),
            engine=engine,
        )
    )
