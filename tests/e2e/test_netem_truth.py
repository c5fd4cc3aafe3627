"""Numbers against Linux netem: the agent in its own network namespace behind a
veth pair whose both ends delay or drop packets. The same StatsSampler that feeds
the window produces the figures checked here.

Skips with the reason where the kernel has no netem qdisc (it is a kernel module,
not a package: the Firecracker kernel of this workplace lacks it; the impairment
relay tests in tests/integration/test_impairment_truth.py are the ground truth
there)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.helpers.netns import PEER_ADDR, netns_pair, why_no_netem, why_no_netns
from tests.helpers.processes import voicedesk

pytestmark = pytest.mark.e2e


def call_through(netem: str | None, seconds: float, peer_netem: str | None = None) -> dict:
    with netns_pair(netem, peer_netem) as pair:
        server = subprocess.Popen(
            [
                *pair.exec_args(),
                sys.executable,
                "-m",
                "voicedesk",
                "serve",
                "--host",
                PEER_ADDR,
                "--port",
                "0",
                "--agent",
                "tone",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = server.stdout.readline()
            match = re.search(r"(http://[\d.]+:\d+)", line)
            assert match, (line, server.stderr.read() if server.poll() is not None else "")
            result = voicedesk(
                "call", f"{match.group(1)}/api/voice/offer", "--duration", str(seconds), "--json", timeout=seconds + 40
            )
        finally:
            server.terminate()
            server.wait(10)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def netns_works() -> None:
    if reason := why_no_netns():
        pytest.skip(reason)


def test_call_across_namespaces_without_impairment(netns_works):
    """The plumbing itself (runs wherever namespaces do, netem or not)."""
    summary = call_through(None, 3)
    assert summary["state"] == "connected"
    assert abs(summary["rx_peak_hz"] - 440) < 5
    assert summary["rtt_ms"] is not None and summary["rtt_ms"] < 20


@pytest.fixture(scope="module")
def netem_works(netns_works) -> None:
    if reason := why_no_netem():
        pytest.skip(reason)


def test_rtt_with_50ms_each_way(netem_works):
    baseline = call_through(None, 4)["rtt_ms"]
    shown = call_through("delay 50ms", 6)["rtt_ms"]
    expected = 100.0 + baseline
    assert abs(shown - expected) <= 0.10 * expected + 5.0, (shown, expected)


def test_loss_with_5_percent(netem_works):
    # netem on the peer's end drops what the agent sends: the loss we receive.
    # 30 s = 1500 packets: the binomial spread (0.56 points) sits well inside 1.5.
    shown = call_through(None, 30, peer_netem="loss 5%")["loss_pct"]
    assert abs(shown - 5.0) <= 1.5, shown


def test_jitter_rises_with_netem_jitter(netem_works):
    calm = call_through(None, 4)["jitter_ms"]
    shaky = call_through("delay 40ms 20ms", 6)["jitter_ms"]
    assert calm < 5.0 < 10.0 <= shaky
