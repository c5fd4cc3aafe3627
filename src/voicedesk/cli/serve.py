"""``voicedesk serve``: run the embedded agent server until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys

from voicedesk.agent.agents import AGENTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the embedded agent server")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--agent", default="echo", choices=sorted(AGENTS), help="agent to run (default echo)")
    p.add_argument("--max-sessions", type=int, default=50, help="live sessions before 503 (default 50)")
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
        "--token",
        default=os.environ.get("VOICEDESK_TOKEN") or None,
        help="require 'Authorization: Bearer TOKEN' to create calls (default: $VOICEDESK_TOKEN, else none)",
    )
    p.set_defaults(run=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def run(args: argparse.Namespace) -> int:
    from voicedesk.agent.server import AgentServer

    if not is_loopback(args.host):
        print(
            f"voicedesk: warning: binding {args.host} exposes the agent server beyond this machine",
            file=sys.stderr,
        )
    from voicedesk.agent.voice_agents import parse_agent_options

    server = AgentServer(
        agent=args.agent,
        host=args.host,
        port=args.port,
        max_sessions=args.max_sessions,
        token=args.token,
        agent_options=parse_agent_options(args.agent_option),
    )
    try:
        await server.start()
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"voicedesk: cannot listen on {args.host}:{args.port}: {why} — pick another --port", file=sys.stderr)
        return 1
    print(f"VoiceDesk {args.agent} agent on {server.base_url}  (POST {server.offer_url}, GET /health)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
