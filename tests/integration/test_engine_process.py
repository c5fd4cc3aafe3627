"""The window's engine process (voicedesk/engine/): a call to the real server run in a child,
its audio read from the shared-memory rings, its events and figures mirrored, its death
reported, and no child left behind when the process that started it goes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.helpers.calls import until
from tests.helpers.processes import ended, serve, wait_until
from voicedesk.engine.client import EngineNotice, EngineProcess, RemoteCall
from voicedesk.errors import ConfigError
from voicedesk.media.pcm import SAMPLE_RATE, dominant_frequency, level_dbfs
from voicedesk.rtc.call import CallState, CallStateChanged, StatsSampled
from voicedesk.rtc.spec import CallSpec


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serve("--agent", "echo") as (base, _proc):
        yield f"{base}/api/voice/offer"


async def test_a_call_in_the_engine_sends_and_hears_its_tone_through_the_rings(echo_url: str) -> None:
    engine = EngineProcess()
    call = RemoteCall(engine, CallSpec(echo_url, source="tone:700"))
    events: list[object] = []
    call.add_listener(events.append)
    try:
        await call.start()
        assert call.state == CallState.CONNECTED and call.setup_ms is not None and call.setup_ms > 0
        assert engine.pid is not None and engine.pid != os.getpid()
        await until(
            lambda: call.rx.ring.written >= SAMPLE_RATE and call.tx.ring.written >= SAMPLE_RATE, "a second each way"
        )
        assert dominant_frequency(call.tx.ring.latest(SAMPLE_RATE)) == pytest.approx(700, abs=5)
        assert dominant_frequency(call.rx.ring.latest(SAMPLE_RATE)) == pytest.approx(700, abs=5)  # echoed back
        await until(lambda: any(isinstance(e, StatsSampled) for e in events), "stats")
        call.muted = True  # the same property as a local Call's, carried out in the engine
        await until(lambda: level_dbfs(call.tx.ring.latest(SAMPLE_RATE // 10)) < -80, "silence sent")
        assert call.muted
    finally:
        await call.hangup()
        call.close_rings()
        await engine.aclose()
    states = [e.state for e in events if isinstance(e, CallStateChanged)]
    assert states[-1] == CallState.ENDED and CallState.CONNECTED in states
    assert call.summary()["target"] == call.target
    assert not engine.alive


async def test_a_bad_call_is_the_engines_one_line_and_a_killed_engine_fails_the_call(echo_url: str) -> None:
    engine = EngineProcess()
    try:
        bad = RemoteCall(engine, CallSpec(echo_url, source="tone:notanumber"))
        with pytest.raises(ConfigError) as refused:
            await bad.start()
        assert "\n" not in str(refused.value) and bad.state == CallState.FAILED

        call = RemoteCall(engine, CallSpec(echo_url, source="tone:440"))
        events: list[object] = []
        call.add_listener(events.append)
        await call.start()
        pid = engine.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: call.state == CallState.FAILED, "the call failing")
        assert call.reason == "the engine process stopped unexpectedly (exit status -9)"
        assert any(isinstance(e, CallStateChanged) and e.state == CallState.FAILED for e in events)
        await asyncio.wait_for(call.hangup(), 10)  # nothing left to hang up: returns at once
        call.close_rings()
    finally:
        await engine.aclose()
    assert ended(pid)

    again = RemoteCall(engine, CallSpec(echo_url, source="tone:440"))  # the next call starts a new engine
    try:
        await again.start()
        assert again.state == CallState.CONNECTED and engine.pid not in (None, pid)
        notices: list[EngineNotice] = []
        again.add_listener(lambda e: isinstance(e, EngineNotice) and notices.append(e))
        again.send_dtmf("1", "rfc4733")
        await until(lambda: again.dtmf_sent == "1", "the key sent")  # mirrored from the engine
        again.send_dtmf("Z", "rfc4733")  # refused in the engine: a notice on screen, not a crash
        await until(lambda: bool(notices), "a notice")
        assert "Z" in notices[0].text and "\n" not in notices[0].text
    finally:
        await again.hangup()
        again.close_rings()
        await engine.aclose()


def test_the_engine_ends_when_the_process_that_started_it_dies() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from voicedesk.engine.client import EngineProcess

        async def main():
            engine = EngineProcess()
            await engine.ready()
            print(engine.pid, flush=True)
            await asyncio.sleep(120)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not ended(child)
        parent.kill()  # no chance to clean up: the child sees its pipe close
        parent.wait(10)
        assert wait_until(lambda: ended(child), timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_the_engine_logs_reach_this_process_at_its_levels(echo_url: str, caplog) -> None:
    caplog.set_level(logging.INFO, logger="voicedesk")
    webrtc = logging.getLogger("aioice")
    before = webrtc.level
    webrtc.setLevel(logging.INFO)  # what the window's "verbose WebRTC logs" preference does
    engine = EngineProcess()
    call = RemoteCall(engine, CallSpec(echo_url, source="tone:440"))
    try:
        await call.start()
    finally:
        await call.hangup()
        call.close_rings()
        await engine.aclose()
        webrtc.setLevel(before)
    ours = [r for r in caplog.records if r.name == "voicedesk.rtc.call"]
    assert any(r.getMessage() == "call connected" for r in ours)  # logged in the engine, handled here
    assert any(r.name.startswith("aioice") for r in caplog.records)
