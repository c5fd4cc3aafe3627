"""A CPU of its own for the window's media: the engine's loop thread alone on one core.

Why: with the window painting, the peer and a recognizer on a two-core machine, the engine's
loop got the CPU late and the window's outgoing packet timing was 1.25–1.55× headless; with its
loop thread alone on the last core it measured 1.01× (bench/RESULTS.md, issue 24). Niceness
did not help: the scheduler still put other work on the loop's core.

Linux only (``os.sched_setaffinity``), and only where the process may run on two or more CPUs.
A thread, and a process it starts, begins with the mask of the thread that started it, so
everything the media thread starts must step off its core: the engine's executors run
``leave_media_cpu`` as their initializer, worker processes call it first thing (they find
the claim in ``CLAIM_ENV``, inherited), and a subprocess started from the loop is moved by pid.
Pinning is an optimisation: every failure here is logged and the call goes on unpinned.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

SETTING_ENV = "VOICEDESK_MEDIA_CPU"  # the user's: unset or "auto" (the last CPU), "off", or a CPU number
CLAIM_ENV = "VOICEDESK_MEDIA_CPU_CLAIMED"  # set by the engine for what it starts: "MEDIA/OTHER,OTHER…"

_claim: tuple[int, frozenset[int]] | None = None  # this process's: (the media CPU, the others)
_media_thread: int | None = None  # the native id of the thread that claimed it


def choose_media_cpu(setting: str | None, allowed: set[int]) -> int | None:
    """The CPU the media thread should have to itself, or None (off, or fewer than two CPUs)."""
    value = (setting or "auto").strip().lower()
    if value == "off" or len(allowed) < 2:
        return None
    if value == "auto":
        return max(allowed)
    try:
        cpu = int(value)
    except ValueError:
        cpu = -1
    if cpu not in allowed:
        logger.warning(
            "%s=%s: expected off, auto or one of the CPUs this process may use (%s); using CPU %d",
            SETTING_ENV,
            setting,
            ",".join(str(c) for c in sorted(allowed)),
            max(allowed),
        )
        return max(allowed)
    return cpu


def claim_media_cpu() -> int | None:
    """Put the calling thread (the engine's loop) alone on its CPU and every other thread of
    this process on the rest; what this thread starts later steps off (see module doc).
    Returns the CPU, or None where pinning is off or not possible."""
    global _claim, _media_thread
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    cpu = choose_media_cpu(os.environ.get(SETTING_ENV), allowed)
    if cpu is None:
        return None
    others = frozenset(allowed - {cpu})
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        logger.info("the media thread keeps every CPU: %s", exc.strerror or exc)
        return None
    _claim = (cpu, others)
    _media_thread = _this_thread()
    os.environ[CLAIM_ENV] = f"{cpu}/{','.join(str(c) for c in sorted(others))}"
    for tid in _threads():
        if tid != _media_thread:
            _move(tid, others)
    logger.info("media on CPU %d, the rest of the engine on %s", cpu, sorted(others))
    return cpu


def avoid_cpu(cpu: int) -> None:
    """Every thread of this process (the window's) off ``cpu``, which the engine's media has;
    threads started later inherit it from the thread that starts them."""
    if not hasattr(os, "sched_setaffinity"):
        return
    others = os.sched_getaffinity(0) - {cpu}
    if not others:
        return
    for tid in _threads():
        _move(tid, others)
    logger.info("the window off CPU %d (the engine's media), on %s", cpu, sorted(others))


def clear_media_cpu() -> None:
    """Move any thread but the media thread that is on the media CPU off it: threads a library
    starts from the loop with no say for us (asyncio's child watcher waits on a thread per
    subprocess). Called every half second while a call runs."""
    if _claim is None:
        return
    cpu, others = _claim
    for tid in _threads():
        if tid != _media_thread:
            with contextlib.suppress(OSError):
                if cpu in os.sched_getaffinity(tid):
                    _move(tid, others)


def leave_media_cpu(pid: int = 0) -> None:
    """Move this thread (or process ``pid``) off the media CPU, if the media thread has claimed
    one in this process or the one that started it; nothing otherwise."""
    claim = _claim or _inherited_claim()
    if claim is not None:
        _move(pid, claim[1])


def _inherited_claim() -> tuple[int, frozenset[int]] | None:
    text = os.environ.get(CLAIM_ENV)
    if not text or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        cpu, others = text.split("/", 1)
        return int(cpu), frozenset(int(c) for c in others.split(",") if c)
    except ValueError:
        return None


def _move(tid: int, cpus: frozenset[int] | set[int]) -> None:
    with contextlib.suppress(OSError):  # a thread that ended meanwhile, or a mask we may not set
        os.sched_setaffinity(tid, cpus)


def _this_thread() -> int:
    import threading

    return threading.get_native_id()


def _threads() -> list[int]:
    try:
        return [int(p.name) for p in Path("/proc/self/task").iterdir()]
    except OSError:
        return []
