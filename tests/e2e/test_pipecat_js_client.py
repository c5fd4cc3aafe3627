"""pipecat's own JS client in headless Chromium calls ``voicedesk serve`` from another origin.

The client is ``@pipecat-ai/client-js`` with ``@pipecat-ai/small-webrtc-transport`` from npm,
bundled by esbuild (``tests/e2e/pipecat_js``, built by ``scripts/setup.sh --test``). Its page
is served from one port, the agent server runs on another: a cross-origin call, as a web app
in development makes. The page connects to two servers in turn: one with the page's origin
listed (connect() resolves on RTVI bot-ready, and the script agent's turns arrive through
the client's own callbacks while the fake microphone speaks), and one started without
``--cors-origin`` (the browser must refuse to hand the page the answer: connect() fails).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers.calls import get_json
from tests.helpers.chromium import running_chromium
from tests.helpers.processes import serve_started
from tests.helpers.speech import spoken_wav

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CLIENT_DIR = Path(__file__).resolve().parent / "pipecat_js"
BUNDLE = CLIENT_DIR / "dist" / "page.bundle.js"
LINES = ("Hello from the desk.", "Goodbye from the desk.")
# the page must load nothing from outside (client-js's default media manager would fetch Daily's)
NO_OUTSIDE_DNS = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def pipecat_bundle() -> Path:
    """The bundled client: built here when its npm packages are installed, else a skip naming the step."""
    if BUNDLE.exists():
        return BUNDLE
    esbuild = CLIENT_DIR / "node_modules" / ".bin" / "esbuild"
    npm = shutil.which("npm")
    if not esbuild.exists() or npm is None:
        pytest.skip("pipecat's JS client is not installed (scripts/setup.sh --test: npm ci in tests/e2e/pipecat_js)")
    subprocess.run([npm, "run", "--silent", "build"], cwd=CLIENT_DIR, check=True, timeout=120)
    return BUNDLE


@pytest.fixture
async def page_server() -> AsyncIterator[tuple[str, asyncio.Queue]]:
    """The page's own origin: index.html, the bundle, and /report for what the page saw."""
    bundle = pipecat_bundle()
    reports: asyncio.Queue = asyncio.Queue()

    async def report(request: web.Request) -> web.Response:
        await reports.put(await request.json())
        return web.json_response({"ok": True})

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(CLIENT_DIR / "index.html")

    async def script(request: web.Request) -> web.FileResponse:
        return web.FileResponse(bundle)

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/dist/page.bundle.js", script)
    app.router.add_post("/report", report)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", reports
    finally:
        await runner.cleanup()


async def test_pipecat_client_connects_from_another_origin_only_with_cors_origin(page_server, tmp_path):
    page_origin, reports = page_server
    # the fake microphone: two utterances with room for the agent to answer each (Chromium loops it)
    mic = spoken_wav(tmp_path / "mic.wav", 0.3, "hello there", 3.5, "thank you", 3.5)
    agent = ["--agent", "script", "-o", f"say={'|'.join(LINES)}"]
    with (
        serve_started(*agent) as closed,
        serve_started(*agent, "--cors-origin", page_origin) as open_to_page,
    ):
        assert closed.base_url != page_origin and open_to_page.base_url != page_origin  # other origins (ports)
        # the open one first: the fake microphone's file starts when the first call opens it
        servers = f"{open_to_page.base_url}/api/offer,{closed.base_url}/api/offer"
        url = f"{page_origin}/?servers={servers}&connect_ms=15000&listen_ms=40000&retries=0"
        with running_chromium(url, tmp_path, fake_audio=mic, extra_flags=[NO_OUTSIDE_DNS]) as chromium:
            try:
                report = await asyncio.wait_for(reports.get(), 120)
            except TimeoutError:
                pytest.fail(f"the page did not report within 120 s; chromium log:\n{chromium.log_text()[-3000:]}")
        # the browser sent the closed server its preflight only, never the offer
        calls = [(await get_json(f"{s.base_url}/health"))["sessions_total"] for s in (open_to_page, closed)]
        assert calls == [1, 0], calls
    assert isinstance(report, list), report
    served, refused = report

    # without --cors-origin the browser keeps the answer from the page: no connection, no bot-ready
    assert not refused["connected"] and refused["bot_ready"] is None, refused
    assert "Failed to fetch" in refused["error"], refused

    # with it, connect() resolved: the server's bot-ready reached the client
    assert served["error"] is None, served
    assert served["connected"], served
    ready = served["bot_ready"]
    assert ready["version"].startswith("2.") and ready["about"]["library"] == "voicedesk", ready
    assert ready["about"]["agent"] == "script"
    events = served["events"]
    kinds = [e["type"] for e in events]
    # the agent's turns, through the client's own callbacks
    spoken = [e["data"]["text"] for e in events if e["type"] == "bot-transcription"]
    assert spoken[:2] == list(LINES), events
    outputs = [e["data"] for e in events if e["type"] == "bot-output"]
    assert outputs and outputs[0]["text"] == LINES[0] and outputs[0]["spoken"] is True, outputs
    assert "user-started-speaking" in kinds and "user-stopped-speaking" in kinds, kinds
    # the caller stopped speaking before the agent's first line; its text is shown as spoken, as
    # pipecat shows it: bot-output once the bot started speaking it
    first_reply = kinds.index("bot-transcription")
    assert "user-stopped-speaking" in kinds[:first_reply], kinds
    assert kinds.index("bot-started-speaking") < kinds.index("bot-output"), kinds
    # a client request answered by the server (client-message "turns" -> server-response)
    assert "turns_error" not in served, served
    assert [t["response"] for t in served["turns"][:2]] == list(LINES), served["turns"]
    # each turn's latencies as pipecat's metrics (seconds): the speech synthesis's time to first byte
    metrics = [e["data"] for e in events if e["type"] == "metrics"]
    tts = [m for data in metrics for m in data.get("ttfb", []) if m["processor"] == "TTSProcessor"]
    assert len(tts) >= 2 and all(0 < m["value"] < 10 for m in tts), metrics
