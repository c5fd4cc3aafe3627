"""Make tests/fixtures/webrtc_internals_dump.json with Chromium's own chrome://webrtc-internals.

Headless Chromium opens chrome://webrtc-internals in one tab and the embedded agent's page
in another (the page calls the agent: a 440 Hz tone comes back, the browser's fake
microphone plays 1000 Hz). After a few seconds of call, the script presses the
internals page's own "Download the webrtc-internals dump" button through the DevTools
protocol and keeps the file the browser writes (the same bytes "Create dump" gives a user).

    .venv/bin/python scripts/make_webrtc_internals_dump.py [OUT.json] [--seconds 8] [--calls 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.chromium import FLAGS, chromium_binary, write_tone_wav  # noqa: E402
from tests.helpers.net import free_port  # noqa: E402
from tests.helpers.processes import stop_process_group  # noqa: E402

from voicedesk.agent.server import AgentServer  # noqa: E402


class Cdp:
    """The smallest DevTools client: one browser websocket, flat sessions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read(), name="cdp-reader")

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            future = self.pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)

    async def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        msg_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = future
        payload = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            payload["sessionId"] = session
        await self.ws.send_json(payload)
        data = await asyncio.wait_for(future, 30)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data.get("result", {})

    async def evaluate(self, session: str, expression: str) -> object:
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.reader, 2)


async def make_dump(out: Path, seconds: float, calls: int = 2) -> None:
    binary = chromium_binary()
    if binary is None:
        raise SystemExit("Chromium is not installed")
    server = AgentServer(agent="tone", host="127.0.0.1", port=0)
    await server.start()
    tmp = Path(tempfile.mkdtemp(prefix="voicedesk-dump-"))
    port = free_port()
    wav = write_tone_wav(tmp / "mic.wav", 1000.0)
    flags = [
        *FLAGS,
        f"--user-data-dir={tmp / 'profile'}",
        f"--use-file-for-fake-audio-capture={wav}",
        f"--remote-debugging-port={port}",
        "about:blank",
    ]
    log = (tmp / "chromium.log").open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 (a script: nothing else runs on this loop yet)
        [binary, *flags], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/json/version") as r:
                        browser_ws = (await r.json())["webSocketDebuggerUrl"]
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            else:
                raise SystemExit("Chromium's DevTools endpoint did not come up")
            async with http.ws_connect(browser_ws, max_msg_size=0) as ws:
                cdp = Cdp(ws)
                internals = (await cdp.send("Target.createTarget", {"url": "chrome://webrtc-internals"}))["targetId"]
                isession = (await cdp.send("Target.attachToTarget", {"targetId": internals, "flatten": True}))[
                    "sessionId"
                ]
                await cdp.send("Runtime.enable", session=isession)
                downloads = tmp / "downloads"
                downloads.mkdir()
                await cdp.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
                # several calls, each started a few seconds after the last: connections of different lengths
                for n in range(calls):
                    url = f"{server.base_url}/?call=json&seconds={seconds + 30:g}"
                    page = (await cdp.send("Target.createTarget", {"url": url}))["targetId"]
                    psession = (await cdp.send("Target.attachToTarget", {"targetId": page, "flatten": True}))[
                        "sessionId"
                    ]
                    await cdp.send("Runtime.enable", session=psession)
                    # the page's own peer connection (a top-level let) says when the call is up
                    for _ in range(150):
                        state = await cdp.evaluate(psession, "typeof pc !== 'undefined' && pc && pc.connectionState")
                        if state == "connected":
                            break
                        await asyncio.sleep(0.2)
                    else:
                        raise SystemExit(f"call {n + 1} of the page did not connect")
                    await asyncio.sleep(seconds / calls)
                clicked = await cdp.evaluate(
                    isession,
                    """(() => {
                      const buttons = [...document.querySelectorAll('button')];
                      const b = buttons.find((x) => /dump/i.test(x.textContent));
                      if (!b) return buttons.map((x) => x.textContent).join(' | ');
                      const details = b.closest('details'); if (details) details.open = true;
                      b.click(); return 'clicked';
                    })()""",
                )
                if clicked != "clicked":
                    raise SystemExit(f"no dump button on chrome://webrtc-internals; buttons: {clicked}")
                for _ in range(100):
                    done = [p for p in downloads.iterdir() if not p.name.endswith(".crdownload")]
                    if done:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise SystemExit("the browser wrote no dump")
                raw = done[0].read_bytes()
                if raw[:2] == b"\x1f\x8b":  # the page's "Compress result" box is ticked by default
                    raw = gzip.decompress(raw)
                data = json.loads(raw)
                out.write_text(json.dumps(data, indent=1) + "\n")  # noqa: ASYNC240
                print(f"{out}: {len(data.get('PeerConnections', {}))} peer connection(s), from {done[0].name}")
                await cdp.close()
    finally:
        stop_process_group(process)
        log.close()
        await server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "tests" / "fixtures" / "webrtc_internals_dump.json"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--calls", type=int, default=2, help="peer connections in the dump (pages calling)")
    args = parser.parse_args()
    asyncio.run(make_dump(Path(args.out), args.seconds, args.calls))


if __name__ == "__main__":
    main()
