"""A self-contained HTML call report: inline CSS and SVG graphs, no scripts, no network.

It opens in any browser, from a mail attachment or a bug tracker. The recordings are
linked by their file names in the bundle (they play when the page sits in its folder).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.rtc.stats import FIELD_SOURCES, StatsSample

W, H = 720, 200
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 24, 28
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .pass{color:#186a1f;font-weight:600} .fail{color:#b00020;font-weight:600}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px} svg{display:block;margin:8px 0}
.note{color:#666;font-size:12px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * exp:
            return m * exp
    return 10 * exp


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[float], Sequence[float | None]]],
    unit: str,
    x_unit: str = "s",
    markers: Sequence[tuple[float, str]] = (),
) -> str:
    """An SVG line chart; ``series`` are (label, xs, ys) with None gaps. ``data-series`` holds the numbers."""
    xs_all = [x for _, xs, ys in series for x, y in zip(xs, ys, strict=False) if y is not None]
    ys_all = [y for _, _, ys in series for y in ys if y is not None]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" aria-label="{esc(title)}">']
    parts.append(f'<text x="{PAD_L}" y="16" font-size="13" font-weight="600">{esc(title)} ({esc(unit)})</text>')
    if not ys_all:
        parts.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#888">not measured</text></svg>')
        return "".join(parts)
    x0, x1 = min(xs_all), max(xs_all)
    if x1 <= x0:
        x1 = x0 + 1.0
    y_max = _nice_max(max(ys_all))
    y_min = min(0.0, min(ys_all))
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def px(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return PAD_T + plot_h - (y - y_min) / (y_max - y_min or 1.0) * plot_h

    parts.append(f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>')
    for i in range(5):
        value = y_min + (y_max - y_min) * i / 4
        y = py(value)
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{value:g}</text>')
    for i in range(6):
        value = x0 + (x1 - x0) * i / 5
        parts.append(
            f'<text x="{px(value):.1f}" y="{H - 10}" font-size="10" text-anchor="middle">{value:.1f} {x_unit}</text>'
        )
    for x, label in markers:
        if x0 <= x <= x1:
            parts.append(
                f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{PAD_T}" y2="{PAD_T + plot_h}" stroke="#999" '
                f'stroke-dasharray="3,3"><title>{esc(label)}</title></line>'
            )
    for i, (label, xs, ys) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        segments: list[list[str]] = [[]]
        for x, y in zip(xs, ys, strict=False):
            if y is None:
                segments.append([])
            else:
                segments[-1].append(f"{px(x):.1f},{py(y):.1f}")
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            elif seg:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(seg)}"/>')
        numbers = ",".join("" if y is None else f"{y:.3f}" for y in ys)
        parts.append(
            f'<g class="series" data-label="{esc(label)}" data-series="{numbers}">'
            f'<rect x="{PAD_L + 8 + i * 150}" y="{PAD_T + 4}" width="10" height="3" fill="{color}"/>'
            f'<text x="{PAD_L + 22 + i * 150}" y="{PAD_T + 10}" font-size="11">{esc(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def envelope(audio: np.ndarray, offset_ms: float, points: int = 600) -> tuple[list[float], list[float | None]]:
    """Peak level per slice, in dBFS, against call time (s)."""
    if audio.size == 0:
        return [], []
    step = max(1, audio.size // points)
    n = audio.size // step
    peaks = np.abs(audio[: n * step]).reshape(n, step).max(axis=1)
    xs = [(offset_ms / 1000.0) + (i * step) / SAMPLE_RATE for i in range(n)]
    ys: list[float | None] = [max(-80.0, 20 * math.log10(p)) if p > 0 else -80.0 for p in peaks.tolist()]
    return xs, ys


def words_html(turn: dict[str, Any], rx_offset_ms: float) -> str:
    """The reply's words, each a link to its moment in received.wav (a media fragment, ``#t=``:
    the browser plays the recording from there; the report carries no script)."""
    words = turn.get("words") or []
    parts = []
    for word, start_ms, end_ms in words:
        at = max(0.0, (start_ms - rx_offset_ms) / 1000.0)
        parts.append(f'<a href="received.wav#t={at:.2f}" title="{start_ms:.0f}–{end_ms:.0f} ms">{esc(word)}</a>')
    return " ".join(parts)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def robustness_section(robust: dict[str, Any], conditions: dict[str, Any]) -> str:
    """The call's caller conditions and how the agent stood up to them (media/conditions/measure.py)."""
    from voicedesk.media.conditions.measure import ROBUSTNESS_METRICS, table_lines

    rows = [(esc(name), esc(robust.get(name)), esc(what)) for name, what in ROBUSTNESS_METRICS.items()]
    return (
        "<h2>Caller conditions</h2>"
        + table(rows, ("robustness", "value", "what it counts"))
        + f"<pre>{esc(chr(10).join(table_lines(robust, conditions)))}</pre>"
    )


