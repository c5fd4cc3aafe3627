"""``voicedesk serve``: run the embedded agent server until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import os
import signal
import socket
import sys

import voicedesk.agent  # noqa: F401  (registers the agents)
from voicedesk.agent.registry import agent_names
from voicedesk.agent.sessions import MEDIA_TIMEOUT as SESSION_MEDIA_TIMEOUT
from voicedesk.limits import DAY_S, count, number, port, seconds

# admission control, from bench/server_capacity.py (bench/RESULTS.md): a pinned echo worker's
# loop-lag median stayed <= 4.3 ms up to its capacity and reached 26-62 ms past it; the voice
# agent's went from ~1 ms at 10 calls to 275-450 ms at 15
DEFAULT_MAX_LOOP_LAG_MS = 15.0
MEDIA_NOTE = "media (UDP) on every interface address, whatever --host says"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the embedded agent server")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind signaling (HTTP) to (default 127.0.0.1); media (UDP) uses every interface",
    )
    p.add_argument("--port", type=port, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--agent", default="echo", choices=agent_names(), help="agent to run (default echo)")
    p.add_argument(
        "--max-sessions",
        type=count(minimum=1),
        default=50,
        help="live sessions before 503 (default 50; per worker with --workers)",
    )
    p.add_argument(
        "--max-loop-lag-ms",
        type=number(minimum=0),
        default=DEFAULT_MAX_LOOP_LAG_MS,
        help="refuse new calls (503) while the event loop runs this late, median over 3 s: the server is "
        f"saturated and another call would degrade every call (default {DEFAULT_MAX_LOOP_LAG_MS:g}; 0 = off)",
    )
    p.add_argument(
        "--media-timeout",
        type=seconds(maximum=DAY_S),
        default=SESSION_MEDIA_TIMEOUT,
        metavar="SECONDS",
        help="close a session whose caller has sent no audio packets for this long: it died or its path "
        f"broke (default {SESSION_MEDIA_TIMEOUT:g}; 0 = off: only ICE consent, ~30 s, frees it)",
    )
    p.add_argument(
        "--workers",
        type=count(),
        default=1,
        help="agent-server processes, each pinned to a CPU, behind one front on --port (0 = one per core; default 1)",
    )
    p.add_argument(
        "--agent-option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an agent option, repeatable: parrot delay=500; voice stt=open, responder=openai, llm_url=…; "
        "script say='Hi|Bye' or file=PATH (README: Agents)",
    )
    p.add_argument(
        "--ice",
        metavar="CONFIG.json|PRESET",
        help="STUN/TURN servers for the agent's side of each call (RTCConfiguration JSON or a preset, as "
        "call --ice); default none: host candidates only, so the server never contacts a STUN server",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        type=cors_origin,
        metavar="ORIGIN",
        help="let web pages from ORIGIN (scheme://host[:port], e.g. http://127.0.0.1:3000) call this server "
        "from their browser, as pipecat's JS client does; repeatable; * allows any page (default: none)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("VOICEDESK_TOKEN") or None,
        help="require 'Authorization: Bearer TOKEN' to create calls (default: $VOICEDESK_TOKEN, else none)",
    )
    p.set_defaults(run=run)


def cors_origin(text: str) -> str:
    """An argparse ``type=`` for ``--cors-origin`` (imports the server's module only when given)."""
    from voicedesk.agent.cors import origin_problem

    why = origin_problem(text.strip())
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return text.strip()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_error(exc: OSError) -> str:
    """Why binding failed, with the option to change: a getaddrinfo error's negative errno
    means nothing to os.strerror ("Unknown error -3"), and only a busy or privileged port
    is fixed by another --port."""
    if isinstance(exc, socket.gaierror):
        return f"--host is not an address or a name that resolves ({exc.strerror}) — check --host"
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        return f"{why} — pick another --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{why} — --host is not an address of this machine"
    return why


async def run(args: argparse.Namespace) -> int:
    from voicedesk.agent.cors import CorsPolicy
    from voicedesk.agent.server import AgentServer
    from voicedesk.agent.workers import WorkerFront
    from voicedesk.config import resolve_ice

    max_loop_lag_ms = args.max_loop_lag_ms or None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = args.workers or cores

    if not is_loopback(args.host):
        print(
            f"voicedesk: warning: binding {args.host} exposes the agent server beyond this machine",
            file=sys.stderr,
        )
    cors = CorsPolicy.of(args.cors_origin)
    if cors.any_origin and not is_loopback(args.host):
        print(
            f"voicedesk: warning: --cors-origin '*' lets any web page a visitor opens call this server on {args.host}",
            file=sys.stderr,
        )
    from voicedesk.agent.registry import parse_agent_options

    ice = resolve_ice(args.ice)  # refused here, before any worker starts, when it is wrong
    for warning in ice.warnings:
        print(f"voicedesk: warning: {warning}", file=sys.stderr)

    settings = {
        "agent": args.agent,
        "host": args.host,
        "port": args.port,
        "max_sessions": args.max_sessions,
        "token": args.token,
        "agent_options": parse_agent_options(args.agent_option),
        "max_loop_lag_ms": max_loop_lag_ms,
        "media_timeout": args.media_timeout or None,
        "cors": cors,
    }
    server: AgentServer | WorkerFront = (
        WorkerFront(workers, **settings, ice=args.ice) if workers > 1 else AgentServer(**settings, ice=ice)
    )
    try:
        await server.start()
    except OSError as exc:
        print(f"voicedesk: cannot listen on {args.host}:{args.port}: {listen_error(exc)}", file=sys.stderr)
        return 1
    across = f" across {workers} worker processes" if workers > 1 else ""
    # aioice gathers host candidates on every interface address and has no option to pick
    # one, so --host binds signaling only: say so where the address is announced
    print(
        f"VoiceDesk {args.agent} agent on {server.base_url}  (POST {server.offer_url}, GET /health){across}"
        f"; {MEDIA_NOTE}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
