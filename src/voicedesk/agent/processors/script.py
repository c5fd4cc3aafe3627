"""Script: plays a list of texts (spoken by TTS) or audio files, one per caller turn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicedesk.agent.frames import (
    EventFrame,
    Frame,
    FrameDirection,
    ResponseEndedFrame,
    ResponseStartedFrame,
    ResponseTextFrame,
    SpeechAudioOutFrame,
    SpeechStoppedFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.errors import ConfigError

AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".opus", ".flac", ".m4a")


@dataclass(frozen=True)
class ScriptItem:
    text: str | None = None
    audio: np.ndarray | None = None  # mono float32, 48 kHz
    source: str = ""


def load_script(entries: list[str], base: Path | None = None) -> list[ScriptItem]:
    """An entry naming an audio file (by suffix) is played; anything else is spoken."""
    from voicedesk.media.sources import load_audio_file

    items = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry.lower().endswith(AUDIO_SUFFIXES):
            path = Path(entry) if base is None or Path(entry).is_absolute() else base / entry
            items.append(ScriptItem(audio=load_audio_file(path), source=str(path)))
        else:
            items.append(ScriptItem(text=entry, source=entry))
    if not items:
        raise ConfigError("the script agent needs at least one line: --agent-option say='Hello|Goodbye' or file=PATH")
    return items


class ScriptProcessor(FrameProcessor):
    """Each time the caller stops speaking, the next item plays; after the last, silence
    (or from the top again with ``loop``)."""

    def __init__(self, items: list[ScriptItem], loop: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        self.items = items
        self.loop = loop
        self.position = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, SpeechStoppedFrame):
            await self._next()

    async def _next(self) -> None:
        if self.position >= len(self.items):
            if not self.loop:
                return
            self.position = 0
        item = self.items[self.position]
        self.position += 1
        await self.push_frame(EventFrame(event="script_step", data={"step": self.position, "item": item.source}))
        await self.push_frame(ResponseStartedFrame())
        if item.audio is not None:
            await self.push_frame(SpeechAudioOutFrame(samples=item.audio))
        else:
            await self.push_frame(ResponseTextFrame(text=item.text or ""))
        await self.push_frame(ResponseEndedFrame())
