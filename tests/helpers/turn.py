"""A real coturn on loopback for tests (REAL_PARTS.md): free port, temp config, stop by pid.

``start_coturn(tmp_dir)`` starts one ``turnserver`` and returns a ``Coturn`` that
knows its port and credentials; ``coturn.stop()`` kills it by pid. Two flavours:
long-term credentials (``user=vd:vdpass``) and ``use-auth-secret`` (TURN REST
ephemeral credentials minted from ``static-auth-secret``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.net import free_port

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
REALM = "voicedesk.test"
USER = "vd"
PASSWORD = "vdpass"
SECRET = "vd-shared-secret"


@dataclass
class Coturn:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    auth_secret: str | None = None
    host: str = "127.0.0.1"
    tls_port: int | None = None
    ca_file: Path | None = None  # the self-signed certificate, to trust via SSL_CERT_FILE

    def url(self, transport: str = "udp") -> str:
        if transport == "tls":
            return f"turns:{self.host}:{self.tls_port}?transport=tcp"
        suffix = "?transport=tcp" if transport == "tcp" else ""
        return f"turn:{self.host}:{self.port}{suffix}"

    def ice_server(self, transport: str = "udp", username: str = USER, credential: str = PASSWORD) -> dict:
        return {"urls": self.url(transport), "username": username, "credential": credential}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def _free_udp_and_tcp_port() -> int:
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port for coturn")


_ranges_handed_out = itertools.count()


def _free_relay_range(size: int = 40) -> tuple[int, int]:
    """A relay port range apart from other coturns of this run (tests may run several side by side);
    coturn skips ports that are taken, so an overlap with another process only narrows the range."""
    base = 49160 + ((os.getpid() * 7 + next(_ranges_handed_out)) * size) % 12000
    return base, base + size - 1


def _self_signed_certificate(tmp_dir: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate for coturn's TLS listener")
    cert, key = tmp_dir / "cert.pem", tmp_dir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def start_coturn(tmp_dir: Path, *, auth_secret: str | None = None, tls: bool = False, wait: float = 10.0) -> Coturn:
    if not Path(TURNSERVER).exists():
        pytest.skip("coturn (turnserver) is not installed: apt-get install coturn")
    port = _free_udp_and_tcp_port()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tls_conf: list[str] = ["no-tls"]
    tls_port, cert = None, None
    if tls:
        cert, key = _self_signed_certificate(tmp_dir)
        tls_port = _free_udp_and_tcp_port()
        tls_conf = [f"tls-listening-port={tls_port}", f"cert={cert}", f"pkey={key}"]
    min_port, max_port = _free_relay_range()
    log = tmp_dir / "turn.log"
    auth = (
        ["use-auth-secret", f"static-auth-secret={auth_secret}"]
        if auth_secret
        else ["lt-cred-mech", f"user={USER}:{PASSWORD}"]
    )
    conf = [
        "listening-ip=127.0.0.1",
        "relay-ip=127.0.0.1",
        f"listening-port={port}",
        f"min-port={min_port}",
        f"max-port={max_port}",
        f"realm={REALM}",
        "fingerprint",
        *auth,
        "allow-loopback-peers",  # test only: lets coturn relay to 127.x peers
        "no-cli",
        *tls_conf,
        "no-dtls",
        "no-multicast-peers",
        f"pidfile={tmp_dir / 'turnserver.pid'}",
        f"log-file={log}",
        "simple-log",
    ]
    conf_path = tmp_dir / "turnserver.conf"
    conf_path.write_text("\n".join(conf) + "\n")
    proc = subprocess.Popen(
        [TURNSERVER, "-c", str(conf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    coturn = Coturn(port, proc, log, auth_secret, tls_port=tls_port, ca_file=cert)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"turnserver exited with {proc.returncode}: {coturn.log_text()[-2000:]}")
        try:
            for listening in (port, tls_port) if tls_port else (port,):
                with socket.create_connection(("127.0.0.1", listening), timeout=0.5):
                    pass
            return coturn
        except OSError:
            time.sleep(0.1)
    coturn.stop()
    raise RuntimeError(f"turnserver did not listen on {port} within {wait:g} s: {coturn.log_text()[-2000:]}")


@contextmanager
def running_coturn(tmp_dir: Path, *, auth_secret: str | None = None, tls: bool = False) -> Iterator[Coturn]:
    coturn = start_coturn(tmp_dir, auth_secret=auth_secret, tls=tls)
    try:
        yield coturn
    finally:
        coturn.stop()


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """A coturn with long-term credentials ``vd`` / ``vdpass`` (one per test module)."""
    with running_coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


@pytest.fixture(scope="module")
def coturn_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """A coturn with ``use-auth-secret`` (TURN REST ephemeral credentials from SECRET)."""
    with running_coturn(tmp_path_factory.mktemp("coturn-secret"), auth_secret=SECRET) as server:
        yield server


@pytest.fixture(scope="module")
def coturn_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """A coturn that also listens for TLS (``turns:``) with a self-signed certificate for 127.0.0.1."""
    with running_coturn(tmp_path_factory.mktemp("coturn-tls"), tls=True) as server:
        yield server
