"""Text to speech with espeak-ng: its C library through ctypes, or its command.

Where the engine comes from, in order:

1. ``VOICEDESK_ESPEAK_LIBRARY`` (a path to ``libespeak-ng.so``) if set — only that;
2. the ``espeakng-loader`` wheel's library and data;
3. the system's ``libespeak-ng`` (Debian: ``apt-get install espeak-ng``);
4. the ``espeak-ng`` command (one process per sentence).

The library keeps global state, so every synthesis in the process runs on one
dedicated thread. ctypes releases the GIL during the foreign call, so the event
loop keeps running while espeak works.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import ctypes.util
import io
import logging
import os
import shutil
import subprocess
import threading
import wave
from collections.abc import Callable
from typing import Protocol

import numpy as np

from voicedesk.cores import leave_media_cpu
from voicedesk.errors import PipelineError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng) or the espeakng-loader wheel "
    "(pip install espeakng-loader)"
)
DEFAULT_VOICE = "en-us"
# 140 words per minute rather than espeak's 175: measured, pocketsphinx recognizes the slower speech better
DEFAULT_RATE = 140

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE_PARAMETER = 1
_PITCH_PARAMETER = 3
DEFAULT_PITCH = 50  # espeak's own default (0–99)
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

ShouldStop = Callable[[], bool]


class TtsEngine(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, should_stop: ShouldStop | None = None) -> np.ndarray:
        """Blocking: int16 mono samples at ``sample_rate`` (stops early when ``should_stop()``)."""
        ...


def call_samples(engine: TtsEngine, text: str) -> np.ndarray:
    """Blocking: ``text`` spoken as float32 mono at the call's rate, ready for a track's queue."""
    from voicedesk.media.pcm import SAMPLE_RATE
    from voicedesk.media.resample import resample, to_float

    return to_float(resample(engine.synthesize(text), engine.sample_rate, SAMPLE_RATE))


class EspeakLibrary:
    """espeak-ng's shared library in synchronous mode (one instance per process)."""

    name = "espeak-ng (library)"

    def __init__(self, library: str, data_dir: str | None) -> None:
        self.library = library
        self._lock = threading.Lock()
        try:
            self._lib = ctypes.CDLL(library)
        except OSError as exc:
            raise PipelineError(f"cannot load the espeak-ng library {library}: {exc}; {INSTALL_HINT}") from None
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        # espeak wants the directory that holds espeak-ng-data
        path = os.path.dirname(data_dir.rstrip("/")).encode() if data_dir else None
        rate_hz = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, path, 0)
        if rate_hz <= 0:
            raise PipelineError(f"espeak-ng could not start (data directory {data_dir or 'default'}); {INSTALL_HINT}")
        self.sample_rate = int(rate_hz)
        self._voice: str | None = None
        self._chunks: list[np.ndarray] = []
        self._should_stop: ShouldStop | None = None
        self._callback = _SYNTH_CALLBACK(self._on_samples)  # keep a reference: espeak calls it later
        self._lib.espeak_SetSynthCallback(self._callback)

    def _on_samples(self, wav, count: int, events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 1 if self._should_stop is not None and self._should_stop() else 0

    def synthesize(
        self, text: str, voice: str, rate: int, should_stop: ShouldStop | None = None, pitch: int = DEFAULT_PITCH
    ) -> np.ndarray:
        data = text.encode("utf-8")
        with self._lock:
            if voice != self._voice:
                if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise PipelineError(f"espeak-ng has no voice {voice!r}")
                self._voice = voice
            self._chunks = []
            self._should_stop = should_stop
            self._lib.espeak_SetParameter(_RATE_PARAMETER, rate, 0)
            self._lib.espeak_SetParameter(_PITCH_PARAMETER, pitch, 0)  # every time: the library keeps it
            self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            chunks, self._chunks, self._should_stop = self._chunks, [], None
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


class EspeakLibraryTts:
    """A voice and rate on the process's espeak-ng library."""

    name = "espeak-ng (library)"

    def __init__(
        self, library: EspeakLibrary, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE, pitch: int = DEFAULT_PITCH
    ) -> None:
        self.library = library
        self.voice = voice
        self.rate = rate
        self.pitch = pitch
        self.sample_rate = library.sample_rate
        library.synthesize("", voice, rate)  # fails now, not mid-call, on an unknown voice

    def synthesize(self, text: str, should_stop: ShouldStop | None = None) -> np.ndarray:
        return self.library.synthesize(text, self.voice, self.rate, should_stop, self.pitch)


class EspeakCommandTts:
    """The ``espeak-ng`` program, one run per sentence (``--stdout`` WAV)."""

    name = "espeak-ng (command)"

    def __init__(
        self, command: str, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE, pitch: int = DEFAULT_PITCH
    ) -> None:
        self.command = command
        self.voice = voice
        self.rate = rate
        self.pitch = pitch
        self.sample_rate = 22_050

    def synthesize(self, text: str, should_stop: ShouldStop | None = None) -> np.ndarray:
        try:
            done = subprocess.run(
                [self.command, "--stdout", "-v", self.voice, "-s", str(self.rate), "-p", str(self.pitch), "--", text],
                capture_output=True,
                timeout=30,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PipelineError(f"espeak-ng failed: {exc}") from None
        with wave.open(io.BytesIO(done.stdout)) as w:
            self.sample_rate = w.getframerate()
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


_libraries: dict[str, EspeakLibrary] = {}
_find_lock = threading.Lock()


def _library(path: str, data_dir: str | None) -> EspeakLibrary:
    if path not in _libraries:
        _libraries[path] = EspeakLibrary(path, data_dir)
    return _libraries[path]


def find_tts(voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE, pitch: int = DEFAULT_PITCH) -> TtsEngine:
    """The first espeak-ng found (see the module's doc), or PipelineError naming what to install."""
    # asked before any library: the loader wheel's build ends the whole process on a voice it
    # lacks, and a wrong voice is the user's to fix, not a reason to try another build
    if problem := voice_problem(voice):
        raise PipelineError(problem)
    with _find_lock:
        override = os.environ.get("VOICEDESK_ESPEAK_LIBRARY")
        if override:
            if not os.path.isfile(override):
                raise PipelineError(
                    f"the voice agent needs espeak-ng: VOICEDESK_ESPEAK_LIBRARY={override} does not exist; "
                    f"{INSTALL_HINT}"
                )
            return EspeakLibraryTts(_library(override, os.environ.get("VOICEDESK_ESPEAK_DATA")), voice, rate, pitch)
        try:
            import espeakng_loader

            lib = _library(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())
            return EspeakLibraryTts(lib, voice, rate, pitch)
        except ImportError:
            pass
        except PipelineError as exc:
            logger.info("espeakng-loader's library did not load: %s", exc)
        system = ctypes.util.find_library("espeak-ng")
        if system:
            try:
                return EspeakLibraryTts(_library(system, None), voice, rate, pitch)
            except PipelineError as exc:
                logger.info("the system's espeak-ng library did not load: %s", exc)
        command = shutil.which("espeak-ng")
        if command:
            return EspeakCommandTts(command, voice, rate, pitch)
    raise PipelineError(f"the voice agent needs espeak-ng for speech synthesis and found none; {INSTALL_HINT}")


def _loader_data_dir() -> str | None:
    """The espeakng-loader wheel's data directory when ``find_tts`` would use that build."""
    if os.environ.get("VOICEDESK_ESPEAK_LIBRARY"):
        return None
    try:
        import espeakng_loader
    except ImportError:
        return None
    return str(espeakng_loader.get_data_path())


def voice_problem(voice: str) -> str | None:
    """Why espeak-ng has no voice ``voice`` (``LANG[+VARIANT]``), or None if it has (or it cannot
    be told). Asked before synthesis: some espeak-ng builds end the process on a name they lack
    (the espeakng-loader wheel's does, on ``en-gb``) instead of returning an error; other builds
    match names more loosely (a Debian espeak-ng takes ``en-gb``) and report what they lack."""
    data = _loader_data_dir()
    if data is None or not os.path.isdir(os.path.join(data, "lang")):
        return None
    name, _, variant = voice.strip().partition("+")
    languages = {f.lower() for _, _, files in os.walk(os.path.join(data, "lang")) for f in files}
    if name.lower() not in languages:
        examples = ", ".join(v for v in ("en-us", "en", "en-029", "en-gb-x-rp") if v in languages)
        return f"espeak-ng has no voice {name!r}; e.g. {examples}"
    variants_dir = os.path.join(data, "voices", "!v")
    if variant and os.path.isdir(variants_dir) and variant not in os.listdir(variants_dir):
        return f"espeak-ng has no voice variant {variant!r}; e.g. f1…f5, m1…m7"
    return None


# One thread for every synthesis in the process (the library is not reentrant); started by the
# loop's thread, so it steps off the media CPU where the engine has claimed one (voicedesk/cores.py).
TTS_EXECUTOR = concurrent.futures.ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="voicedesk-tts", initializer=leave_media_cpu
)


def check_tts() -> str:
    """Raise PipelineError naming what to install if no espeak-ng is found; else the engine's name."""
    return find_tts().name
