"""Offline by default (issue 23): ``voicedesk serve`` in a network namespace whose only
resolver is a socket that records each query and never answers (a machine whose DNS
does not answer). Without an ICE configuration the server must answer at once and
look nothing up; given a STUN server by name it does look it up, which is how this
test knows its resolver would have seen a lookup."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.netns import HOST_ADDR, PEER_ADDR, netns_pair, why_no_netns
from tests.helpers.processes import serve_started, voicedesk, wait_until

pytestmark = pytest.mark.e2e

STUN_NAME = b"\x04stun\x01l\x06google\x03com"  # stun.l.google.com as a DNS question spells it


@pytest.fixture(scope="module")
def netns_works() -> None:
    if reason := why_no_netns():
        pytest.skip(reason)


@contextmanager
def server_without_dns(*serve_args: str) -> Iterator[tuple[str, socket.socket]]:
    """``voicedesk serve`` inside a namespace whose resolv.conf names a silent recorder."""
    with netns_pair() as pair:
        recorder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        recorder.bind((HOST_ADDR, 53))
        recorder.setblocking(False)
        etc = Path("/etc/netns") / pair.namespace  # `ip netns exec` mounts these over /etc
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text(f"nameserver {HOST_ADDR}\noptions timeout:5 attempts:1\n")
        try:
            with serve_started("--host", PEER_ADDR, *serve_args, launcher=tuple(pair.exec_args())) as served:
                yield f"{served.base_url}/api/voice/offer", recorder
        finally:
            recorder.close()
            shutil.rmtree(etc, ignore_errors=True)


def queries(recorder: socket.socket) -> list[bytes]:
    seen = []
    while True:
        try:
            seen.append(recorder.recv(2048))
        except BlockingIOError:
            return seen


def test_serve_answers_at_once_and_looks_nothing_up(netns_works):
    with server_without_dns() as (url, recorder):
        result = voicedesk("call", url, "--duration", "0.5", "--json", timeout=40)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        # the offer's POST to its answer: with aiortc's default STUN server it waited for DNS
        assert summary["setup_phases"]["signaling_ms"] < 1000, summary["setup_phases"]
        assert queries(recorder) == []


def test_a_stun_server_by_name_is_looked_up_so_the_check_above_can_fail(netns_works):
    with server_without_dns("--ice", "public-stun") as (url, recorder):
        voicedesk("call", url, "--duration", "0.5", "--timeout", "2", "--json", timeout=40)
        seen: list[bytes] = []
        assert wait_until(lambda: bool(seen.extend(queries(recorder)) or seen), timeout=5)
        assert any(STUN_NAME in query for query in seen)
