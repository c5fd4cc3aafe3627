"""VoiceDesk calls a real Janus gateway (EchoTest plugin) over Janus's REST API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers.janus import Janus, running_janus
from tests.helpers.processes import voicedesk
from voicedesk.errors import SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, CallStateChanged
from voicedesk.rtc.signaling.janus import JanusSignaling

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Janus]:
    with running_janus(tmp_path_factory.mktemp("janus")) as gateway:
        yield gateway


def session_exists(janus: Janus, session_id: int) -> bool:
    """Janus answers a keep-alive for a live session and error 458 for a destroyed one."""
    body = json.dumps({"janus": "keepalive", "transaction": "t"}).encode()
    request = urllib.request.Request(f"{janus.url}/{session_id}", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["janus"] == "ack"


async def test_echotest_returns_our_tone_with_rtt_from_janus_rtcp(janus):
    signaling = JanusSignaling(janus.url)
    call = Call(signaling, source=ToneTrack(660), timeout=20)
    await call.start()
    session_id = signaling.session_id
    assert session_id is not None and session_exists(janus, session_id)
    rtt = None
    for _ in range(60):  # Janus sends its first RTCP receiver report within a few seconds
        await asyncio.sleep(0.25)
        sample = await call.sampler.sample()
        rtt = sample.rtt_ms
        if rtt is not None and call.rx.frames > 100:
            break
    await call.hangup()
    assert abs(call.rx.peak_hz() - 660) < 5
    assert rtt is not None and 0 <= rtt < 500
    steps = [json.loads(e.request_body).get("janus") for e in signaling.exchanges if e.method == "POST"]
    assert steps == ["create", "attach", "message", "destroy"]
    assert not session_exists(janus, session_id)  # destroyed on hang-up


async def test_an_unknown_plugin_is_a_clear_error(janus):
    call = Call(f"janus+{janus.url}?plugin=janus.plugin.nope", source=ToneTrack(500))
    with pytest.raises(SignalingError) as info:
        await call.start()
    assert str(info.value).startswith("Janus refused to attach janus.plugin.nope: error 460:")


async def test_a_plugin_error_event_is_a_clear_error(janus):
    """EchoTest answers a message without the expected body with an error event."""
    call = Call(f"janus+{janus.url}?body=%7B%22audio%22%3A%22loud%22%7D", source=ToneTrack(500))
    with pytest.raises(SignalingError) as info:
        await call.start()
    assert str(info.value).startswith("Janus janus.plugin.echotest error")


def test_cli_call_to_janus(janus):
    result = voicedesk("call", f"janus+{janus.url}", "--source", "tone:880", "--duration", "3", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "connected"
    assert abs(summary["rx_peak_hz"] - 880) < 5


def test_rfc4733_dtmf_to_a_peer_that_did_not_accept_telephone_event(janus):
    """EchoTest answers with Opus alone (it does not accept telephone-event): rfc4733 is
    refused in one line as soon as the call connects; auto sends in-band and says why."""
    target = f"janus+{janus.url}"
    refused = voicedesk("call", target, "--dtmf", "12", "--dtmf-mode", "rfc4733", "--duration", "5")
    assert refused.returncode == 1
    said = [line for line in refused.stderr.splitlines() if line.startswith("voicedesk:")]
    assert said == [
        "voicedesk: --dtmf-mode rfc4733: the peer did not accept telephone-event in its answer "
        "(use --dtmf-mode auto or inband)"
    ]
    assert "Traceback" not in refused.stderr

    fallback = voicedesk(
        "call", target, "--source", "silence", "--dtmf", "12", "--dtmf-mode", "auto", "--dtmf-delay", "0.2",
        "--duration", "1.5", "--json",
    )  # fmt: skip
    assert fallback.returncode == 0, fallback.stderr
    assert "[DTMF] sending '12' in-band (" in fallback.stderr
    assert "the peer did not accept telephone-event in its answer: sent in-band" in fallback.stderr
    dtmf = json.loads(fallback.stdout)["dtmf"]
    assert dtmf["mode"] == "inband" and dtmf["sent"] == "12" and dtmf["telephone_event"] is None
    assert dtmf["notes"] == ["the peer did not accept telephone-event in its answer: sent in-band"]


async def test_a_janus_that_dies_mid_call_is_the_peer_hanging_up(tmp_path):
    """The long poll carries the call's life: when it fails, the call ends at once as the
    peer hanging up, not 5 s later on the media timeout nor ~30 s later on ICE consent."""
    with running_janus(tmp_path) as gateway:
        call = Call(JanusSignaling(gateway.url), source=ToneTrack(660), timeout=20)
        ended = asyncio.Event()
        call.add_listener(lambda e: ended.set() if isinstance(e, CallStateChanged) and e.state.is_final else None)
        await call.start()
        await asyncio.sleep(1)
        os.killpg(gateway.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        await asyncio.wait_for(ended.wait(), 10)
        took = time.monotonic() - killed
        await call.hangup()
    assert took < 3.0, took
    summary = call.summary()
    assert summary.final_state == "failed" and summary.media_lost_at_ms is None
    assert summary.reason is not None and summary.reason.startswith("the peer hung up at t = ")
    assert "the Janus long poll ended" in summary.reason
