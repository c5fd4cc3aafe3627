"""The media engine of a Locust worker: calls on a plain asyncio loop, driven over a pipe.

    python -m voicedesk.load.engine      (started by voicedesk.load.locust, never by hand)

Locust runs on gevent and monkey-patches the standard library (sockets, threads,
``time.sleep``, selectors); aiortc's asyncio loop, its UDP transports and the 20 ms
pacing of every call must not share a process with that. So each Locust worker
process starts one of these with a clean interpreter (``subprocess``, not ``fork``:
a forked child would inherit the patched modules) and sends it one JSON line per
command on stdin:

    {"op": "call", "id": 7, "plan": {...LoadPlan...}}   place a call (qa/load.place_call)
    {"op": "hangup", "id": 7}                            end that call now (its user stopped)
    {"op": "stop"}                                       end every call, then exit

and reads one JSON line per event on stdout: ``{"kind": "ready", "pid": …}`` once,
then ``connected`` / ``turn`` as they happen and one ``result`` (a CallResult) per call.
End of stdin (the worker is gone, whatever killed it), SIGINT and SIGTERM mean stop:
no call and no engine outlives its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import asdict
from typing import IO, Any

from voicedesk.errors import VoiceDeskError
from voicedesk.qa.load import CallResult, LoadPlan, place_call
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # for every call to hang up when told to stop


class Engine:
    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._calls: dict[int, asyncio.Task[None]] = {}
        self._hangups: dict[int, asyncio.Event] = {}
        self._owner = TaskOwner("engine", logger=logger, failed="engine task %s failed")
        self._ice: dict[tuple[str | None, bool], Any] = {}
        self._prepared: set[str] = set()
        self.stopping = asyncio.Event()

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._out.write(json.dumps(message, default=str) + "\n")
            self._out.flush()
        except (BrokenPipeError, ValueError):  # the worker is gone: nobody to tell
            self.stopping.set()

    def handle(self, line: str) -> None:
        try:
            command = json.loads(line)
            op = command["op"]
        except (ValueError, KeyError, TypeError):
            logger.warning("engine: ignored a line that is not a command: %.80s", line)
            return
        if op == "call":
            ident = int(command["id"])
            self._hangups[ident] = asyncio.Event()
            task = self._owner.spawn(self._call(ident, command["plan"]), f"call {ident}")
            self._calls[ident] = task
            task.add_done_callback(lambda _task: self._forget(ident))
        elif op == "hangup":
            event = self._hangups.get(int(command.get("id", -1)))
            if event is not None:
                event.set()  # the call ends now and still reports what it measured
        elif op == "stop":
            self.stopping.set()

    def _forget(self, ident: int) -> None:
        self._calls.pop(ident, None)
        self._hangups.pop(ident, None)

    def _setup(self, plan: LoadPlan) -> Any:
        """The plan's ICE configuration, resolved once, and its media prepared once."""
        from voicedesk.config import resolve_ice

        key = (plan.ice, plan.relay_only)
        if key not in self._ice:
            self._ice[key] = resolve_ice(plan.ice, relay_only=plan.relay_only)
        fingerprint = json.dumps([plan.source, plan.say, plan.scenario, plan.onset])
        if fingerprint not in self._prepared:
            plan.prepare()
            self._prepared.add(fingerprint)
        return self._ice[key]

    async def _call(self, ident: int, raw: dict[str, Any]) -> None:
        try:
            plan = LoadPlan.from_json(raw)
            ice = self._setup(plan)
        except (VoiceDeskError, TypeError, ValueError) as exc:
            self.send({"kind": "result", "id": ident, "result": asdict(CallResult(ident, ok=False, reason=str(exc)))})
            return

        def event(kind: str, data: dict[str, Any]) -> None:
            self.send({"kind": kind, "id": ident, **data})

        result = await place_call(plan, ident, ice, on_event=event, hangup=self._hangups.get(ident))
        self.send({"kind": "result", "id": ident, "result": asdict(result)})

    async def stop(self) -> None:
        """Hang every call up (each still reports), then cancel what did not end in time."""
        for event in self._hangups.values():
            event.set()
        if self._calls:
            await asyncio.wait(list(self._calls.values()), timeout=STOP_GRACE_S)
        await self._owner.cancel_all(STOP_GRACE_S)


async def serve(stdin: IO[str], out: IO[str]) -> None:
    loop = asyncio.get_running_loop()
    engine = Engine(out)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.stopping.set)
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    # import what a call needs before saying ready, so the first calls are not late by imports
    import voicedesk.rtc.call  # noqa: F401

    engine.send({"kind": "ready", "pid": os.getpid()})
    owner = TaskOwner("engine input", logger=logger)

    async def read() -> None:
        while not engine.stopping.is_set():
            line = await reader.readline()
            if not line:  # the worker closed the pipe or died
                engine.stopping.set()
                return
            engine.handle(line.decode("utf-8", "replace"))

    owner.spawn(read(), "commands")
    try:
        await engine.stopping.wait()
    finally:
        await owner.cancel_all()
        await engine.stop()


def _die_with_parent() -> None:
    """Linux: SIGTERM when the worker that started this process dies (a SIGKILLed worker
    never closes its pipe in time for a busy loop to notice)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="voicedesk engine %(process)d: %(message)s")
    for noisy in ("aiortc", "aioice"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    _die_with_parent()
    # stdout is the protocol: keep it for the engine's lines only, and send anything else
    # that writes to fd 1 (a library's print) to stderr
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        asyncio.run(serve(sys.stdin, out))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
