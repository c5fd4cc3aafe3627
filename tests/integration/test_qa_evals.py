"""Simulated callers, judges and repeated runs over real calls to the embedded agents.

The LLM is a local HTTP server speaking OpenAI chat completions (streamed and whole answers),
scripted to act as a caller and as a judge; the rule-driven caller needs no network at all.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import pytest
from aiohttp import web

from tests.helpers.net import free_port
from tests.helpers.processes import voicedesk
from tests.helpers.stub_server import StubServer
from voicedesk.cli import main
from voicedesk.qa.repeat import impaired, run_seed
from voicedesk.qa.runner import run_scenario
from voicedesk.qa.scenario import parse_scenarios

pytestmark = pytest.mark.timeout(180)

REQUESTS: list[dict] = []
STALL = "\x00"  # where the scripted model pauses its stream for STALL_S (not sent)
STALL_S = 2.0


def _caller_line(messages: list[dict]) -> str:
    heard = messages[-1]["content"].lower()
    if "sunny" in heard:
        return f"Thank you. {STALL}That is all I wanted. [GOAL]"
    return "what is the weather today"


def _judge_answer(messages: list[dict]) -> str:
    prompt = messages[-1]["content"]
    criterion = prompt.split("\n", 1)[0]
    if "weather" in criterion:
        ok = "sunny" in prompt.lower()
        return json.dumps({"pass": ok, "reason": "the agent said it is sunny" if ok else "no weather given"})
    return json.dumps({"pass": False, "reason": "the agent never asked for the account number"})


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    REQUESTS.append({"auth": request.headers.get("Authorization"), "body": body})
    messages = body["messages"]
    judging = messages[0]["content"].startswith("You judge")
    text = _judge_answer(messages) if judging else _caller_line(messages)
    if not body.get("stream"):
        text = text.replace(STALL, "")
        return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for part in text.split(STALL):
        for i in range(0, len(part), 7):  # in pieces, as a model streams
            chunk = {"choices": [{"index": 0, "delta": {"content": part[i : i + 7]}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await asyncio.sleep(0.005)
        if part is not text.split(STALL)[-1]:
            await asyncio.sleep(STALL_S)
    await response.write(b"data: [DONE]\n\n")
    return response


async def broken(request: web.Request) -> web.Response:
    return web.json_response({"error": {"message": "model overloaded"}}, status=503)


@pytest.fixture(scope="module")
def llm():
    with StubServer({("POST", "/v1/chat/completions"): chat, ("POST", "/bad/v1/chat/completions"): broken}) as server:
        yield server


RULE_CALLER = """
name: rule-caller
target: embedded:voice
caller:
  opening: what is the weather today
  max_turns: 4
  seed: 3
  rules:
    - when: {contains: sunny}
      say: [thank you, thanks]
      goal: true
      hangup: true
  otherwise: repeat that please
  success:
    - goal
    - agent_said: sunny and warm
"""


async def test_a_rule_caller_and_an_llm_caller_talk_to_agents_at_once(llm, monkeypatch):
    """Two conversations at once (as --parallel places them): one offline with the voice agent, one
    through the LLM server with the script agent."""
    monkeypatch.setenv("EVAL_KEY", "sk-caller")
    REQUESTS.clear()
    [rules] = parse_scenarios(RULE_CALLER, "rule_caller.yaml")
    [with_llm] = parse_scenarios(LLM_CALLER.format(url=llm.url), "llm_caller.yaml")
    rule_result, llm_result = await asyncio.gather(run_scenario(rules), run_scenario(with_llm))
    check_rule_caller(rule_result.to_json())
    check_llm_caller(llm_result.to_json())


def check_rule_caller(data: dict) -> None:
    result = data
    assert result["passed"], data
    conversation = data["conversation"]
    assert conversation["caller"] == "rules" and conversation["goal_reached"] is True
    assert conversation["ended"] == "the caller reached its goal and hung up"
    assert len(conversation["turns"]) == 2, conversation
    first, second = conversation["turns"]
    assert first["said"] == "what is the weather today" and first["why"] == "opening"
    # what the caller heard is the agent's own report of its words, and its answer came from the rule
    assert second["heard"] == "The weather is sunny and warm today." and second["heard_from"] == "agent events"
    assert second["said"] in ("thank you", "thanks") and second["why"] == "rule at line 9"
    # agent stopped -> caller started, from the audio both ways: the caller waited for the end of the
    # agent's audio, not only for its report (its speed is a figure: bench/eval_callers.py)
    assert second["caller_response_ms"] > 0
    # both utterances are turns of the call, timed from audio like scripted ones
    assert [t["said"] for t in data["turns"]] == ["'what is the weather today'", repr(second["said"])]
    assert data["turns"][0]["voice_to_voice_ms"] > 100  # the agent needs time to hear and answer
    kinds = {c["kind"]: c for c in data["checks"]}
    assert kinds["goal"]["passed"] and kinds["agent_said"]["passed"] and kinds["caller"]["passed"]


# the script agent (TTS, no recognizer: cheaper than voice) reports its lines as the voice agent does
LLM_CALLER = """
name: llm-caller
target: embedded:script?say=The weather is sunny and warm today.|You are welcome.
agent_events: rtvi              # the caller hears it through pipecat's protocol (the conversation model)
caller:
  persona: a tourist who wants to know the weather
  goal: learn the weather
  max_turns: 3
  greeting: 1
  llm_url: {url}/v1
  llm_model: caller-model
  llm_key_env: EVAL_KEY
  llm_stream: true
  success:
    - goal
    - the agent told the caller the weather
