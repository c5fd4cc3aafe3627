"""Voice activity detection: webrtcvad when installed, else an energy detector.

Both judge one 20 ms block of 48 kHz mono audio at a time. They are cheap
(microseconds per block), so the VAD processor calls them on the event loop.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from voicedesk.errors import ConfigError
from voicedesk.media.pcm import SAMPLE_RATE, level_dbfs

logger = logging.getLogger(__name__)


class VadEngine(Protocol):
    name: str

    def is_speech(self, samples: np.ndarray) -> bool:
        """``samples``: 20 ms of mono float32 at 48 kHz."""
        ...


class EnergyVad:
    """Speech is a block louder than ``threshold_dbfs`` (fine for clean, synthetic audio)."""

    name = "energy"

    def __init__(self, threshold_dbfs: float = -45.0) -> None:
        self.threshold_dbfs = threshold_dbfs

    def is_speech(self, samples: np.ndarray) -> bool:
        return level_dbfs(samples) > self.threshold_dbfs


class WebRtcVad:
    """Google's WebRTC VAD (``webrtcvad-wheels``); ``aggressiveness`` 0–3.

    Very quiet blocks are never speech, whatever the classifier says: it calls
    comfort noise and codec hiss speech now and then.
    """

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2, floor_dbfs: float = -55.0) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)
        self.floor_dbfs = floor_dbfs

    def is_speech(self, samples: np.ndarray) -> bool:
        if level_dbfs(samples) < self.floor_dbfs:
            return False
        pcm = np.clip(samples * 32768.0, -32768, 32767).astype("<i2").tobytes()
        return bool(self._vad.is_speech(pcm, SAMPLE_RATE))


def create_vad(kind: str = "auto") -> VadEngine:
    """``auto`` (webrtc if installed, else energy), ``webrtc`` or ``energy``."""
    kind = kind.strip().lower()
    if kind in ("auto", "webrtc"):
        try:
            return WebRtcVad()
        except ImportError:
            if kind == "webrtc":
                raise ConfigError("vad=webrtc needs webrtcvad: pip install webrtcvad-wheels") from None
            logger.info("webrtcvad is not installed; using the energy detector")
            return EnergyVad()
    if kind == "energy":
        return EnergyVad()
    raise ConfigError(f"unknown vad {kind!r}: use auto, webrtc or energy")
