"""Cost of reading agent events: a data-channel message to the conversation model, per event.

Feeds a realistic RTVI mix (what a pipecat bot with STT, LLM and TTS sends per turn: speaking
started/stopped, transcriptions, bot-output and bot-tts-text, LLM tokens, a function call,
metrics, audio levels) and an OpenAI Realtime mix through ``AgentEventsChannel._on_message``
(size check, JSON, parser, conversation, listeners), against the baseline of ``json.loads``
alone on the same messages, in the same run. Prints µs per message and messages per second.

    PYTHONPATH=src python bench/agent_events_parse.py [--turns 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from voicedesk.rtc.events import AgentEventsChannel, make_protocol


def rtvi_turn(i: int) -> list[str]:
    def m(kind: str, data: object = None) -> str:
        return json.dumps({"label": "rtvi-ai", "type": kind, **({"data": data} if data is not None else {})})

    tokens = [m("bot-llm-text", {"text": w}) for w in f"It is sunny in Paris today, turn {i}.".split()]
    return [
        m("user-started-speaking"),
        *[m("user-audio-level", {"value": 0.1}) for _ in range(5)],
        m("user-transcription", {"text": f"what is the weather {i}", "final": False, "user_id": "u", "timestamp": "t"}),
        m("user-transcription", {"text": f"what is the weather {i}", "final": True, "user_id": "u", "timestamp": "t"}),
        m("user-stopped-speaking"),
        m("bot-llm-started"),
        m(
            "llm-function-call-in-progress",
            {"tool_call_id": f"c{i}", "function_name": "get_weather", "arguments": {"city": "Paris"}},
        ),
        m("llm-function-call-stopped", {"tool_call_id": f"c{i}", "cancelled": False, "result": {"temp_c": 21}}),
        *tokens,
        m("bot-llm-stopped"),
        m(
            "metrics",
            {"ttfb": [{"processor": "llm", "value": 0.25}], "processing": [{"processor": "llm", "value": 0.4}]},
        ),
        m("bot-started-speaking"),
        m("bot-output", {"text": "It is sunny in Paris today.", "spoken": True, "output_type": "sentence"}),
        m("bot-tts-text", {"text": "It is sunny in Paris today."}),
        m("bot-stopped-speaking"),
    ]


def openai_turn(i: int) -> list[str]:
    events = [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000 * i, "item_id": f"i{i}"},
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1000 * i + 800, "item_id": f"i{i}"},
        {"type": "output_audio_buffer.started"},
        *[{"type": "response.output_audio_transcript.delta", "delta": w + " "} for w in "It is sunny today.".split()],
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": f"i{i}", "transcript": "weather?"},
        {"type": "response.output_audio_transcript.done", "transcript": "It is sunny today."},
        {"type": "output_audio_buffer.stopped"},
        {
            "type": "response.done",
            "response": {"usage": {"total_tokens": 120, "input_tokens": 80, "output_tokens": 40}},
        },
    ]
    return [json.dumps(e) for e in events]


def run(protocol: str, messages: list[str]) -> tuple[float, float]:
    """Seconds for the channel, seconds for json.loads alone (same messages)."""
    t = 0.0
    channel = AgentEventsChannel(make_protocol(protocol), lambda _event: None, lambda: t)
    start = time.perf_counter()
    for message in messages:
        t += 1.0
        channel._on_message(message)
    channel.conversation.turns  # noqa: B018 - the snapshot a view would read, once
    read = time.perf_counter() - start
    start = time.perf_counter()
    for message in messages:
        json.loads(message)
    return read, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    for protocol, make in (("rtvi", rtvi_turn), ("openai", openai_turn)):
        messages = [m for i in range(args.turns) for m in make(i)]
        results = [run(protocol, messages) for _ in range(args.repeat)]
        read = statistics.median(r[0] for r in results)
        base = statistics.median(r[1] for r in results)
        n = len(messages)
        print(
            f"{protocol:6s} {n} messages: {read / n * 1e6:6.1f} µs/message ({n / read:9.0f}/s); "
            f"json.loads alone {base / n * 1e6:5.1f} µs; ratio {read / base:4.1f}×"
        )


if __name__ == "__main__":
    main()
