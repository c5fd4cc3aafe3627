"""Network helpers shared by tests: a second loopback address, free ports."""

from __future__ import annotations

import socket
import subprocess

SECOND_LOOPBACK = "10.99.0.1"


def ensure_second_loopback_address() -> None:
    """aioice gathers no 127.0.0.1 host candidate; on a box whose only interface is
    lo, no call connects unless lo carries a second address (REAL_PARTS.md)."""
    try:
        subprocess.run(
            ["ip", "addr", "add", f"{SECOND_LOOPBACK}/32", "dev", "lo"],
            capture_output=True,
            check=False,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        pass  # not root or no iproute2: other interfaces may still serve


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
