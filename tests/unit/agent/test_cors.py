"""agent/cors.py: which origins a policy lets in, and which texts are origins at all."""

from __future__ import annotations

import pytest

from voicedesk.agent.cors import CorsPolicy, origin_problem
from voicedesk.errors import ConfigError


@pytest.mark.parametrize("origin", ["http://127.0.0.1:3000", "https://app.example", "http://[::1]:8080", "*"])
def test_origins_a_browser_sends_are_accepted(origin: str) -> None:
    assert origin_problem(origin) is None


@pytest.mark.parametrize(
    ("origin", "words"),
    [
        ("http://127.0.0.1:3000/", "no path"),
        ("https://app.example/page?x=1", "no path"),
        ("127.0.0.1:3000", "scheme://host"),
        ("ftp://files.example", "scheme://host"),
        ("http://", "scheme://host"),
    ],
)
def test_what_is_not_an_origin_is_said_in_words(origin: str, words: str) -> None:
    why = origin_problem(origin)
    assert why is not None and words in why and repr(origin) in why


def test_a_policy_matches_scheme_and_host_in_any_case_and_nothing_else() -> None:
    policy = CorsPolicy.of(["HTTP://LocalHost:5173", "http://localhost:5173"])
    assert policy.origins == ("http://localhost:5173",)
    assert policy.allows("http://localhost:5173") and policy.allows("http://LOCALHOST:5173")
    for other in ("http://localhost:5174", "https://localhost:5173", "http://127.0.0.1:5173", "null", "", None):
        assert not policy.allows(other), other
    assert not CorsPolicy().allows("http://localhost:5173")  # none by default
    star = CorsPolicy.of(["*"])
    assert star.any_origin and star.allows("https://anything.example") and star.allows("null")


def test_a_bad_origin_from_python_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--cors-origin: 'localhost:5173' is not an origin"):
        CorsPolicy.of(["localhost:5173"])
