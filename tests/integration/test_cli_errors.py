"""Every bad input ends in one line that says what happened, and a non-zero exit."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiortc import RTCSessionDescription

from tests.helpers.calls import offline_peer
from tests.helpers.net import free_port
from tests.helpers.stub_server import StubServer
from voicedesk.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("voicedesk:")]
    assert lines, err
    return lines[-1]


def test_connection_refused(capsys):
    port = free_port()
    code, _, err = run_cli(capsys, "call", f"http://127.0.0.1:{port}/api/voice/offer", "--duration", "1")
    assert code == 1
    assert f"cannot connect to 127.0.0.1:{port}" in last_line(err)
    assert "refused" in last_line(err)
    assert "Traceback" not in err


def test_unresolvable_host(capsys):
    code, _, err = run_cli(capsys, "call", "http://no-such-host.invalid/api/voice/offer", "--timeout", "5")
    assert code == 1
    assert "cannot resolve host 'no-such-host.invalid'" in last_line(err)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "shown"),
    [
        (404, b"not here", "text/plain", "HTTP 404 Not Found: not here"),
        (500, b'{"error": "model overloaded"}', "application/json", "HTTP 500 Internal Server Error: model overloaded"),
        (401, b'{"detail": "bad key"}', "application/json", "HTTP 401 Unauthorized: bad key"),
    ],
)
def test_http_errors_show_status_and_body(capsys, status, body, content_type, shown):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type=content_type)

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer")
    assert code == 1
    assert shown in last_line(err)


def test_non_json_answer(capsys):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer")
    assert code == 1
    assert "not JSON (text/html" in last_line(err)


def test_non_sdp_answer(capsys):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"sdp": "hello", "type": "answer"})

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer")
    assert code == 1
    assert "not SDP" in last_line(err)


def test_answer_without_sdp(capsys):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer")
    assert code == 1
    assert 'without an "sdp" field' in last_line(err)


def test_signaling_timeout(capsys):
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer", "--timeout", "1.5")
    assert code == 1
    assert "within 1.5 s" in last_line(err) or "timed out after 1.5 s" in last_line(err)


def test_ice_never_connects_lists_candidates(capsys):
    """A real answer whose candidates point where nobody listens."""

    async def handler(request: web.Request) -> web.Response:
        offer = await request.json()
        pc = offline_peer()
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription(await pc.createAnswer())
        sdp = pc.localDescription.sdp
        await pc.close()
        lines = []
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                parts = line.split()
                parts[4], parts[5] = "192.0.2.123", "9"
                if "raddr" in parts:
                    continue
                line = " ".join(parts)
            lines.append(line)
        return web.json_response({"sdp": "\r\n".join(lines) + "\r\n", "type": "answer"})

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer", "--timeout", "4")
    assert code == 1
    message = last_line(err)
    assert message.startswith("voicedesk: ICE did not connect")
    assert "remote candidates: host udp 192.0.2.123:9" in message
    assert "local candidates: host udp" in message


def test_malformed_ice_config(capsys, tmp_path):
    bad = tmp_path / "ice.json"
    bad.write_text('{"iceServers": [ {"urls": "stun:x"} ')
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--ice", str(bad))
    assert code == 1
    assert f"{bad} is not valid JSON (line 1" in last_line(err)


def test_ice_config_turn_without_credentials(capsys, tmp_path):
    bad = tmp_path / "ice.json"
    bad.write_text(json.dumps({"iceServers": [{"urls": "turn:turn.example.com:3478"}]}))
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--ice", str(bad))
    assert code == 1
    assert "needs username and credential" in last_line(err)


def test_missing_ice_config_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--ice", str(tmp_path / "nope.json"))
    assert code == 1
    assert "cannot read ICE configuration" in last_line(err)


def test_unknown_target_and_source(capsys):
    code, _, err = run_cli(capsys, "call", "ftp://x/y")
    assert code == 1 and "unknown target 'ftp://x/y'" in last_line(err)
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--source", "noise")
    assert code == 1 and "unknown source 'noise'" in last_line(err)
    code, _, err = run_cli(capsys, "call", "embedded:nope")
    assert code == 1 and "unknown agent 'nope'" in last_line(err)


def test_unreadable_wav_source_names_the_file(capsys, tmp_path):
    bad = tmp_path / "prompt.wav"
    bad.write_bytes(b"RIFF garbage")
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--source", f"wav:{bad}")
    assert code == 1
    assert f"cannot read audio file {bad}" in last_line(err)


def test_a_closed_pipe_is_not_a_traceback():
    """`voicedesk … | head`: the reader is gone before anything is written."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "sdp", "rules", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(30)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141


