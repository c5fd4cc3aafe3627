"""``voicedesk serve --workers N``: one agent-server process per core behind a front.

Why a front process and not SO_REUSEPORT: the kernel would spread new offers over
the workers well, but a session has follow-up requests (WHIP ``DELETE`` on its
resource, pipecat's ``PATCH`` with candidates) that must reach the worker that
owns its peer connection, and with SO_REUSEPORT they land on any worker. The
front answers on the public port, forwards each new offer to the least-loaded
worker (the next one if that worker answers 503), remembers which worker
answered (``pc_id``, WHIP ``Location``) and sends follow-ups there; a WebSocket
is relayed to one worker for its whole life. Only signaling passes through the
front: media flows straight between the caller and the worker's own UDP ports.

Each worker is an ordinary ``voicedesk serve`` on 127.0.0.1 and a free port,
pinned to one CPU (measured: a pinned aiortc process used ~30 % less CPU and its
loop lag p99 fell from ~20 ms to ~2 ms, because aiortc's per-call threads stop
migrating between cores). ``GET /health`` adds every worker's figures up and
lists them under ``workers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from voicedesk.agent.cors import CorsPolicy, cors_middleware
from voicedesk.agent.http_limits import read_body, start_http
from voicedesk.agent.sessions import MEDIA_TIMEOUT
from voicedesk.errors import ConfigError
from voicedesk.rtc.signaling.log import parse_json
from voicedesk.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

NEW_SESSION_PATHS = ("/api/voice/offer", "/api/offer", "/whip")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}
MAX_REMEMBERED_SESSIONS = 100_000
WORKER_START_TIMEOUT = 60.0


@dataclass
class Worker:
    index: int
    process: asyncio.subprocess.Process
    url: str
    cpu: int | None
    live: int = 0  # live sessions, from its /health (refreshed each second) plus offers answered since
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None


class WorkerFront:
    def __init__(
        self,
        workers: int,
        agent: str = "echo",
        host: str = "127.0.0.1",
        port: int = 8080,
        max_sessions: int = 50,
        token: str | None = None,
        agent_options: dict[str, str] | None = None,
        max_loop_lag_ms: float | None = None,
        pin: bool = True,
        ice: str | None = None,
        media_timeout: float | None = MEDIA_TIMEOUT,
        cors: CorsPolicy | None = None,
    ) -> None:
        """``ice``: ``--ice`` as the user gave it (a file or a preset), handed on to every worker."""
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
        self.count = workers
        self.agent = agent
        self.host = host
        self.port = port
        self.max_sessions = max_sessions
        self.token = token
        self.agent_options = dict(agent_options or {})
        self.max_loop_lag_ms = max_loop_lag_ms
        self.pin = pin
        self.ice = ice
        self.media_timeout = media_timeout
        # CORS is answered here, on the port pages call; the workers behind it need none
        self.cors = cors or CorsPolicy()
        self.workers: list[Worker] = []
        self.owner: OrderedDict[str, int] = OrderedDict()  # pc_id or WHIP resource path -> worker index
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        from voicedesk.agent.server import http_base_url

        return http_base_url(self.host, self.port)

    offer_url = property(lambda self: f"{self.base_url}/api/voice/offer")

    # lifetime -----------------------------------------------------------------
    async def start(self) -> None:
        try:
            cpus = sorted(os.sched_getaffinity(0)) if self.pin and hasattr(os, "sched_getaffinity") else []
            self.workers = list(
                await asyncio.gather(
                    *(self._spawn(i, cpus[i % len(cpus)] if cpus else None) for i in range(self.count))
                )
            )
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
            app = web.Application(client_max_size=1024 * 1024, middlewares=[cors_middleware(self.cors)])
            app.router.add_route("*", "/{tail:.*}", self.handle)
            self._runner, self.port = await start_http(app, self.host, self.port)
        except BaseException:
            await self.stop()
            raise
        self._poller = asyncio.get_running_loop().create_task(self._poll_health(), name="worker health poller")
        logger.info("front on %s for %d workers", self.base_url, self.count)

    async def _spawn(self, index: int, cpu: int | None) -> Worker:
        args = [
            sys.executable,
            "-m",
            "voicedesk",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--agent",
            self.agent,
            "--max-sessions",
            str(self.max_sessions),
        ]
        args += ["--max-loop-lag-ms", str(self.max_loop_lag_ms or 0)]  # 0: off, as the front was told
        args += ["--media-timeout", str(self.media_timeout or 0)]
        for key, value in self.agent_options.items():
            args += ["-o", f"{key}={value}"]
        if self.ice:
            args += ["--ice", self.ice]
        env = {**os.environ, "VOICEDESK_TOKEN": self.token or ""}
        process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, env=env)
        if cpu is not None:
            with contextlib.suppress(OSError):  # pinning is an optimisation, not a requirement
                os.sched_setaffinity(process.pid, {cpu})
        assert process.stdout is not None
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), WORKER_START_TIMEOUT)).decode()
        except TimeoutError:
            line = ""
        match = re.search(r"(http://[\d.]+:\d+)", line)
        if not match:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise ConfigError(f"worker {index} did not start (exit status {process.returncode}); see its error above")
        return Worker(index, process, match.group(1), cpu)

    async def stop(self) -> None:
        await cancel_and_wait(self._poller)
        self._poller = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        for worker in self.workers:
            if worker.alive:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGINT)
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 10.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()

    async def _poll_health(self) -> None:
        while True:
            await asyncio.gather(*(self._refresh(w) for w in self.workers if w.alive))
            await asyncio.sleep(1.0)

    async def _refresh(self, worker: Worker) -> None:
        assert self._http is not None
        try:
            async with self._http.get(f"{worker.url}/health", timeout=aiohttp.ClientTimeout(total=2)) as r:
                worker.health = await r.json()
                worker.live = int(worker.health.get("sessions", worker.live))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            logger.debug("worker %d health: %s", worker.index, exc)

    # routing ------------------------------------------------------------------
    def _remember(self, key: str, index: int) -> None:
        self.owner[key] = index
        self.owner.move_to_end(key)
        while len(self.owner) > MAX_REMEMBERED_SESSIONS:
            self.owner.popitem(last=False)

    def _by_load(self) -> list[Worker]:
        return sorted((w for w in self.workers if w.alive), key=lambda w: (w.live, w.index))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/health":
            return await self.handle_health()
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._relay_websocket(request)
        body = await read_body(request)
        owner = self._owner_of(request, body)
        if owner is not None:
            return await self._forward(request, body, owner)
        candidates = self._by_load()
        if not candidates:
            return web.json_response({"error": "no worker is running"}, status=503)
        new_session = request.method == "POST" and request.path in NEW_SESSION_PATHS
        response: web.Response | None = None
        for worker in candidates if new_session else candidates[:1]:
            response = await self._forward(request, body, worker)
            if response.status != 503:
                break
        assert response is not None
        return response

    def _owner_of(self, request: web.Request, body: bytes) -> Worker | None:
        key = None
        if request.path.startswith("/whip/sessions/"):
            key = request.path
        elif request.method == "PATCH":
            with contextlib.suppress(ValueError, AttributeError):
                key = parse_json(body).get("pc_id")
        index = self.owner.get(key) if isinstance(key, str) else None
        return self.workers[index] if index is not None else None

    async def _forward(self, request: web.Request, body: bytes, worker: Worker) -> web.Response:
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        url = f"{worker.url}{request.rel_url}"
        try:
            async with self._http.request(
                request.method, url, data=body, headers=headers, allow_redirects=False
            ) as upstream:
                payload = await upstream.read()
                out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
                status = upstream.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.json_response({"error": f"worker {worker.index} did not answer: {exc}"}, status=502)
        if request.method == "POST" and status in (200, 201):
            worker.live += 1
            location = out_headers.get("Location")
            if location and location.startswith("/"):
                self._remember(location, worker.index)
            with contextlib.suppress(ValueError, AttributeError):
                pc_id = parse_json(payload).get("pc_id")
                if isinstance(pc_id, str):
                    self._remember(pc_id, worker.index)
        if request.method == "DELETE" and request.path in self.owner and status < 300:
            self.owner.pop(request.path, None)
        return web.Response(status=status, body=payload, headers=out_headers)

    async def _relay_websocket(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        candidates = self._by_load()
        if not candidates:
            return web.json_response({"error": "no worker is running"}, status=503)
        worker = candidates[0]
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        try:
            upstream = await self._http.ws_connect(
                f"{worker.url.replace('http', 'ws', 1)}{request.rel_url}", headers=headers
            )
        except aiohttp.WSServerHandshakeError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.json_response({"error": f"worker {worker.index} did not answer: {exc}"}, status=502)
        client = web.WebSocketResponse()
        await client.prepare(request)
        worker.live += 1

        async def pump(source: Any, sink: Any) -> None:
            async for message in source:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await sink.send_str(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await sink.send_bytes(message.data)
                else:
                    break

        tasks = [
            asyncio.get_running_loop().create_task(pump(client, upstream), name="ws relay up"),
            asyncio.get_running_loop().create_task(pump(upstream, client), name="ws relay down"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=2.0)
            await upstream.close()
            await client.close()
        return client

    async def handle_health(self) -> web.Response:
        await asyncio.gather(*(self._refresh(w) for w in self.workers if w.alive))
        workers = [
            {
                "index": w.index,
                "url": w.url,
                "pid": w.process.pid,
                "cpu": w.cpu,
                "alive": w.alive,
                "sessions": w.health.get("sessions", 0),
                "sessions_total": w.health.get("sessions_total", 0),
                "loop_lag_ms": w.health.get("loop_lag_ms"),
            }
            for w in self.workers
        ]
        return web.json_response(
            {
                "status": "ok" if all(w["alive"] for w in workers) else "degraded",
                "agent": self.agent,
                "sessions": sum(w["sessions"] for w in workers),
                "sessions_total": sum(w["sessions_total"] for w in workers),
                "max_sessions": self.max_sessions * len(workers),
                "workers": workers,
                "checked_at": time.time(),
                "ice": next((w.health["ice"] for w in self.workers if "ice" in w.health), None),
            }
        )
