"""A speech engine in a worker process of its own: the event loop only awaits its answers.

pocketsphinx holds the GIL while it decodes and CTranslate2 (Whisper) keeps a core busy
for a second at a time, so neither may run in the process that paces RTP. The worker is
``python -c "…worker_main(module)"`` talking pickled, length-prefixed messages over
stdin/stdout: unlike multiprocessing's spawn it never re-imports the parent's __main__ (a
user's script without a main guard would run twice). A frozen app has no ``python -c``:
there the worker is a multiprocessing process (its entry point runs freeze_support()).

Each engine module provides ``new_worker()``: an object with the methods the parent calls
by name; its recognizer is a ``WorkerRecognizer``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar, cast

import numpy as np

from voicedesk.cores import leave_media_cpu
from voicedesk.errors import PipelineError, VoiceDeskError
from voicedesk.speech.transcript import Transcript, Word

logger = logging.getLogger(__name__)

WORKER_NICENESS = 10  # added to the worker's nice value: the call's process goes first


def int16_bytes(samples: np.ndarray) -> bytes:
    """Samples (float in [-1, 1] or int16) as little-endian int16 bytes: what crosses the pipe."""
    if samples.dtype != np.int16:
        samples = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    return samples.astype("<i2").tobytes()


def _read_message(stream) -> object | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = struct.unpack("<I", header)[0]
    return pickle.loads(stream.read(size))


def _write_message(stream, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def _error(exc: Exception) -> tuple[str, str]:
    # our own errors are written for the user; anything else keeps its class name for the log
    return ("error", str(exc) if isinstance(exc, VoiceDeskError) else f"{type(exc).__name__}: {exc}")


def _yield_cpu() -> None:
    """Run below the call's process: on a machine whose cores are all busy, the scheduler then
    gives the media loop the CPU first and the recognizer what is left (measured with
    bench/gui_media_timing.py --modes headless-speech,headless-whisper), and off the CPU the
    engine's media has to itself where it has claimed one (voicedesk/cores.py)."""
    try:
        os.nice(WORKER_NICENESS)
    except (OSError, AttributeError):  # not permitted, or no nice() on this platform
        pass
    leave_media_cpu()  # before the model starts its threads: they inherit this thread's mask


def _serve(worker: object, receive: Callable[[], object | None], send: Callable[[object], None]) -> None:
    """Call ``worker.<name>(*args)`` for each message received, answer; until end of input (None)."""
    while True:
        message = receive()
        if message is None:
            return
        name, args = cast(tuple[str, tuple[Any, ...]], message)
        try:
            send(("ok", getattr(worker, name)(*args)))
        except Exception as exc:
            send(_error(exc))


def worker_main(module: str) -> None:
    """Entry point of the worker process (``python -c``): ``module``'s worker over stdin/stdout."""
    _yield_cpu()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the message pipe
    _serve(importlib.import_module(module).new_worker(), lambda: _read_message(stdin), partial(_write_message, stdout))


def _mp_serve(module: str, connection) -> None:  # the multiprocessing form of worker_main (frozen apps)
    _yield_cpu()

    def receive() -> object | None:
        try:
            return connection.recv()
        except (EOFError, OSError):
            return None

    _serve(importlib.import_module(module).new_worker(), receive, connection.send)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "the speech recognizer's worker process died"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the speech recognizer's worker process died ({name})"
    return f"the speech recognizer's worker process died (exit status {code})"


