"""What hangs off a call is handed to it when it is built (rtc/extension.py): attached
before the call starts, asked for its part of the summary, detached once it ends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.processes import voicedesk
from tests.unit.rtc.test_summary import KEYS
from voicedesk.errors import VoiceDeskError
from voicedesk.media.pcm import dominant_frequency
from voicedesk.media.sinks import AudioSink
from voicedesk.rtc.call import Call, CallState
from voicedesk.rtc.extension import CallExtension
from voicedesk.rtc.spec import CallSpec


class Tap(AudioSink):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[np.ndarray] = []

    def write(self, samples: np.ndarray) -> None:
        self.blocks.append(samples.copy())


class Listening(CallExtension):
    """Hears both directions, as a recorder or an analyzer would."""

    def __init__(self) -> None:
        self.received = Tap()
        self.sent: list[np.ndarray] = []
        self.attached_in: CallState | None = None
        self.detached = 0

    def attach(self, call: Call) -> None:
        self.attached_in = call.state
        call.add_sink(self.received)
        call.add_sent_observer(lambda block: self.sent.append(np.array(block, copy=True)))

    def summary(self) -> dict[str, object]:
        return {"listening": {"received_blocks": len(self.received.blocks), "sent_blocks": len(self.sent)}}

    async def detach(self) -> None:
        self.detached += 1


async def test_an_extension_hears_both_ways_and_reports_in_the_summary() -> None:
    listening = Listening()
    call = Call.from_spec(CallSpec("embedded:echo", source="tone:800"), extensions=[listening])
    summary = await call.run(1.5)
    assert listening.attached_in == CallState.IDLE  # before anything was sent
    assert listening.detached == 1
    await call.hangup()  # a second hang-up detaches nothing twice
    assert listening.detached == 1
    heard = np.concatenate(listening.received.blocks)
    assert abs(dominant_frequency(heard[-24_000:]) - 800) <= 5  # the echo of what was sent
    assert abs(dominant_frequency(np.concatenate(listening.sent)[-24_000:]) - 800) <= 5
    assert list(summary.to_json()) == [*KEYS, "listening"]
    assert summary["listening"]["received_blocks"] == len(listening.received.blocks) > 50


async def test_a_call_that_fails_to_start_still_detaches_its_extensions() -> None:
    listening = Listening()
    call = Call.from_spec(CallSpec("http://127.0.0.1:9/offer", timeout=3.0), extensions=[listening])
    with pytest.raises(VoiceDeskError):
        await call.run(1.0)  # nothing listens on port 9
    assert call.state == CallState.FAILED and listening.detached == 1


def test_an_impairment_preset_and_schedule_from_the_command_line() -> None:
    result = voicedesk(
        "call", "embedded:echo", "--duration", "1.5", "--json", "--impair", "Good Wi-Fi", "--impair-at", "0.5:loss=0%"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["impairment"]["changes"] == 2  # the preset, then the scheduled change
    assert (
        summary["impairment"]["spec"]["up"]["delay_ms"] == 10.0 and summary["impairment"]["spec"]["up"]["loss_pct"] == 0
    )
    changed = [line for line in result.stderr.splitlines() if "impairment now" in line]
    assert len(changed) == 1 and "loss 0" not in changed[0] and changed[0].startswith("[")
