"""A dead peer must not read as a good call (issue 23): real ``voicedesk serve`` and
``voicedesk call`` processes over real UDP, killed, stopped and cut off mid-call.

The bounds are generous around what is configured (a 5 s media timeout is reported
between 4.5 and 8 s after the peer went), and far below aiortc's own ~30 s consent
timeout, which was all there was before.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request

from tests.helpers.processes import LiveVoicedesk, serve, wait_until

MEDIA_TIMEOUT = 5.0  # voicedesk call's default
SERVER_MEDIA_TIMEOUT = 8.0  # voicedesk serve's default


def connected_at(call: LiveVoicedesk) -> tuple[float, float]:
    """When the call connected: (time.monotonic() in this process, t in ms on the call's clock)."""
    at, line = call.wait_for("] connected", 30)
    return at, float(re.search(r"\[\s*([\d.]+) ms\]", line).group(1))


def sessions(base: str) -> int:
    with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
        return int(json.loads(response.read())["sessions"])


def test_a_killed_server_is_reported_as_media_lost_within_the_media_timeout():
    with serve() as (base, server):
        with LiveVoicedesk("call", f"{base}/api/voice/offer", "--duration", "30", "--json") as call:
            connected_at(call)
            time.sleep(1.5)
            server.kill()
            killed = time.monotonic()
            done = call.finish(timeout=40)
    took = done.ended_at - killed
    assert done.returncode == 1, done.stderr
    assert MEDIA_TIMEOUT - 0.5 <= took <= MEDIA_TIMEOUT + 3, took  # not aiortc's ~30 s
    last = done.stderr.splitlines()[-1]
    assert re.fullmatch(r"voicedesk: no audio packets from the peer since t = \d+\.\d s", last), last
    summary = json.loads(done.stdout)
    assert summary["final_state"] == "failed" and summary["reason"] == last.removeprefix("voicedesk: ")
    assert summary["media_timeout_s"] == MEDIA_TIMEOUT
    since_s = float(last.split("t = ")[1].split()[0])
    assert abs(summary["media_lost_at_ms"] / 1000 - since_s) <= 0.05
    assert summary["peer_hung_up_at_ms"] is None


def test_a_killed_server_over_a_websocket_is_the_peer_hanging_up():
    with serve() as (base, server):
        url = base.replace("http://", "ws://") + "/ws"
        with LiveVoicedesk("call", url, "--duration", "30", "--json") as call:
            _, connected_ms = connected_at(call)
            time.sleep(1.5)
            server.kill()
            killed = time.monotonic()
            done = call.finish(timeout=40)
    took = done.ended_at - killed
    assert done.returncode == 1, done.stderr
    assert took <= 3.0, took  # the socket closes with the process: no media timeout to wait out
    last = done.stderr.splitlines()[-1]
    assert last.startswith("voicedesk: the peer hung up at t = "), last
    assert f"the WebSocket at {url} " in last  # closed (code …) or failed: …
    summary = json.loads(done.stdout)
    assert summary["final_state"] == "failed" and summary["media_lost_at_ms"] is None
    assert connected_ms + 1000 <= summary["peer_hung_up_at_ms"] <= connected_ms + 1500 + 3000


def test_total_loss_through_the_relay_is_reported_though_ice_consent_passes():
    with serve() as (base, _server):
        with LiveVoicedesk(
            "call", f"{base}/api/voice/offer", "--duration", "30", "--impair-at", "2:loss=100%", "--json"
        ) as call:
            connected, connected_ms = connected_at(call)
            done = call.finish(timeout=40)
    assert done.returncode == 1, done.stderr
    # the loss starts 2 s after connecting; the media timeout runs from the last packet
    assert 2 + MEDIA_TIMEOUT - 0.5 <= done.ended_at - connected <= 2 + MEDIA_TIMEOUT + 3
    summary = json.loads(done.stdout)
    assert summary["reason"].startswith("no audio packets from the peer since t = ")
    assert 1500 <= summary["media_lost_at_ms"] - connected_ms <= 3000, summary["media_lost_at_ms"]


def test_riding_out_a_loss_reports_it_and_keeps_the_call():
    with serve() as (base, _server):
        with LiveVoicedesk(
            "call",
            f"{base}/api/voice/offer",
            "--duration",
            "11",
            "--media-timeout",
            "3",
            "--ride-out",
            "--impair-at",
            "2:loss=100%",
            "--impair-at",
            "7:loss=0%",
            "--json",
        ) as call:
            connected, _ = connected_at(call)
            lost_at, lost_line = call.wait_for("riding it out", 15)
            assert 2 + 3 - 0.5 <= lost_at - connected <= 2 + 3 + 2.5, lost_at - connected  # reported at once
            done = call.finish(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "no audio packets from the peer since t = " in lost_line
    assert re.search(r"audio packets from the peer again after \d+\.\d s without", done.stderr), done.stderr
    summary = json.loads(done.stdout)
    assert summary["final_state"] == "ended" and summary["reason"] is None
    assert summary["media_lost_at_ms"] is not None
    assert summary["packets_after_media_lost"] > 100  # about 4 s of packets once the loss ended
    assert any(4000 <= gap["ms"] <= 6500 for gap in summary["media_gaps"]), summary["media_gaps"]


def test_a_frozen_server_that_recovers_in_time_is_a_gap_not_a_failure():
    with serve() as (base, server):
        with LiveVoicedesk("call", f"{base}/api/voice/offer", "--duration", "9", "--json") as call:
            connected_at(call)
            time.sleep(2)
            os.kill(server.pid, signal.SIGSTOP)
            try:
                time.sleep(2.5)
            finally:
                os.kill(server.pid, signal.SIGCONT)
            done = call.finish(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "audio packets from the peer again after" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["final_state"] == "ended" and summary["media_lost_at_ms"] is None
    assert len(summary["media_gaps"]) == 1, summary["media_gaps"]
    assert 2000 <= summary["media_gaps"][0]["ms"] <= 4500, summary["media_gaps"]


def test_the_server_frees_a_killed_callers_session_within_ten_seconds():
    with serve() as (base, _server):
        with LiveVoicedesk("call", f"{base}/api/voice/offer", "--duration", "60") as call:
            connected_at(call)
            assert sessions(base) == 1
            time.sleep(1)
            call.process.kill()
            killed = time.monotonic()
            call.finish(timeout=10)
            assert wait_until(lambda: sessions(base) == 0, timeout=20, interval=0.1)
            took = time.monotonic() - killed
    # its media timeout (8 s) after the last packet, not aiortc's ~34 s
    assert SERVER_MEDIA_TIMEOUT - 1 <= took <= 10.0, took
