"""Call reports: one folder (or zip) with everything needed to attach a call to a bug.

    offer.sdp, answer.sdp          the descriptions as applied
    candidates.json                local and remote candidates, pairs, selected path
    ice_config.json                the ICE configuration, credentials redacted
    stats.csv                      the StatsSample series (one row per getStats reading)
    webrtc_internals_dump.json     the same series in chrome://webrtc-internals "Create dump" shape
    sent.wav, received.wav         both recordings (48 kHz mono)
    call.log                       the voicedesk log of the call
    turns.json                     {"client": turns measured here, "agent": the agent's own turn reports}
    events.json, summary.json      call events and the summary (result.json for a test)
    report.html                    self-contained report with the graphs
    manifest.json                  what is here and what was redacted or masked

Secrets (TURN credentials, Authorization/token header values, ICE passwords) are replaced
by ``***`` in every text file. ``mask=True`` also replaces IP addresses and device names by
stable placeholders (``ip-1``, ``device-1``), for bundles sent outside the team.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import logging
import re
import sys
import wave
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.errors import ConfigError
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.qa.capture import CallCapture, CallRecord
from voicedesk.qa.html import render_report
from voicedesk.qa.webrtc_dump import build_dump
from voicedesk.rtc.stats import StatsSample

logger = logging.getLogger(__name__)

REDACTED = "***"
SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "x-auth-token")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
# secrets people put in URLs: wss://agent/ws?token=…, ?api_key=…
_URL_SECRET = re.compile(
    r"([?&](?:token|access_token|api_key|apikey|key|secret|password|auth|signature)=)[^&\s\"'\\]+", re.IGNORECASE
)
_ICE_PWD = re.compile(r"(a=ice-pwd:)[A-Za-z0-9+/]+")  # ice-char only: SDP inside JSON has literal \\r\\n


class Scrubber:
    """Replaces secrets (always) and, when masking, IP addresses and device names, in any text."""

    def __init__(self, secrets: list[str], mask: bool, devices: list[str] | None = None) -> None:
        # longest first: a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)
        self.mask = mask
        self.devices = sorted({d for d in (devices or []) if d}, key=len, reverse=True)
        self.ips: dict[str, str] = {}
        self.device_names: dict[str, str] = {}

    def _ip(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return text  # 1.2.3.999 or a time like 12:30:45 is no address
        if text not in self.ips:
            self.ips[text] = f"ip-{len(self.ips) + 1}"
        return self.ips[text]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _ICE_PWD.sub(rf"\g<1>{REDACTED}", text)
        text = _URL_SECRET.sub(rf"\g<1>{REDACTED}", text)
        if self.mask:
            for name in self.devices:
                if name not in self.device_names:
                    self.device_names[name] = f"device-{len(self.device_names) + 1}"
                text = text.replace(name, self.device_names[name])
            text = _IPV4.sub(self._ip, text)
            text = _IPV6.sub(self._ip, text)
        return text


def secrets_of(record: CallRecord) -> list[str]:
    found: list[str] = []
    for server in (record.ice or {}).get("iceServers", []):
        if isinstance(server, dict) and server.get("credential"):
            found.append(str(server["credential"]))
    for name, value in record.headers.items():
        if name.lower() in SECRET_HEADERS or "token" in name.lower() or "key" in name.lower():
            # "Bearer abc" keeps its scheme word, as the signaling log does (mask_headers)
            found.append(value.split(" ", 1)[1] if " " in value.strip() else value)
    return found


def redacted_ice(ice: dict[str, Any] | None) -> dict[str, Any] | None:
    if ice is None:
        return None
    out = json.loads(json.dumps(ice))
    for server in out.get("iceServers", []):
        if isinstance(server, dict) and "credential" in server:
            server["credential"] = REDACTED
    return out


def stats_csv(samples: list[StatsSample]) -> str:
    names = [f.name for f in fields(StatsSample)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for s in samples:
        writer.writerow(["" if getattr(s, n) is None else getattr(s, n) for n in names])
    return buffer.getvalue()


def wav_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    pcm = np.clip(audio * 32767.0, -32768, 32767).astype("<i2") if audio.size else np.zeros(0, "<i2")
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def bundle_files(record: CallRecord, mask: bool = False) -> dict[str, bytes]:
    """Every file of the bundle, by name (text already scrubbed)."""
    scrub = Scrubber(secrets_of(record), mask, list(record.devices.values()))
    texts: dict[str, str] = {}
    if record.local_sdp:
        texts["offer.sdp"] = record.local_sdp
    if record.remote_sdp:
        texts["answer.sdp"] = record.remote_sdp
    texts["candidates.json"] = json.dumps(record.candidates, indent=1)
    ice = redacted_ice(record.ice)
    texts["ice_config.json"] = json.dumps(ice, indent=1)
    texts["stats.csv"] = stats_csv(record.samples)
    dump = build_dump(
        record.samples,
        started_at_ms=record.started_at * 1000.0,
        url=record.target,
        rtc_configuration=ice,
        update_log=_update_log(record),
    )
    texts["webrtc_internals_dump.json"] = json.dumps(dump, indent=1)
    texts["call.log"] = "\n".join(record.log) + "\n"
    texts["turns.json"] = json.dumps({"client": record.turns, "agent": record.agent_turns}, indent=1)
    if record.conversation:
        texts["conversation.json"] = json.dumps(record.conversation, indent=1, default=str)
    texts["events.json"] = json.dumps(record.events, indent=1, default=str)
    texts["summary.json"] = json.dumps(record.summary, indent=1, default=str)
    if record.result is not None:
        texts["result.json"] = json.dumps(record.result, indent=1, default=str)
    binary = {"sent.wav": wav_bytes(record.tx), "received.wav": wav_bytes(record.rx)}
    names = sorted([*texts, *binary, "report.html", "manifest.json"])
    # the HTML is built from scrubbed copies so it leaks nothing the files do not
    summary = json.loads(scrub(texts["summary.json"]))
    candidates = json.loads(scrub(texts["candidates.json"]))
    title = f"VoiceDesk call report — {record.result['name'] if record.result else record.target}"
    html_text = render_report(
        title=title,
        summary=summary,
        samples=record.samples,
        tx=record.tx,
        rx=record.rx,
        tx_offset_ms=record.tx_offset_ms,
        rx_offset_ms=record.rx_offset_ms,
        turns=record.turns,
        agent_turns=record.agent_turns,
        conversation=json.loads(scrub(texts.get("conversation.json", "[]"))),
        result=record.result,
        local_sdp=record.local_sdp,
        remote_sdp=record.remote_sdp,
        candidates=candidates,
        ice=ice,
        log=record.log,
        files=names,
        note="IP addresses and device names are masked." if mask else "",
    )
    texts["report.html"] = html_text
    out = {name: scrub(text).encode("utf-8") for name, text in texts.items()}
    manifest = {
        "voicedesk_report": 1,
        "target": scrub(record.target),
        "files": names,
        "redacted": "TURN credentials, secret header values, ICE passwords",
        "masked": {"ip_addresses": len(scrub.ips), "device_names": len(scrub.device_names)} if mask else None,
    }
    out["manifest.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    out.update(binary)
    return out


def _update_log(record: CallRecord) -> list[dict[str, Any]]:
    """Call events as webrtc-internals updateLog entries (type, value, timestamp in epoch ms)."""
    entries = []
    for event in record.events:
        t_ms = event.get("t_ms")
        when = record.started_at * 1000.0 + (t_ms or 0.0)
        kind = event.get("event", "")
        if kind == "DescriptionSet":
            kind = "setLocalDescription" if event.get("side") == "local" else "setRemoteDescription"
            value = f"type: {event.get('type')}, sdp: {event.get('sdp')}"
        elif kind == "CallStateChanged":
            kind, value = "callstatechange", str(event.get("state"))
        else:
            value = json.dumps({k: v for k, v in event.items() if k != "event"}, default=str)
        entries.append({"type": kind, "value": value, "timestamp": round(when, 3)})  # as Chrome writes them
    return entries


def write_bundle(record: CallRecord, destination: str | Path, mask: bool = False) -> Path:
    """Write the bundle to a folder, or to a zip when ``destination`` ends in .zip."""
    destination = Path(destination)
    files = bundle_files(record, mask)
    try:
        if destination.suffix.lower() == ".zip":
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in files.items():
                    archive.writestr(name, data)
        else:
            destination.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (destination / name).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write the report {destination}: {exc.strerror or exc}") from None
    logger.info("call report written to %s", destination)
    return destination


def add_report_arguments(parser: Any) -> None:
    """``--report DIR|ZIP`` and ``--mask`` for commands that place calls."""
    parser.add_argument(
        "--report",
        metavar="DIR|FILE.zip",
        help="after the call, export a report bundle (SDP, candidates, stats CSV and dump, recordings, log, HTML)",
    )
    parser.add_argument(
        "--mask", action="store_true", help="in the report, also mask IP addresses and device names (to share it)"
    )


class CallReporter:
    """``--report`` for a command that places one Call: capture while it runs, write after it ends."""

    def __init__(self, destination: str | None, mask: bool = False) -> None:
        self.destination = destination
        self.mask = mask
        self.capture = CallCapture() if destination else None

    def extensions(self) -> list[CallCapture]:
        """What to hand the call when it is built (nothing without ``--report``)."""
        return [self.capture] if self.capture is not None else []

    def write(self, summary: dict[str, Any] | None = None) -> Path | None:
        if self.capture is None or self.capture.call is None or self.destination is None:
            return None
        self.capture.release()
        record = self.capture.record()
        if summary:
            record.summary = dict(summary)
            for role in ("microphone", "speaker"):
                device = (summary.get(role) or {}).get("device") if isinstance(summary.get(role), dict) else None
                if device:
                    record.devices[role] = str(device)
        where = write_bundle(record, self.destination, self.mask)
        print(f"voicedesk: call report written to {where}", file=sys.stderr)
        return where


def export_capture(capture: CallCapture, path: str, mask: bool) -> tuple[Path, bool]:
    """Write the bundle of the call ``capture`` recorded to ``path``; where it went, and whether a
    recording stopped at its limit (the window's QA tab, wherever the call ran)."""
    where = write_bundle(capture.record(), path, mask)
    return where, bool(capture.rx.truncated or capture.tx.truncated)
