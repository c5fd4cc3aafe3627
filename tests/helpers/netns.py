"""Two hosts on one machine: a network namespace joined to the root one by a veth
pair, with optional netem on both ends (REAL_PARTS.md, "Network faults")."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

HOST_ADDR = "10.77.0.1"
PEER_ADDR = "10.77.0.2"
LOCK_PATH = "/tmp/voicedesk-tests-netns.lock"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def why_no_netns() -> str | None:
    """None when namespaces and veth work here, else the reason."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    name = f"vdprobe{uuid.uuid4().hex[:6]}"
    try:
        result = _ip("netns", "add", name, check=False)
        if result.returncode != 0:
            return f"ip netns add failed: {result.stderr.strip()}"
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"iproute2 unusable: {exc}"
    finally:
        _ip("netns", "del", name, check=False)


def why_no_netem() -> str | None:
    """None when the netem qdisc can be used, else the reason (it is a kernel module)."""
    if reason := why_no_netns():
        return reason
    link = f"vdq{uuid.uuid4().hex[:6]}"
    try:
        created = _ip("link", "add", link, "type", "veth", "peer", "name", link + "p", check=False)
        if created.returncode != 0:
            return f"cannot create a veth pair: {created.stderr.strip()}"
        result = subprocess.run(
            ["tc", "qdisc", "add", "dev", link, "root", "netem", "delay", "1ms"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if result.returncode != 0:
            return f"this kernel has no netem qdisc ({result.stderr.strip()})"
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tc unusable: {exc}"
    finally:
        _ip("link", "del", link, check=False)


@dataclass(frozen=True)
class NetnsPair:
    namespace: str
    host_link: str
    peer_link: str

    def exec_args(self) -> list[str]:
        """Prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.namespace]


@contextlib.contextmanager
def netns_pair(netem: str | None = None, peer_netem: str | None = None) -> Iterator[NetnsPair]:
    """A namespace at PEER_ADDR reached from HOST_ADDR. ``netem`` (e.g. "delay 50ms")
    is applied to both ends, so it counts once per direction; ``peer_netem`` only
    to what the namespace sends (what the host receives)."""
    # one pair at a time on this machine (its addresses are fixed): the suite runs in two
    # pytest-xdist workers, and two pairs at once route 10.77.0.2 to whichever came last
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield from _netns_pair(netem, peer_netem)


def _netns_pair(netem: str | None, peer_netem: str | None) -> Iterator[NetnsPair]:
    tag = uuid.uuid4().hex[:6]
    pair = NetnsPair(f"vdns{tag}", f"vdh{tag}", f"vdp{tag}")
    _ip("netns", "add", pair.namespace)
    try:
        _ip("link", "add", pair.host_link, "type", "veth", "peer", "name", pair.peer_link)
        _ip("link", "set", pair.peer_link, "netns", pair.namespace)
        _ip("addr", "add", f"{HOST_ADDR}/24", "dev", pair.host_link)
        _ip("link", "set", pair.host_link, "up")
        inside = ["-n", pair.namespace]
        _ip(*inside, "addr", "add", f"{PEER_ADDR}/24", "dev", pair.peer_link)
        _ip(*inside, "link", "set", pair.peer_link, "up")
        _ip(*inside, "link", "set", "lo", "up")
        if netem:
            subprocess.run(["tc", "qdisc", "add", "dev", pair.host_link, "root", "netem", *netem.split()], check=True)
        if netem or peer_netem:
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    pair.namespace,
                    "tc",
                    "qdisc",
                    "add",
                    "dev",
                    pair.peer_link,
                    "root",
                    "netem",
                    *(peer_netem or netem or "").split(),
                ],
                check=True,
            )
        yield pair
    finally:
        _ip("link", "del", pair.host_link, check=False)
        _ip("netns", "del", pair.namespace, check=False)
