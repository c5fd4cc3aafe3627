"""``voicedesk sdp …``: exit status, text and JSON output, stdin, one-line errors."""

from __future__ import annotations

import io
import json
import sys

import pytest

from tests.helpers.sdp import ANSWER, FIXTURES, OFFER, mutate
from voicedesk.cli import main


def run(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def test_lint_clean_real_offer_exits_0(capsys):
    code, out, _ = run(capsys, "sdp", "lint", str(FIXTURES / "chromium_offer.sdp"))
    assert code == 0
    assert out.splitlines()[-1] == "0 errors, 0 warnings, 5 notes"
    assert "chromium_offer.sdp:11: info [loopback-candidate]" in out


def test_lint_error_exits_1_and_names_file_line_rule(capsys, tmp_path):
    path = write(tmp_path, "bad.sdp", mutate(OFFER, "a=rtcp-mux\r\n", ""))
    code, out, _ = run(capsys, "sdp", "lint", path)
    assert code == 1
    assert f"{path}:7: error [missing-rtcp-mux]" in out


def test_lint_pair_and_json(capsys, tmp_path):
    offer = write(tmp_path, "offer.sdp", OFFER)
    answer = write(tmp_path, "answer.sdp", mutate(ANSWER, "setup:active", "setup:actpass"))
    code, out, _ = run(capsys, "sdp", "lint", offer, answer, "--json")
    assert code == 1
    data = json.loads(out)
    (finding,) = data["findings"]
    assert finding["rule"] == "setup-actpass-in-answer" and finding["file"] == answer and finding["line"] == 16
    assert data["counts"] == {"error": 1, "warning": 0, "info": 0}


def test_lint_reads_stdin_and_json_wrappers(capsys, monkeypatch):
    wrapped = json.dumps({"type": "answer", "sdp": mutate(ANSWER, "setup:active", "setup:actpass")})
    code, out, _ = run(capsys, "sdp", "lint", "-", stdin=wrapped, monkeypatch=monkeypatch)
    assert code == 1 and "<stdin>:16: error [setup-actpass-in-answer]" in out
    janus = json.dumps({"janus": "event", "jsep": {"type": "answer", "sdp": ANSWER}})
    code, out, _ = run(capsys, "sdp", "lint", "-", stdin=janus, monkeypatch=monkeypatch)
    assert code == 0


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("<html>login</html>", "bad.sdp: line 1: not SDP: an SDP starts with 'v=0', found '<html>login</html>'"),
        ('{"error": "nope"}', "bad.sdp: JSON without an 'sdp' string"),
        ("{oops", "bad.sdp: looks like JSON but is not"),
        ("v=0\r\nm=audio x RTP/AVP 0\r\n", "bad.sdp: line 2: the port of an m= line must be a number"),
    ],
)
def test_not_sdp_is_one_line(capsys, tmp_path, content, shown):
    code, _, err = run(capsys, "sdp", "lint", write(tmp_path, "bad.sdp", content))
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith(f"voicedesk: {tmp_path}/{shown}")
    assert "Traceback" not in err


def test_not_sdp_as_json_is_an_unparseable_finding(capsys, tmp_path):
    code, out, _ = run(capsys, "sdp", "lint", "--json", write(tmp_path, "x.sdp", "hello\n"))
    assert code == 1
    assert json.loads(out)["findings"][0]["rule"] == "unparseable"


def test_missing_file_and_two_stdins(capsys):
    code, _, err = run(capsys, "sdp", "lint", "/no/such.sdp")
    assert code == 1 and err.strip() == "voicedesk: cannot read /no/such.sdp: No such file or directory"
    code, _, err = run(capsys, "sdp", "diff", "-", "-")
    assert code == 1 and "only one of the files can be -" in err


def test_summary_text_and_json(capsys):
    offer, answer = str(FIXTURES / "janus_offer.sdp"), str(FIXTURES / "janus_answer.sdp")
    code, out, _ = run(capsys, "sdp", "summary", offer, answer)
    assert code == 0 and "codec          opus/48000/2 (PT 96)" in out
    code, out, _ = run(capsys, "sdp", "summary", offer, answer, "--json")
    data = json.loads(out)
    assert data["sections"][0]["codec"]["name"] == "opus" and data["errors"] == []


def test_summary_lists_error_findings(capsys, tmp_path):
    answer = write(tmp_path, "a.sdp", mutate(ANSWER, "a=sendrecv", "a=sendonly"))
    offer = write(tmp_path, "o.sdp", mutate(OFFER, "a=sendrecv", "a=sendonly"))
    code, out, _ = run(capsys, "sdp", "summary", offer, answer)
    assert code == 0 and "problems" in out and "[direction-mismatch]" in out


def test_diff_text_and_json(capsys, tmp_path):
    b = write(tmp_path, "b.sdp", OFFER.replace("a=sendrecv", "a=sendonly"))
    code, out, _ = run(capsys, "sdp", "diff", write(tmp_path, "a.sdp", OFFER), b)
    assert code == 0 and "~ direction: sendrecv -> sendonly" in out
    code, out, _ = run(capsys, "sdp", "diff", write(tmp_path, "a.sdp", OFFER), b, "--json")
    assert json.loads(out)["changes"][0]["key"] == "direction"


def test_edit_keeps_crlf_and_bytes(capfdbinary, tmp_path):
    path = write(tmp_path, "o.sdp", OFFER)
    code = main(["sdp", "edit", "--keep-codec", "PCMU", path])
    out = capfdbinary.readouterr().out
    assert code == 0
    assert b"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" in out and b"opus" not in out
    code = main(["sdp", "edit", "--keep-codec", "G729", path])
    assert code == 1 and b"has none of g729" in capfdbinary.readouterr().err


def test_rules_lists_every_rule(capsys):
    code, out, _ = run(capsys, "sdp", "rules", "--json")
    rules = json.loads(out)
    assert code == 0 and {"missing-fingerprint", "opus-no-fec", "ice-lite-both"} <= {r["rule"] for r in rules}
