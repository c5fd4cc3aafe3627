"""The caller:, judge: and impair_runs: blocks: what is accepted, and bad blocks with file:line."""

from __future__ import annotations

import pytest

from voicedesk.qa.scenario import ScenarioError, parse_scenarios

CALLER = """\
name: card
target: embedded:voice
caller:
  persona: a customer whose card was stolen
  goal: get the card blocked
  max_turns: 5
  opening: hello
  voice: {name: en-gb, rate: 160, pitch: 30, volume: 80}
  seed: 7
  rules:
    - when: {contains: account number}
      say: 4 5 7 2
    - when: {contains: [blocked, cancelled], after: 2}
      say: [thank you, thanks]
      goal: true
      hangup: true
  otherwise: [pardon]
  success:
    - goal
    - agent_said: blocked
    - the agent confirmed the block
judge: [the agent was polite]
impair_runs: {share: 0.25, impair: up.loss=100%}
"""


def test_a_caller_block_is_read_without_steps():
    [s] = parse_scenarios(CALLER, "card.yaml")
    c = s.caller
    assert s.steps == () and c is not None and c.kind == "rules" and c.line == 3
    assert (c.max_turns, c.opening, c.seed) == (5, "hello", 7)
    assert (c.voice.name, c.voice.rate, c.voice.pitch, c.voice.volume) == ("en-gb", 160, 30, 80)
    first, second = c.rules
    assert first.when.contains == ("account number",) and first.say == ("4 5 7 2",) and first.line == 11
    assert second.when.after == 2 and second.goal and second.hangup and second.say == ("thank you", "thanks")
    assert [(k.kind, k.text) for k in c.success] == [
        ("goal", ""),
        ("agent_said", "blocked"),
        ("judged", "the agent confirmed the block"),
    ]
    assert s.judge is not None and [k.text for k in s.judge.criteria] == ["the agent was polite"]
    assert s.impair_runs is not None and (s.impair_runs.share, s.impair_runs.impair) == (0.25, "up.loss=100%")
    # the rules' words are in the recognizer's vocabulary
    assert "account number" in s.phrases() and "4 5 7 2" in s.phrases()


def test_an_llm_caller_reads_its_endpoint_and_the_key_variable_name(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret")
    text = (
        "target: x\ncaller:\n  persona: p\n  goal: g\n  llm_url: http://127.0.0.1:9/v1\n  llm_model: m\n"
        "  llm_key_env: MY_KEY\n  llm_timeout: 3\n  llm_stream: false\n"
    )
    [s] = parse_scenarios(text, "llm.yaml")
    llm = s.caller.llm
    assert s.caller.kind == "llm" and (llm.url, llm.model, llm.timeout, llm.stream) == (
        "http://127.0.0.1:9/v1",
        "m",
        3,
        False,
    )
    assert llm.key_env == ("MY_KEY",) and llm.api_key() == "sk-secret"
    assert "sk-secret" not in repr(s)  # only the variable's name is kept


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("caller: hello\n", "c.yaml:2: caller: expected a mapping with persona"),
        ("caller:\n  max_turns: 3\n", "c.yaml:3: caller: expected rules/otherwise (a rule-driven caller)"),
        ("caller:\n  otherwise: x\n  max_turns: 0\n", "c.yaml:4: caller.max_turns: expected a whole number 1–200"),
        ("caller:\n  otherwise: x\n  max_turns: 2.5\n", "c.yaml:4: caller.max_turns: expected a whole number"),
        ("caller:\n  rules:\n    - say: hi\n", "c.yaml:4: caller.rules 1: missing 'when'"),
        ("caller:\n  rules:\n    - when: {contains: a}\n", "c.yaml:4: caller.rules 1: expected 'say' and/or"),
        ("caller:\n  rules:\n    - when: {}\n      say: a\n", "c.yaml:4: caller.rules 1.when: expected at least"),
        ("caller:\n  rules:\n    - when: {said: a}\n      say: b\n", "c.yaml:4: caller.rules 1.when: unknown key"),
        ("caller:\n  rules:\n    - when: {matches: '('}\n      say: b\n", "c.yaml:4: caller.rules 1.when.matches"),
        ("caller:\n  rules:\n    - when: {after: -2}\n      say: b\n", "expected a number ≥ 0, got -2"),
        ("caller:\n  rules:\n    - when: {silent: yes please}\n      say: b\n", "silent: expected true or false"),
        ("caller:\n  otherwise: []\n", "c.yaml:3: caller.otherwise: expected a sentence or a list"),
        ("caller:\n  otherwise: x\n  voice: {rate: 9000}\n", "c.yaml:4: caller.voice.rate: expected a whole number"),
        (
            "caller:\n  otherwise: x\n  voice: {pitch: .nan}\n",
            "c.yaml:4: caller.voice.pitch: expected a number ≥ 0",
        ),
        ("caller:\n  otherwise: x\n  hear: ears\n", "c.yaml:4: caller.hear: expected auto, events or recognizer"),
        ("caller:\n  goal: g\n  llm_url: ftp://x\n", "c.yaml:4: caller.llm_url: expected an http(s) URL"),
        ("caller:\n  goal: g\n  llm_key_env: 'not a name'\n", "c.yaml:4: caller.llm_key_env: expected the name"),
        ("caller:\n  goal: g\n  llm_timeout: 0\n", "c.yaml:4: caller.llm_timeout: expected seconds > 0"),
        ("caller:\n  otherwise: x\n  success: []\n", "c.yaml:4: caller.success: expected at least one criterion"),
        ("caller:\n  otherwise: x\n  success: [{said: x}]\n", "c.yaml:4: caller.success: unknown key 'said'"),
        ("steps: [hangup]\njudge: {llm_url: http://x}\n", "c.yaml:3: judge: missing 'criteria'"),
        ("steps: [hangup]\nimpair_runs: {share: 2, impair: loss=1%}\n", "impair_runs.share: expected a share 0–1"),
        ("steps: [hangup]\nimpair_runs: {share: 0.5, impair: loss=x}\n", "c.yaml:3: impair_runs.impair: bad"),
        ("name: x\n", "c.yaml:1: scenario: missing 'steps' (a list of steps) or 'caller'"),
    ],
)
def test_a_bad_block_says_where_and_what_was_expected(body, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenarios("target: embedded:voice\n" + body, "c.yaml")
    assert message in str(caught.value)
