"""rtc/signaling/log.py: secrets masked in URLs, JSON too deep refused."""

from __future__ import annotations

import pytest

from voicedesk.rtc.signaling.log import SignalingExchanged, mask_body, parse_json, redact_url


@pytest.mark.parametrize(
    "name",
    [
        "access_token",
        "token",
        "key",
        "api_key",
        "apikey",
        "API-KEY",
        "x-api-key",
        "apisecret",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "auth",
        "Authorization",
        "refresh_token",
        "llm_key",
        "signature",
        "sig",
        "jwt",
    ],
)
def test_token_like_query_parameters_are_masked(name):
    url = f"ws://host:8080/ws?call=1&{name}=T0psecret&n=2"
    assert redact_url(url) == f"ws://host:8080/ws?call=1&{name}=***&n=2"


@pytest.mark.parametrize(
    "url",
    [
        "http://host/api/voice/offer",
        "http://host/x?monkey=1&keyboard=2&tokens_used=3&author=me",
        "embedded:voice?stt=open",
    ],
)
def test_urls_without_secrets_are_left_alone(url):
    assert redact_url(url) == url


def test_a_password_before_the_host_is_masked():
    assert redact_url("janus+http://user:pw@host:8088/janus?x=1") == "janus+http://user:***@host:8088/janus?x=1"


def test_a_recorded_exchange_never_holds_the_secret():
    event = SignalingExchanged("ws", "SEND", "ws://h/ws?access_token=T0psecret")
    assert event.url == "ws://h/ws?access_token=***"
    assert "T0psecret" not in event.one_line()


def test_json_nested_too_deep_is_a_value_error():
    with pytest.raises(ValueError, match="nested too deep to parse"):
        parse_json("[" * 30_000 + "]" * 30_000)
    assert mask_body("[" * 30_000 + "]" * 30_000).startswith("[[[")  # not parsed: shown as text, cut
