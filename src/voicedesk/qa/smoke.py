"""What a QA machine needs to know before trusting VoiceDesk: versions, the C
extensions it relies on, which aiortc patches took, audio devices, and whether a
call carries audio.

Qt-free: the packaged app's ``--smoke-test`` adds this to the window's own smoke
test, and ``voicedesk --smoke-test --headless`` runs it without a window.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
from typing import Any

# distribution -> module whose __version__ stands in where the metadata was not
# bundled (PyInstaller copies module code, not dist-info)
MODULES = {"PySide6-Essentials": "PySide6", "google-crc32c": "google_crc32c"}
DISTRIBUTIONS = (
    "aiortc",
    "aioice",
    "av",
    "numpy",
    "aiohttp",
    "PySide6-Essentials",
    "pyqtgraph",
    "qasync",
    "sounddevice",
    "google-crc32c",
    "pylibsrtp",
)


def versions() -> dict[str, str | None]:
    from voicedesk import __version__

    found: dict[str, str | None] = {"voicedesk": __version__, "python": platform.python_version()}
    for name in DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            try:
                module = importlib.import_module(MODULES.get(name, name))
                found[name] = str(getattr(module, "__version__", "")) or "present"
            except ImportError:
                found[name] = None
    return found


def c_extensions() -> dict[str, bool]:
    """Whether each compiled part loaded (a bundle that lost one falls back or fails)."""
    loaded: dict[str, bool] = {}
    try:
        import google_crc32c

        # "python" means the pure-Python fallback: SCTP/STUN checksums get slow
        loaded["google_crc32c_fast_path"] = google_crc32c.implementation == "c"
    except ImportError:
        loaded["google_crc32c_fast_path"] = False
    for module in ("pylibsrtp._binding", "av.audio.frame", "numpy", "aioice"):
        try:
            importlib.import_module(module)
            loaded[module.split(".")[0]] = True
        except ImportError:
            loaded.setdefault(module.split(".")[0], False)
    try:
        import _cffi_backend  # noqa: F401 - sounddevice and pylibsrtp need it

        loaded["cffi"] = True
    except ImportError:
        loaded["cffi"] = False
    return loaded


def audio_devices() -> dict[str, Any]:
    try:
        from voicedesk.media import devices

        found = devices.list_devices()
    except Exception as exc:  # no PortAudio, no sound server: a fact to report, not a crash
        return {"inputs": 0, "outputs": 0, "error": str(exc)}
    return {
        "inputs": sum(1 for d in found if d.has("input")),
        "outputs": sum(1 for d in found if d.has("output")),
    }


def aiortc_patches() -> dict[str, str]:
    """What became of each change VoiceDesk makes to aiortc ("applied", or skipped and why)."""
    from voicedesk.rtc import aiortc_patches

    return {f"{s.number} {s.name}": str(s) for s in aiortc_patches.status()}


def environment_report() -> dict[str, Any]:
    return {
        "versions": versions(),
        "c_extensions": c_extensions(),
        "aiortc_patches": aiortc_patches(),
        "audio_devices": audio_devices(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "platform": f"{platform.system()} {platform.machine()}",
    }


async def headless_call(tone_hz: float = 1000.0, seconds: float = 2.0) -> dict[str, Any]:
    """A call to the embedded echo agent; ``ok`` only when its tone came back."""
    from voicedesk.errors import VoiceDeskError
    from voicedesk.rtc.call import Call
    from voicedesk.rtc.spec import CallSpec

    call = Call.from_spec(CallSpec("embedded:echo", source=f"tone:{tone_hz:g}"))
    try:
        summary = await call.run(seconds)
    except VoiceDeskError as exc:
        return {"state": call.state.value, "ok": False, "reason": str(exc)}
    peak = summary.get("rx_peak_hz")
    ok = summary["state"] == "connected" and peak is not None and abs(peak - tone_hz) < 20
    return {"state": summary["state"], "ok": bool(ok), "rx_peak_hz": peak, "rx_frames": int(summary["rx_frames"])}