judge:
  criteria: [the agent asked for the account number]
  llm_url: {url}/v1
  llm_model: judge-model
  llm_stream: false
"""


def check_llm_caller(data: dict) -> None:
    conversation = data["conversation"]
    assert conversation["caller"] == "llm" and conversation["goal_reached"] is True, data
    assert conversation["ended"] == "the caller reached its goal"
    # nothing was heard first (the script agent does not greet), so the LLM opened the call
    assert conversation["turns"][0]["heard"] is None
    assert conversation["turns"][0]["said"] == "what is the weather today"
    assert conversation["turns"][1]["said"] == "Thank you. That is all I wanted."
    # the caller spoke its first sentence while the model's stream stalled before the second (its
    # response would be over STALL_S had it waited for the whole answer)
    assert conversation["turns"][1]["caller_response_ms"] < (STALL_S - 0.5) * 1000
    # heard through RTVI, the one events channel this call opened (bot-transcription, bot-tts-text and
    # bot-output carry the same sentence: one channel kept; then bot-stopped-speaking)
    assert conversation["turns"][1]["heard"] == "The weather is sunny and warm today."
    assert conversation["turns"][1]["heard_from"] == "agent events"
    callers = [r for r in REQUESTS if r["body"]["model"] == "caller-model"]
    assert callers and all(r["auth"] == "Bearer sk-caller" and r["body"]["stream"] is True for r in callers)
    # the caller model was told what the agent said
    assert "sunny" in callers[-1]["body"]["messages"][-1]["content"].lower()
    judges = [r for r in REQUESTS if r["body"]["model"] == "judge-model"]
    # every criterion in words goes to the judge: block's endpoint, one request each
    assert len(judges) == 2 and all(r["body"]["stream"] is False for r in judges)
    judged = [c for c in data["checks"] if c["kind"] == "judged"]
    assert [c["expected"] for c in judged] == [
        "judged: the agent told the caller the weather",
        "judged: the agent asked for the account number",
    ]
    assert judged[0]["passed"] and judged[0]["message"] == "the agent said it is sunny"
    assert not judged[1]["passed"] and judged[1]["measured"] == "no"
    assert data["passed"] is False  # the judge said no


def test_repeated_runs_report_the_true_share_of_impaired_runs_and_a_failing_llm_costs_only_its_runs(
    tmp_path, llm, capsys
):
    scenario_file = tmp_path / "echo.yaml"
    scenario_file.write_text(
        "name: echo-impaired\ntarget: embedded:echo\nimpair_runs: {share: 0.5, impair: up.loss=100%}\n"
        "steps:\n  - say: {tone: 440, seconds: 0.4}\n  - wait_reply: {timeout: 3}\n"
    )
    # callers whose LLM is unreachable / answers 503: each of their runs fails with one line
    dead = f"http://127.0.0.1:{free_port()}/v1"
    llm_file = tmp_path / "llm.yaml"
    llm_file.write_text(
        f"name: dead-llm\ntarget: embedded:echo\ncaller:\n  goal: anything\n  listen: 0.3\n  llm_url: {dead}\n"
        f"---\nname: failing-llm\ntarget: embedded:echo\ncaller:\n  goal: anything\n  listen: 0.3\n"
        f"  llm_url: {llm.url}/bad/v1\n  llm_stream: false\n"
    )
    [scenario] = parse_scenarios(scenario_file.read_text(), str(scenario_file))
    runs, seed = 4, 5
    truth = [impaired(scenario, run_seed(scenario, i, seed)) is not None for i in range(runs)]
    assert 0 < sum(truth) < runs  # the seed picks some of each: the check below can fail
    results, junit = tmp_path / "results", tmp_path / "junit.xml"
    done = voicedesk(
        *("test", str(scenario_file), str(llm_file), "--repeat", str(runs), "--parallel", "4", "--seed", str(seed)),
        *("--results", str(results), "--junit", str(junit), "--min-pass-rate", "0.5", "--json"),
        timeout=150,
    )
    assert done.returncode == 1, done.stderr  # the LLM callers' scenarios are under 50 %
    out = json.loads(done.stdout.strip().splitlines()[-1])
    summary, dead_llm, failing_llm = out["summaries"]
    clean = runs - sum(truth)
    assert summary["passed"] == clean and summary["runs"] == runs
    assert summary["pass_rate"] == pytest.approx(clean / runs, abs=1e-3)
    assert summary["flaky"] is True
    assert summary["failures"] == {"no reply": sum(truth)}
    echo_runs = {r["run"]: r for r in out["runs"] if r["name"] == "echo-impaired"}
    assert [not echo_runs[i + 1]["passed"] for i in range(runs)] == truth
    lines = (results / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 3 * runs
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["echo-impaired"].find("properties")}
    assert props["pass_rate"] == str(round(clean / runs, 4)) and props["flaky"] == "true"
    # 2 of 4 is --min-pass-rate 0.5: no failure element, but flaky all the same
    assert (cases["echo-impaired"].find("failure") is None) == (clean / runs >= 0.5)
    assert f"{clean} of {runs} runs passed" in done.stderr and "FLAKY" in done.stderr

    # every run of the LLM callers failed, each with one line, and the other runs went on
    assert dead_llm["runs"] == failing_llm["runs"] == runs
    assert dead_llm["failures"] == failing_llm["failures"] == {"caller failed": runs}
    [dead_error] = dead_llm["errors"]
    assert dead_error.startswith("the caller's LLM at http://127.0.0.1:") and "cannot connect" in dead_error
    [failing_error] = failing_llm["errors"]
    assert failing_error.endswith('HTTP 503: {"error": {"message": "model overloaded"}}')
    assert cases["dead-llm"].find("failure").get("message") == f"pass rate 0 % (0 of {runs} runs); wanted at least 50 %"

    # compared with a baseline where every run passed: a regression, exit 1, and an HTML page
    echo_lines = [line for line in lines if json.loads(line)["name"] == "echo-impaired"]
    base = tmp_path / "base"
    base.mkdir()
    (base / "runs.jsonl").write_text(
        "".join(json.dumps({**json.loads(line), "passed": True, "checks": []}) + "\n" for line in echo_lines * 5)
    )
    page = tmp_path / "compare.html"
    capsys.readouterr()
    assert main(["compare", str(base), str(results), "--html", str(page), "--json"]) == 1  # in-process: no start-up
    compared = capsys.readouterr()
    rows = json.loads(compared.out)["rows"]
    rate = next(r for r in rows if r["scenario"] == "echo-impaired" and r["metric"] == "scenario passed")
    assert rate["a"] == f"{5 * runs}/{5 * runs} (100 %)" and rate["regression"] is True and rate["p"] < 0.05
    assert "REGRESSION echo-impaired · scenario passed" in compared.err
    assert "only in B: dead-llm" in compared.err
    assert "Fisher" in page.read_text()


async def test_a_caller_that_repeats_itself_ends_the_run_with_that_reason():
    """Against the echo (no events): also the caller hearing a reply of two sentences from audio alone."""
    text = (
        "name: looping\ntarget: embedded:echo\ncaller:\n  opening: one two three. four five six.\n  listen: 4\n"
        "  max_turns: 6\n  otherwise: one two three. four five six.\n"
    )
    [scenario] = parse_scenarios(text, "loop.yaml")
    result = (await run_scenario(scenario)).to_json()
    assert result["passed"] is False
    conversation = result["conversation"]
    assert conversation["looped"] == "one two three. four five six."
    assert conversation["ended"] == "the caller looped: it said 'one two three. four five six.' 3 times in a row"
    assert len(result["turns"]) == 2  # said twice; the third time is where it stopped
    # the echo agent sends no events: the caller heard its own words back through the recognizer, the
    # reply streamed into it a piece at a time (the pause between the sentences closes one) and joined
    heard = conversation["turns"][1]
    assert heard["heard_from"].startswith("pocketsphinx")
    assert heard["heard"].index("two three") < heard["heard"].index("five six"), heard
    # one reply, not cut at the pause between its sentences (espeak's ~0.44 s)
    assert result["turns"][0]["reply_ms"] > 2000 and result["turns"][0]["transcript"] == heard["heard"]
    [looped] = [c for c in result["checks"] if c["kind"] == "caller"]
    assert looped["line"] == 3 and looped["passed"] is False