class SpeechWorker:
    """One worker process running ``module``'s worker; requests answered in order.

    ``module`` must define ``new_worker()`` (the object whose methods ``call`` runs).
    A lock keeps each request with its answer. Once the process has died every later
    call raises PipelineError with the same reason (``died``)."""

    def __init__(self, module: str, label: str = "speech recognizer") -> None:
        self.module = module
        self.label = label
        self._process: asyncio.subprocess.Process | None = None
        self._mp: tuple[Any, Any] | None = None  # (multiprocessing.Process, Connection) in a frozen app
        self._lock = asyncio.Lock()
        self.died: str | None = None

    @property
    def pid(self) -> int | None:
        if self._mp is not None:
            return cast(int | None, self._mp[0].pid)
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        if getattr(sys, "frozen", False) or os.environ.get("VOICEDESK_STT_WORKER") == "multiprocessing":
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            parent, child = context.Pipe()
            process = context.Process(target=_mp_serve, args=(self.module, child), name="voicedesk-stt", daemon=True)
            await asyncio.get_running_loop().run_in_executor(None, process.start)
            child.close()
            self._mp = (process, parent)
        else:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                f"from voicedesk.speech.worker import worker_main; worker_main({self.module!r})",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )

    async def call(self, name: str, *args: object) -> object:
        """``worker.<name>(*args)`` in the worker; its exception as PipelineError."""
        async with self._lock:
            if self.died is not None:
                raise PipelineError(self.died)
            if self._mp is not None:
                status, value = await asyncio.get_running_loop().run_in_executor(None, self._mp_call, name, args)
            else:
                status, value = await self._pipe_call(name, args)
        if status != "ok":
            raise PipelineError(f"{self.label}: {value}")
        return value

    async def _pipe_call(self, name: str, args: tuple[object, ...]) -> tuple[str, object]:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise PipelineError(f"the {self.label} is not started")
        data = pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            process.stdin.write(struct.pack("<I", len(data)) + data)
            await process.stdin.drain()
            size = struct.unpack("<I", await process.stdout.readexactly(4))[0]
            return cast(tuple[str, object], pickle.loads(await process.stdout.readexactly(size)))
        except (ConnectionError, asyncio.IncompleteReadError):
            try:
                code = await asyncio.wait_for(process.wait(), 2.0)
            except TimeoutError:
                code = None
            self.died = _exit_reason(code)
            raise PipelineError(self.died) from None

    def _mp_call(self, name: str, args: tuple[object, ...]) -> tuple[str, object]:  # on a thread
        assert self._mp is not None
        process, connection = self._mp
        try:
            connection.send((name, args))
            return cast(tuple[str, object], connection.recv())
        except (EOFError, OSError):
            process.join(2.0)
            self.died = _exit_reason(process.exitcode)
            raise PipelineError(self.died) from None

    async def close(self) -> None:
        if self._mp is not None:
            mp_process, connection = self._mp
            self._mp = None
            connection.close()  # the worker ends at end of input
            await asyncio.get_running_loop().run_in_executor(None, mp_process.join, 3.0)
            if mp_process.is_alive():
                logger.warning("the %s's worker process (pid %s) did not end; killing it", self.label, mp_process.pid)
                mp_process.kill()
            return
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the worker ends at end of input
        try:
            await asyncio.wait_for(process.wait(), 3.0)
        except TimeoutError:
            logger.warning("the %s's worker process (pid %d) did not end; killing it", self.label, process.pid)
            process.kill()
            await process.wait()


Settings = TypeVar("Settings")  # what the engine's load() takes: SttSettings, WhisperSettings


class WorkerRecognizer(Generic[Settings]):
    """A recognizer whose engine runs in a ``SpeechWorker`` (``module``'s worker): the
    ``Recognizer`` protocol (live, one utterance at a time) and ``clip`` (a whole clip with
    word times). Requests are answered in order. Subclasses name their ``module`` and ``label``."""

    module: ClassVar[str]  # the engine module: its new_worker() runs in the worker
    sample_rate = 16_000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.worker = SpeechWorker(self.module)
        self.load_s: float | None = None

    @property
    def label(self) -> str:  # for transcripts and logs: "pocketsphinx constrained", "whisper tiny.en"
        raise NotImplementedError

    async def start(self) -> None:
        """Start the worker and load the engine there (``settings`` crosses the pipe)."""
        await self.worker.start()
        self.load_s = cast(float, await self.worker.call("load", self.settings))
        logger.debug("recognizer (%s) ready in %.2f s", self.label, self.load_s)

    async def begin(self, input_rate: int = 48_000) -> None:
        """Start an utterance whose audio comes at ``input_rate`` (resampled in the worker)."""
        await self.worker.call("begin", input_rate)

    async def feed(self, samples: np.ndarray, want_partial: bool = False) -> str | None:
        """Decode more audio (float32 or int16); returns the partial hypothesis if asked."""
        return cast(str | None, await self.worker.call("feed", int16_bytes(samples), want_partial))

    async def finish(self) -> str:
        """The final transcript of the utterance."""
        return str(await self.worker.call("finish"))

    async def clip(self, samples: np.ndarray, sample_rate: int) -> Transcript:
        """A whole clip; word times in ms from its first sample."""
        text, words = cast(tuple[str, list[Word]], await self.worker.call("clip", int16_bytes(samples), sample_rate))
        return Transcript(text=text, words=tuple(words), recognizer=self.label)

    async def close(self) -> None:
        await self.worker.close()
