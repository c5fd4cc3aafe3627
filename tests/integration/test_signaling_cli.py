"""The signaling options of ``voicedesk call`` as a user runs them: --signaling, -H, --verbose."""

from __future__ import annotations

import json

from tests.helpers.processes import serve, voicedesk


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_verbose_shows_every_exchange_with_the_token_masked():
    with serve("--agent", "tone", "--token", "tok-secret-42") as (base, _):
        result = voicedesk(
            "-v", "call", f"{base}/whip", "--signaling", "whip", "-H", "Authorization: Bearer tok-secret-42",
            "--duration", "1", "--json",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert abs(json.loads(result.stdout)["rx_peak_hz"] - 440) < 5
    err = result.stderr
    assert f"signaling OPTIONS {base}/whip -> 204 No Content" in err
    assert f"signaling POST {base}/whip -> 201 Created" in err
    assert f"signaling DELETE {base}/whip/sessions/" in err and "-> 200 OK" in err
    assert "Authorization: Bearer ***" in err
    assert "tok-secret-42" not in err


def test_whip_without_the_token_is_one_clear_line():
    with serve("--token", "tok-secret-42") as (base, _):
        result = voicedesk("call", f"whip+{base}/whip", "--duration", "1")
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        f"voicedesk: WHIP endpoint {base}/whip answered HTTP 401 Unauthorized: Unauthorized: "
        "this server needs a bearer token (give a token with -H 'Authorization: Bearer …')"
    )
    assert "Traceback" not in result.stderr


def test_websocket_and_pipecat_targets_from_the_command_line():
    with serve("--agent", "echo") as (base, _):
        ws = voicedesk("call", base.replace("http://", "ws://") + "/ws", "--source", "tone:500", "--duration", "1")
        pipecat = voicedesk("call", base, "--signaling", "pipecat", "--source", "tone:500", "--duration", "1")
    assert ws.returncode == 0, ws.stderr
    assert pipecat.returncode == 0, pipecat.stderr


def test_signaling_flag_that_contradicts_the_target():
    result = voicedesk("call", "janus+http://127.0.0.1:9/janus", "--signaling", "whip")
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "voicedesk: --signaling whip contradicts the target 'janus+http://127.0.0.1:9/janus'"
    )
    result = voicedesk("call", "ws://127.0.0.1:9/ws", "--signaling", "whip")
    assert last_line(result.stderr) == "voicedesk: --signaling whip needs an http(s):// URL, not 'ws://127.0.0.1:9/ws'"
