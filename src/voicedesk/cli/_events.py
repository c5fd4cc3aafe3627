"""``voicedesk call``'s agent-event options: which protocol to read, what to send on it."""

from __future__ import annotations

import argparse
from typing import Any

from voicedesk.rtc.events import AGENT_EVENTS_CHOICES, AgentEventsSetup
from voicedesk.rtc.events.openai import TURN_DETECTION, session_update
from voicedesk.rtc.signaling.log import parse_json


def add_events_arguments(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("agent events (the agent's own reports on a data channel)")
    group.add_argument(
        "--agent-events",
        choices=AGENT_EVENTS_CHOICES,
        nargs="?",
        const="voicedesk",
        default="auto",
        metavar="|".join(AGENT_EVENTS_CHOICES),
        help="the agent's events protocol: rtvi (pipecat), openai (Realtime), voicedesk (VoiceDesk's agents), "
        "off; auto (default) picks by the target: embedded agents that report, pipecat+, openai+. "
        "Alone: voicedesk",
    )
    group.add_argument(
        "--send-text",
        action="append",
        default=[],
        metavar="TEXT",
        help="give the agent TEXT as if said, once it is ready (RTVI send-text, OpenAI conversation.item.create "
        "+ response.create; repeatable)",
    )
    group.add_argument(
        "--client-message",
        action="append",
        default=[],
        type=client_message,
        metavar="TYPE[=JSON]",
        help="an RTVI client-message once the agent is ready, e.g. 'set-mode={\"fast\": true}' (repeatable)",
    )
    group.add_argument(
        "--session-update",
        metavar="FILE.json",
        help="OpenAI: the session.update sent first (the whole event or its session object)",
    )
    group.add_argument("--instructions", metavar="TEXT", help="OpenAI: the session's instructions")
    group.add_argument("--voice", metavar="NAME", help="OpenAI: the voice the agent speaks with")
    group.add_argument("--turn-detection", choices=TURN_DETECTION, help="OpenAI: how the agent detects turns")


def client_message(text: str) -> tuple[str, Any]:
    kind, sep, data = text.partition("=")
    if not kind.strip():
        raise argparse.ArgumentTypeError(f"{text!r} has no message type: use TYPE or TYPE=JSON")
    if not sep:
        return kind.strip(), None
    try:
        return kind.strip(), parse_json(data)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: the part after = is not JSON ({exc})") from None


def events_setup(args: argparse.Namespace) -> AgentEventsSetup | None:
    """What the options ask to send (None: nothing); a bad --session-update is a ConfigError."""
    update = session_update(
        path=args.session_update, instructions=args.instructions, voice=args.voice, turn_detection=args.turn_detection
    )
    if update is None and not args.send_text and not args.client_message:
        return None
    return AgentEventsSetup(
        session_update=update, send_text=tuple(args.send_text), client_messages=tuple(args.client_message)
    )