def render_report(
    *,
    title: str,
    summary: dict[str, Any],
    samples: Sequence[StatsSample],
    tx: np.ndarray | None = None,
    rx: np.ndarray | None = None,
    tx_offset_ms: float = 0.0,
    rx_offset_ms: float = 0.0,
    turns: Sequence[dict[str, Any]] = (),
    agent_turns: Sequence[dict[str, Any]] = (),
    conversation: Sequence[dict[str, Any]] = (),
    result: dict[str, Any] | None = None,
    local_sdp: str | None = None,
    remote_sdp: str | None = None,
    candidates: dict[str, Any] | None = None,
    ice: dict[str, Any] | None = None,
    log: Sequence[str] = (),
    files: Sequence[str] = (),
    note: str = "",
) -> str:
    t = [s.t_ms / 1000.0 for s in samples]
    out = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if note:
        out.append(f'<p class="note">{esc(note)}</p>')
    if result is not None:
        verdict = '<span class="pass">PASSED</span>' if result.get("passed") else '<span class="fail">FAILED</span>'
        out.append(f"<h2>Result: {verdict}</h2>")
        if result.get("error"):
            out.append(f'<p class="fail">{esc(result["error"])}</p>')
        rows = [
            (
                esc(c.get("step") or c.get("kind")),  # a conversation's checks (step 0) by kind: judged, goal…
                esc(c.get("line")),
                esc(c.get("expected")),
                esc(c.get("measured")),
                '<span class="pass">pass</span>' if c.get("passed") else '<span class="fail">fail</span>',
                esc(c.get("message")),
            )
            for c in result.get("checks", [])
        ]
        out.append(table(rows, ("step", "line", "expected", "measured", "", "note")))
        golden = result.get("golden")
        if golden:
            rows = [
                (
                    esc(d["what"]),
                    esc(d["golden"]),
                    esc(d["measured"]),
                    esc(d["delta_ms"]),
                    "fail" if d["failed"] else "",
                )
                for d in golden.get("differences", [])
            ]
            out.append(f"<h2>Golden call {esc(golden.get('path'))}</h2>")
            out.append(table(rows, ("what", "golden", "measured", "delta ms", "")))
    out.append("<h2>Summary</h2>")
    keys = [k for k in summary if not isinstance(summary[k], (dict, list))]
    out.append(table([(esc(k), esc(summary[k])) for k in keys], ("figure", "value")))
    if summary.get("robustness"):
        out.append(robustness_section(summary["robustness"], summary.get("conditions") or {}))

    out.append("<h2>Network</h2>")
    out.append(line_chart("Round-trip time", [("rtt", t, [s.rtt_ms for s in samples])], "ms"))
    out.append(
        line_chart(
            "Jitter",
            [("received", t, [s.jitter_ms for s in samples]), ("remote", t, [s.remote_jitter_ms for s in samples])],
            "ms",
        )
    )
    out.append(
        line_chart(
            "Packet loss",
            [("received", t, [s.loss_pct for s in samples]), ("remote", t, [s.remote_loss_pct for s in samples])],
            "%",
        )
    )
    out.append(
        line_chart(
            "Bitrate",
            [("in", t, [s.bitrate_in_kbps for s in samples]), ("out", t, [s.bitrate_out_kbps for s in samples])],
            "kbit/s",
        )
    )
    out.append(line_chart("MOS (estimate)", [("mos", t, [s.mos for s in samples])], "1–5"))
    out.append(
        '<p class="note">Where each figure comes from: '
        + "; ".join(f"{esc(k)}: {esc(v)}" for k, v in FIELD_SOURCES.items())
        + "</p>"
    )

    if (tx is not None and tx.size) or (rx is not None and rx.size):
        out.append("<h2>Audio</h2>")
        markers = []
        for turn in turns:
            for key, label in (("utterance_end_ms", "said: end"), ("reply_start_ms", "reply: onset")):
                if turn.get(key) is not None:
                    markers.append((turn[key] / 1000.0, f"turn {turn.get('index')} {label}"))
        series = []
        if tx is not None and tx.size:
            series.append(("sent", *envelope(tx, tx_offset_ms)))
        if rx is not None and rx.size:
            series.append(("received", *envelope(rx, rx_offset_ms)))
        out.append(line_chart("Level (peak)", series, "dBFS", markers=markers))
        for name in ("sent.wav", "received.wav"):
            if name in files:
                out.append(f'<p>{esc(name)}: <audio controls preload="none" src="{esc(name)}"></audio></p>')

    if turns:
        out.append("<h2>Turns</h2>")
        rows = []
        for turn in turns:
            agent = turn.get("agent") or {}
            agent_v2v = (agent.get("latency_ms") or {}).get("voice_to_voice")
            rows.append(
                (
                    esc(turn.get("index")),
                    esc(turn.get("said")),
                    esc(turn.get("voice_to_voice_ms")),
                    esc(turn.get("response_ms")),
                    esc(turn.get("reply_ms")),
                    esc(turn.get("barge_in_stop_ms")),
                    esc(turn.get("voice_to_voice_first_word_ms")),
                    words_html(turn, rx_offset_ms) or esc(turn.get("transcript") or turn.get("transcript_unavailable")),
                    esc(turn.get("agent_text_wer")),
                    esc(agent_v2v),
                    esc(agent.get("transcript")),
                )
            )
        out.append(
            table(
                rows,
                (
                    "#",
                    "said",
                    "voice-to-voice ms (first loud block)",
                    "from start ms",
                    "reply ms",
                    "barge-in stop ms",
                    "voice-to-voice ms (first word)",
                    "reply transcript (click a word to hear it)",
                    "WER against the agent's text",
                    "agent's own v2v ms",
                    "agent heard",
                ),
            )
        )
        out.append(
            '<p class="note">voice-to-voice: end of what was sent to the onset of the reply received, '
            "both found in the audio at this end of the call; negative when the reply began before "
            "the utterance ended (an echo, or an agent talking over the caller). Voice-to-voice (first word): "
            "the same, to the start of the first word the recognizer found (a beep or breath before the words "
            "counts in the first, not here). WER against the agent's text: the word error rate of the reply's "
            "transcript against the text the agent reported saying, after normalisation.</p>"
        )

    heard = summary.get("transcripts") or []  # voicedesk call --transcribe
    if heard:
        out.append(f"<h2>Heard ({esc(summary.get('transcripts_recognizer'))})</h2>")
        heard_rows = [
            (
                esc(h.get("start_ms")),
                words_html(h, rx_offset_ms) or esc(h.get("text") or h.get("unavailable")),
                esc(h.get("agent_said")),
                esc(h.get("agent_text_wer")),
            )
            for h in heard
        ]
        out.append(table(heard_rows, ("at ms", "what arrived (click a word to hear it)", "agent's text", "WER")))

    caller = (result or {}).get("conversation")  # a simulated caller's (qa/caller.py)
    if caller:
        out.append(caller_conversation_section(caller, turns))

    if agent_turns:
        out.append("<h2>Agent turns (as the agent reported them)</h2>")
        rows = [
            (
                esc(t.get("turn")),
                esc(t.get("transcript")),
                esc(t.get("response")),
                esc((t.get("latency_ms") or {}).get("voice_to_voice")),
                esc("yes" if t.get("interrupted") else ""),
            )
            for t in agent_turns
        ]
        out.append(table(rows, ("#", "agent heard", "agent said", "agent's v2v ms", "interrupted")))

    if conversation:
        out.append(conversation_section(conversation))

    if candidates:
        out.append("<h2>Candidates</h2>")
        for side in ("local_sdp", "remote_sdp"):
            if candidates.get(side):
                out.append(f"<p>{esc(side.replace('_sdp', ''))}</p><pre>{esc(chr(10).join(candidates[side]))}</pre>")
        selected = (candidates.get("ice") or {}).get("selected_pair")  # IceSnapshot.to_json's key
        if selected:
            out.append(f"<p>selected pair: {esc(selected)}</p>")
        if (candidates.get("ice") or {}).get("available") is False:  # no pairs were read, not none were formed
            out.append(f"<p>{esc(candidates['ice'].get('note') or 'candidate pairs not available')}</p>")
    if ice is not None:
        import json

        out.append(f"<h2>ICE configuration</h2><pre>{esc(json.dumps(ice, indent=1))}</pre>")
    for name, sdp in (("Offer", local_sdp), ("Answer", remote_sdp)):
        if sdp:
            out.append(f"<details><summary>{name}</summary><pre>{esc(sdp)}</pre></details>")
    if log:
        out.append(f"<details><summary>Log ({len(log)} lines)</summary><pre>{esc(chr(10).join(log))}</pre></details>")
    if files:
        out.append("<h2>Files</h2><ul>" + "".join(f'<li><a href="{esc(f)}">{esc(f)}</a></li>' for f in files) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def conversation_section(turns: Sequence[dict[str, Any]]) -> str:
    """The turns the agent's events told (rtc/events/ ``Turn.model_json``): who said what and
    when on the call's clock, with the source of each text, tool calls and the agent's figures."""

    def when(part: dict[str, Any] | None) -> str:
        if not part or part.get("start_ms") is None:
            return ""
        end = part.get("end_ms")
        return (
            f"{part['start_ms'] / 1000:.2f}–{end / 1000:.2f} s"
            if end is not None
            else f"{part['start_ms'] / 1000:.2f} s"
        )

    def words(part: dict[str, Any] | None) -> str:
        if not part:
            return ""
        texts = part.get("texts") or {}
        return "<br>".join(f"{esc(text)} <small>({esc(source)})</small>" for source, text in texts.items())

    rows = []
    for turn in turns:
        tools = "<br>".join(
            f"{esc(c.get('name'))}({esc(c.get('args'))}) → {esc(c.get('result'))}" for c in turn.get("tool_calls") or []
        )
        figures = ", ".join(
            f"{esc(m.get('name'))} {esc(m.get('value'))}{' ms' if m.get('unit') == 'ms' else ''}"
            for m in turn.get("metrics") or []
        )
        rows.append(
            (
                esc(turn.get("turn")),
                when(turn.get("caller")),
                words(turn.get("caller")),
                when(turn.get("agent")),
                words(turn.get("agent")) + (" <b>(interrupted)</b>" if turn.get("interrupted") else ""),
                tools,
                figures,
                esc("; ".join(turn.get("errors") or [])),
            )
        )
    head = ("#", "caller at", "caller said", "agent at", "agent said", "tool calls", "agent's figures", "errors")
    return (
        "<h2>Conversation (the agent's events)</h2>"
        + table(rows, head)
        + '<p class="note">Times on the call\'s clock (as the events arrived); each text with its source: '
        "agent (its own report), voicedesk (VoiceDesk's recognizer), sent (what VoiceDesk typed or spoke).</p>"
    )


def caller_conversation_rows(conversation: dict[str, Any], turns: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A simulated caller's conversation in order: (time ms, who, words, where the words came from,
    latency text). Times and latencies are from the audio at this end of the call."""
    entries = conversation.get("turns", [])
    spoken = [i for i, e in enumerate(entries) if e.get("spoken")]
    rows: list[tuple[Any, ...]] = []
    if entries and entries[0].get("heard"):  # the caller listened first: the agent's greeting
        first = entries[0]
        rows.append((None, "agent", first["heard"], first.get("heard_from"), "before the caller spoke"))
    for k, turn in enumerate(turns):
        entry = entries[spoken[k]] if k < len(spoken) else {}
        response = entry.get("caller_response_ms")
        rows.append(
            (
                turn.get("utterance_start_ms"),
                "caller",
                entry.get("said") or turn.get("said"),
                entry.get("why"),
                f"{response:.0f} ms after the agent stopped" if response is not None else "",
            )
        )
        after = spoken[k] + 1 if k < len(spoken) else None
        heard = entries[after] if after is not None and after < len(entries) else {}
        words = heard.get("heard") or (turn.get("agent") or {}).get("response") or turn.get("transcript")
        source = heard.get("heard_from") or ("agent events" if (turn.get("agent") or {}).get("response") else "")
        v2v = turn.get("voice_to_voice_ms")
        if turn.get("reply_start_ms") is not None or words:
            rows.append(
                (
                    turn.get("reply_start_ms"),
                    "agent",
                    words,
                    source or "recognizer",
                    f"voice-to-voice {v2v:.0f} ms" if v2v is not None else "",
                )
            )
    return rows


def caller_conversation_section(conversation: dict[str, Any], turns: Sequence[dict[str, Any]]) -> str:
    rows = [tuple(esc(c) for c in row) for row in caller_conversation_rows(conversation, turns)]
    ended = conversation.get("ended") or ""
    head = (
        f"<h2>Simulated caller ({esc(conversation.get('caller'))} caller, seed {esc(conversation.get('seed'))})</h2>"
        f"<p>Ended: {esc(ended)}{' — goal reached' if conversation.get('goal_reached') else ''}</p>"
    )
    note = (
        '<p class="note">times: ms since the call started, where each utterance was found in the audio sent '
        "and received; the caller's response time runs from the end of the agent's audio to the start of the "
        "caller's.</p>"
    )
    return head + table(rows, ("at ms", "who", "words", "words from / why", "latency")) + note
