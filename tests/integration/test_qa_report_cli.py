"""``voicedesk report DUMP``: a real Chrome dump read from the command line; non-dumps refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers.processes import voicedesk

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "webrtc_internals_dump.json"


def test_a_chrome_dump_becomes_series_csv_and_html(tmp_path):
    out_csv, out_html = tmp_path / "s.csv", tmp_path / "s.html"
    done = voicedesk("report", str(FIXTURE), "--csv", str(out_csv), "--html", str(out_html), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    pc = json.loads(FIXTURE.read_text())["PeerConnections"][info["connection"]]
    assert [c["connection"] for c in info["connections"]] == ["8-1", "9-1"]
    received = next(
        json.loads(v["values"])
        for k, v in pc["stats"].items()
        if v["statsType"] == "inbound-rtp" and k.endswith("-packetsReceived")
    )
    assert info["samples"] == len(received) and info["packets_received"] == received[-1]
    assert [s["packets_received"] for s in info["series"]] == received
    assert info["loss_pct"]["max"] == 0.0 and 20 < info["bitrate_in_kbps"]["median"] < 300
    rows = list(csv.DictReader(out_csv.open()))
    assert [int(r["packets_received"]) for r in rows] == received
    page = out_html.read_text()
    assert page.count("<svg") >= 5 and "<script" not in page


def test_a_connection_is_picked_by_key():
    done = voicedesk("report", str(FIXTURE), "--connection", "9-1", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["connection"] == "9-1" and info["samples"] == len(info["series"]) >= 2


def test_the_human_summary_names_the_connection():
    done = voicedesk("report", str(FIXTURE))
    assert done.returncode == 0, done.stderr
    assert "2 peer connection(s)" in done.stderr
    assert done.stdout.startswith("connection ") and "rtt            median" in done.stdout


def test_a_file_that_is_not_a_dump_is_one_line(tmp_path):
    sdp = tmp_path / "offer.sdp"
    sdp.write_text("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n")
    done = voicedesk("report", str(sdp))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"voicedesk: {sdp} is not a chrome://webrtc-internals dump: it is not JSON "
        '(make one in chrome://webrtc-internals with "Create a WebRTC-Internals dump")'
    )
    other = tmp_path / "stats.json"
    other.write_text(json.dumps([{"type": "inbound-rtp"}]))
    done = voicedesk("report", str(other))
    assert done.returncode == 1 and 'has no "PeerConnections" object' in done.stderr
    done = voicedesk("report", str(tmp_path / "missing.json"))
    assert done.returncode == 1 and "cannot read" in done.stderr and "Traceback" not in done.stderr
