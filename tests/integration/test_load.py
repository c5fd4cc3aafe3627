"""``voicedesk load``: many real calls (aiortc over UDP) against a real server, as a user runs it."""

from __future__ import annotations

import json
import time

from tests.helpers.net import free_port
from tests.helpers.processes import serve, voicedesk


def last_json_line(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no output on stdout"
    return json.loads(lines[-1])


def test_twenty_calls_against_the_embedded_echo_all_succeed():
    out = voicedesk(
        "load",
        "embedded:echo",
        "--calls",
        "20",
        "--duration",
        "3",
        "--ramp",
        "20",
        "--source",
        "tone:1000",
        "--json",
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report = last_json_line(out.stdout)
    assert report["calls"] == 20 and report["succeeded"] == 20 and report["failed"] == 0
    assert report["not_placed"] == 0 and report["failures"] == {}
    assert report["processes"] >= 1
    for figure in ("setup_ms", "first_audio_ms", "jitter_ms", "loss_pct", "rx_fps"):
        assert set(report[figure]) >= {"p50", "p90", "p95", "p99", "max"}, figure
    assert 0 < report["setup_ms"]["p50"] <= report["setup_ms"]["p99"] < 15_000
    assert report["first_audio_ms"]["p50"] > report["setup_ms"]["min"]  # audio comes back after connecting
    assert report["loss_pct"]["max"] < 5.0
    assert 30 < report["rx_fps"]["p50"] < 60  # an echo sends back ~50 frames a second
    assert "started 20/20" in out.stderr  # live progress


def test_a_dead_port_fails_fast_with_the_reason():
    port = free_port()  # nothing listens there
    started = time.monotonic()
    out = voicedesk(
        "load",
        f"http://127.0.0.1:{port}/api/voice/offer",
        "--calls",
        "50",
        "--duration",
        "5",
        "--timeout",
        "60",
        "--json",
        timeout=90,
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 1
    assert "connection refused" in out.stderr and "stopped early" in out.stderr
    report = last_json_line(out.stdout)
    assert report["succeeded"] == 0 and report["not_placed"] > 0
    assert "connection refused" in next(iter(report["failures"]))
    # it stopped on the first failure: far less than one call's 60 s set-up allowance, let alone 50 of them
    assert elapsed < 45, elapsed


def test_calls_a_full_server_refuses_are_counted_with_their_reason():
    with serve("--max-sessions", "3", "--max-loop-lag-ms", "0") as (base_url, _):
        out = voicedesk(
            "load",
            f"{base_url}/api/voice/offer",
            "--calls",
            "6",
            "--duration",
            "3",
            "--ramp",
            "10",
            "--processes",
            "1",
            "--json",
            timeout=90,
        )
    assert out.returncode == 1  # some calls failed
    report = last_json_line(out.stdout)
    assert report["succeeded"] == 3 and report["failed"] == 3 and report["stopped_early"] is None
    ((reason, count),) = report["failures"].items()
    assert count == 3 and "503" in reason and "server busy" in reason


def test_bad_options_are_one_line_errors():
    out = voicedesk("load", "embedded:echo", "--calls", "0")
    assert out.returncode == 2 and out.stderr.strip() == "voicedesk load: --calls: expected a whole number ≥ 1, got 0"
    out = voicedesk("load", "embedded:echo", "--calls", "2", "--source", "tone:abc")
    assert out.returncode == 1 and out.stderr.startswith("voicedesk: bad source") and "Traceback" not in out.stderr
    out = voicedesk("load", "gopher://x", "--calls", "2")
    assert out.returncode == 1 and "unknown target" in out.stderr and "Traceback" not in out.stderr


def test_embedded_agent_options_reach_the_agent():
    """``embedded:AGENT?KEY=VALUE`` means the same to ``load`` as to ``call``."""
    bad = voicedesk("load", "embedded:parrot?bogus=1", "--calls", "1", "--duration", "1", timeout=60)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("voicedesk: the parrot agent has no option bogus (options: ")
    good = voicedesk(
        "load", "embedded:parrot?delay=300&vad=energy", "--calls", "2", "--duration", "1.5", "--json", timeout=60
    )
    assert good.returncode == 0, good.stderr
    report = last_json_line(good.stdout)
    assert report["succeeded"] == 2 and report["failed"] == 0