# --- bad input that used to escape (issue 23) -------------------------------------------


def run_cli_exit(capsys, *args: str) -> tuple[int, str]:
    """``main`` for input the parser refuses: argparse ends with SystemExit."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


WEEK, DAY = "≤ 604800", "≤ 86400"
# what each command needs before the option under test
BEFORE = {"call": ["embedded:echo"], "load": ["embedded:echo", "--calls", "2"]}


@pytest.mark.parametrize(
    ("command", "option", "expected"),
    [
        # a bad number is one line naming the option, not argparse's 13-line usage block
        ("call", "--duration x", "--duration: 'x' is not a number"),
        ("call", "--duration nan", f"--duration: expected seconds ≥ 0 and {WEEK}, got nan"),
        ("call", "--duration inf", f"--duration: expected seconds ≥ 0 and {WEEK}, got inf"),
        ("call", "--timeout nan", f"--timeout: expected seconds > 0 and {DAY}, got nan"),
        ("call", "--timeout 0", f"--timeout: expected seconds > 0 and {DAY}, got 0"),
        ("call", "--dtmf-delay nan", f"--dtmf-delay: expected seconds ≥ 0 and {WEEK}, got nan"),
        ("call", "--playout-ms inf", "--playout-ms: expected a number ≥ 0 and ≤ 1000, got inf"),
        ("call", "--impair-seed 1.5", "--impair-seed: '1.5' is not a whole number"),
        ("load", "--duration nan", f"--duration: expected seconds ≥ 0 and {WEEK}, got nan"),
        ("load", "--timeout nan", f"--timeout: expected seconds > 0 and {DAY}, got nan"),
        ("load", "--ramp nan", "--ramp: expected a number > 0, got nan"),
        ("load", "--processes -1", "--processes: expected a whole number ≥ 0, got -1"),
        ("serve", "--port 99999", "--port: expected a port ≥ 0 and ≤ 65535, got 99999"),
        ("serve", "--max-sessions -1", "--max-sessions: expected a whole number ≥ 1, got -1"),
        ("serve", "--max-loop-lag-ms nan", "--max-loop-lag-ms: expected a number ≥ 0, got nan"),
        ("serve", "--workers -2", "--workers: expected a whole number ≥ 0, got -2"),
        ("ice probe", "--timeout nan", f"--timeout: expected seconds > 0 and {DAY}, got nan"),
        ("ice credentials", "--ttl 0", "--ttl: expected a whole number ≥ 1, got 0"),
        ("gui", "--timeout inf", f"--timeout: expected seconds > 0 and {DAY}, got inf"),
    ],
)
def test_bad_numbers_are_one_line_and_exit_2(capsys, command, option, expected):
    code, err = run_cli_exit(capsys, *command.split(), *BEFORE.get(command, []), *option.split())
    assert code == 2
    assert err == f"voicedesk {command}: {expected}\n"


def test_help_still_shows_the_usage(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["call", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: voicedesk call") and "--duration" in out


def test_impair_at_nan_is_refused(capsys):
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--impair-at", "nan:loss=5%")
    assert code == 1
    assert "bad --impair-at 'nan:loss=5%'" in last_line(err)


@pytest.mark.parametrize("urls", [42, {"stun:x": 1}, None])
def test_ice_config_urls_of_the_wrong_type(capsys, tmp_path, urls):
    bad = tmp_path / "ice.json"
    bad.write_text(json.dumps({"iceServers": [{"urls": urls}]}))
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--ice", str(bad))
    assert code == 1 and "Traceback" not in err
    assert 'iceServers[0]: "urls" must be a string or a list of strings' in last_line(err)


def test_ice_config_credential_of_the_wrong_type(capsys, tmp_path):
    bad = tmp_path / "ice.json"
    bad.write_text(json.dumps({"iceServers": [{"urls": "turn:t.example:3478", "username": "u", "credential": 7}]}))
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--ice", str(bad))
    assert code == 1 and '"credential" must be a string' in last_line(err)


def test_a_header_with_a_line_break_is_refused_before_sending(capsys):
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({})

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer", "-H", "X-A: b\r\nX-B: 1")
    assert code == 1 and "Traceback" not in err and not seen
    assert "bad header 'X-A: b\\r\\nX-B: 1': the value holds a line break" in last_line(err)


def test_the_signaling_refuses_bad_headers_from_any_caller():
    """The window passes its headers straight to the signaling: the same check applies there."""
    from voicedesk.errors import ConfigError
    from voicedesk.rtc.signaling import signaling_for_target

    with pytest.raises(ConfigError, match="bad header 'X-A': the value holds a line break"):
        signaling_for_target("http://127.0.0.1:9/offer", headers={"X-A": "b\r\nX-B: 1"})
    with pytest.raises(ConfigError, match="is not an HTTP header name"):
        signaling_for_target("whip+http://127.0.0.1:9/whip", headers={"Bad Name": "x"})


@pytest.mark.parametrize("target", ["http://127.0.0.1:0/offer", "whip+http://127.0.0.1:0/whip", "ws://127.0.0.1:0/ws"])
def test_port_0_is_not_dialled_as_80(capsys, target):
    code, _, err = run_cli(capsys, "call", target, "--timeout", "3")
    assert code == 1
    assert f"bad target URL {target!r}: port 0 cannot be called (use 1-65535)" in last_line(err)


def test_a_redirect_on_json_signaling_says_so(capsys):
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(location=str(request.url))  # a loop: it sends us back where we were

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer", "--timeout", "3")
    message = last_line(err)
    assert code == 1 and "not JSON" not in message
    assert f"answered HTTP 302 Found, a redirect to {stub.url}/offer" in message
    assert "JSON signaling does not follow redirects" in message


def test_serve_on_a_host_that_is_no_address(capsys):
    code, _, err = run_cli(capsys, "serve", "--host", "256.1.1.1", "--port", "0")
    message = last_line(err)
    assert code == 1 and "Unknown error" not in message and "--port" not in message
    assert message.startswith("voicedesk: cannot listen on 256.1.1.1:0: --host is not an address")


def test_a_wav_that_is_a_directory(capsys, tmp_path):
    code, _, err = run_cli(capsys, "call", "embedded:echo", "--source", f"wav:{tmp_path}")
    assert code == 1
    assert f"cannot read audio file {tmp_path}: it is a directory" in last_line(err)


def test_a_dump_whose_stats_is_not_an_object(capsys, tmp_path):
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"PeerConnections": {"1-1": {"stats": [1, 2]}}, "UserAgent": "x"}))
    code, out, err = run_cli(capsys, "report", str(dump))
    assert code == 1 and "samples" not in out
    assert 'connection 1-1 has "stats" that is not an object but a list' in last_line(err)


async def _answer_to(offer: dict, mutate) -> web.Response:
    """A real aiortc answer to ``offer``, then ``mutate``d as a broken peer would send it."""
    pc = offline_peer()
    await pc.setRemoteDescription(RTCSessionDescription(**offer))
    await pc.setLocalDescription(await pc.createAnswer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return web.json_response({"sdp": mutate(sdp), "type": "answer"})


def test_an_answer_that_rejects_the_audio_fails(capsys):
    import re

    async def handler(request: web.Request) -> web.Response:
        return await _answer_to(await request.json(), lambda sdp: re.sub(r"(?m)^m=audio \d+", "m=audio 0", sdp))

    with StubServer({("POST", "/offer"): handler}) as stub:
        code, _, err = run_cli(capsys, "call", f"{stub.url}/offer", "--timeout", "5")
    message = last_line(err)
    assert code == 1
    assert "the answer rejects the audio (line " in message
    assert "m-section 0 (audio, mid 0) has port 0 [answer-rejects-media]" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("embedded:parrot?delay=nan",), "agent option delay: expected a number ≥ 0"),
        (("embedded:echo", "--impair", "loss=1.2.3%"), "bad impairment 'loss=1.2.3%': '1.2.3' is not a number"),
        (("embedded:echo", "--impair", "delay=" + "9" * 400 + "ms"), "expected a number ≥ 0, got inf"),
    ],
)
def test_numbers_inside_other_values_are_checked_too(capsys, args, expected):
    code, _, err = run_cli(capsys, "call", *args, "--duration", "1")
    assert code == 1 and "Traceback" not in err
    assert expected in last_line(err)
