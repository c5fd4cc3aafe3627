"""A real Janus gateway with only the EchoTest plugin and the HTTP transport (REAL_PARTS.md).

Debian's ``janus`` enables every plugin and transport; the fixture writes its own
configuration into a temp dir instead: EchoTest only, HTTP on 127.0.0.1 and a free
port, no admin API, a small RTP port range. Janus runs in its own process group and
is killed by that group id when the test is done.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.net import free_port
from tests.helpers.processes import stop_process_group

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
KEEP_PLUGINS = {"libjanus_echotest.so"}
KEEP_TRANSPORTS = {"libjanus_http.so"}


@dataclass
class Janus:
    url: str  # http://127.0.0.1:PORT/janus
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _libdir() -> Path | None:
    if JANUS_LIB.is_dir():
        return JANUS_LIB
    found = sorted(Path("/usr/lib").glob("*/janus"))
    return found[0] if found else None


def _disabled(folder: Path, keep: set[str]) -> str:
    return ",".join(sorted(p.name for p in folder.glob("libjanus_*.so") if p.name not in keep))


def write_config(directory: Path, port: int, libdir: Path, rtp_ports: tuple[int, int]) -> Path:
    janus_cfg = directory / "janus.jcfg"
    janus_cfg.write_text(
        f"""general: {{
    configs_folder = "{directory}"
    plugins_folder = "{libdir / "plugins"}"
    transports_folder = "{libdir / "transports"}"
    events_folder = "{libdir / "events"}"
    loggers_folder = "{libdir / "loggers"}"
    debug_level = 4
    debug_colors = false
    log_to_stdout = true
    session_timeout = 60
}}
certificates: {{
}}
media: {{
    rtp_port_range = "{rtp_ports[0]}-{rtp_ports[1]}"
}}
nat: {{
    nice_debug = false
    ice_ignore_list = "vmnet"
}}
plugins: {{
    disable = "{_disabled(libdir / "plugins", KEEP_PLUGINS)}"
}}
transports: {{
    disable = "{_disabled(libdir / "transports", KEEP_TRANSPORTS)}"
}}
loggers: {{
    disable = "{_disabled(libdir / "loggers", set())}"
}}
events: {{
    broadcast = false
}}
"""
    )
    (directory / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
cors: {{
}}
"""
    )
    (directory / "janus.plugin.echotest.jcfg").write_text("general: {\n}\n")
    return janus_cfg


@contextlib.contextmanager
def running_janus(tmp_path: Path) -> Iterator[Janus]:
    binary = shutil.which("janus")
    libdir = _libdir()
    if binary is None or libdir is None:
        pytest.skip("Janus is not installed (apt-get install janus, or scripts/setup.sh --test)")
    port = free_port()
    rtp_base = 20000 + (port % 200) * 50  # a small range per run, unlikely to collide with another test
    conf = write_config(tmp_path, port, libdir, (rtp_base, rtp_base + 40))
    log = tmp_path / "janus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-C", str(conf), "-F", str(tmp_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one below
        )
    janus = Janus(url=f"http://127.0.0.1:{port}/janus", log=log, process=process)
    try:
        _wait_until_answers(janus)
        yield janus
    finally:
        stop_process_group(process)


def _wait_until_answers(janus: Janus, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    info = janus.url + "/info"
    while time.monotonic() < deadline:
        if janus.process.poll() is not None:
            raise RuntimeError(f"janus exited with {janus.process.returncode}:\n{janus.log_text()[-2000:]}")
        try:
            with urllib.request.urlopen(info, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"janus did not answer on {info} within {timeout:g} s:\n{janus.log_text()[-2000:]}")
