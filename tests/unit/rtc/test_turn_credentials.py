"""TURN REST ephemeral credentials (coturn use-auth-secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc.turn_credentials import mint, turn_password


def test_username_is_expiry_colon_name_and_password_is_hmac_sha1_of_it():
    creds = mint("s3cret", "alice", ttl=3600, now=1_700_000_000)
    assert creds.username == "1700003600:alice"
    assert creds.expires_at == 1_700_003_600
    expected = base64.b64encode(hmac.new(b"s3cret", b"1700003600:alice", hashlib.sha1).digest()).decode()
    assert creds.credential == expected == turn_password("s3cret", "1700003600:alice")
    assert creds.expired  # 2023 is long gone
    assert not mint("s3cret", "alice").expired
    assert creds.ice_server("turn:t:3478") == {
        "urls": "turn:t:3478",
        "username": "1700003600:alice",
        "credential": expected,
    }


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ConfigError, match="shared secret is needed"):
        mint("", "alice")
    with pytest.raises(ConfigError, match="must not contain ':'"):
        mint("s", "a:b")
