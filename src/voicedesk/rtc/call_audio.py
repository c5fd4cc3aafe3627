"""A call's local audio devices as an extension: the speaker it plays on, the microphone's notices.

The window's Audio tab hands one to each call (as an ``ExtensionRecipe``, so the speaker
opens in whichever process runs the call: playing is media) and shows its ``view()``
once a second: the devices in use, the playout buffer's figures, and the notices (a
fallback, a device lost mid-call) to put in the status bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicedesk.media.conditions.mixer import unconditioned
from voicedesk.media.devices import AudioDeviceNotice
from voicedesk.media.microphone import MicrophoneTrack
from voicedesk.media.playout import PlayoutStats
from voicedesk.media.speaker import SpeakerSink
from voicedesk.rtc.extension import CallExtension, ExtensionRecipe

if TYPE_CHECKING:
    from voicedesk.rtc.call import Call

KEY = "audio"


@dataclass(frozen=True)
class DeviceView:
    name: str | None  # None: the device has no name (or none is in use)
    samplerate: int | None
    using_fallback: bool  # no usable device: silence captured, received audio not played
    blocks: int = 0


@dataclass(frozen=True)
class CallAudioView:
    notices: tuple[str, ...]  # every notice of the call so far, oldest first
    microphone: DeviceView | None  # None: the call's source is not a microphone
    speaker: DeviceView | None  # None: not played on a speaker
    playout: PlayoutStats | None


class CallAudio(CallExtension):
    """The speaker (when ``speaker``) on ``device`` with a playout target of ``target_ms``;
    the microphone's and the speaker's notices, kept for whoever shows them."""

    def __init__(self, speaker: bool = False, device: str | None = None, target_ms: int = 60) -> None:
        self.notices: list[str] = []
        self.speaker = SpeakerSink(device, target_ms=target_ms) if speaker else None
        self.microphone: MicrophoneTrack | None = None
        if self.speaker is not None:
            self.speaker.add_listener(self._notice)

    @staticmethod
    def recipe(speaker: bool, device: str | None, target_ms: int) -> ExtensionRecipe:
        options = {"speaker": speaker, "device": device, "target_ms": target_ms}
        return ExtensionRecipe(KEY, "voicedesk.rtc.call_audio:CallAudio", options)

    def _notice(self, notice: AudioDeviceNotice) -> None:
        self.notices.append(notice.message)

    def attach(self, call: Call) -> None:
        source = unconditioned(call.source)  # a microphone with noise or echo mixed in is still one
        if isinstance(source, MicrophoneTrack):
            self.microphone = source
            source.add_listener(self._notice)
        if self.speaker is not None:
            call.add_sink(self.speaker)

    async def detach(self) -> None:
        if self.speaker is not None:
            self.speaker.close()  # the call closes its sinks too; closing twice is harmless

    def view(self) -> CallAudioView:
        mic, speaker = self.microphone, self.speaker
        stats = speaker.stats() if speaker is not None else None
        mic_view = speaker_view = None
        if mic is not None:
            name = mic.device.name if mic.device else None
            mic_view = DeviceView(name, mic.samplerate, mic.using_fallback, mic.blocks_captured)
        if speaker is not None:
            name = speaker.device.name if speaker.device else None
            speaker_view = DeviceView(name, speaker.samplerate, speaker.using_fallback or stats is None)
        return CallAudioView(tuple(self.notices), mic_view, speaker_view, stats)
