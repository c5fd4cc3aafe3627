"""rtc/signaling/log.py: JSON too deep refused."""

from __future__ import annotations

import pytest

from voicedesk.rtc.signaling.log import mask_body, parse_json


def test_json_nested_too_deep_is_a_value_error():
    with pytest.raises(ValueError, match="nested too deep to parse"):
        parse_json("[" * 30_000 + "]" * 30_000)
    assert mask_body("[" * 30_000 + "]" * 30_000).startswith("[[[")  # not parsed: shown as text, cut
