"""The call summary is typed, and its JSON is what `voicedesk call --json` printed before
it was: the same keys in the same order (scripts and reports read them)."""

from __future__ import annotations

import json

import pytest

from voicedesk.rtc.call import Call
from voicedesk.rtc.extension import CallExtension
from voicedesk.rtc.summary import JSON_KEYS, CallSummary

# the keys of Call.summary() as a dict, in order, before the summary was typed
KEYS_BEFORE = (
    "target state final_state reason setup_ms setup_phases packets_sent packets_received loss_pct jitter_ms "
    "rtt_ms bitrate_out_kbps bitrate_in_kbps rx_frames rx_peak_hz rx_level_dbfs tx_frames duration_ms "
    "impairment turns mos rx_gaps rx_gap_ms rx_clipped_samples rx_silent_ms rx_audio_ms rx_audible_ms "
    "path turn_used selected_pair"
).split()
# keys added since, each after the ones above
KEYS_ADDED = (
    "media_timeout_s media_lost_at_ms packets_after_media_lost media_gaps peer_hung_up_at_ms agent_events_dropped"
).split()
KEYS = [*KEYS_BEFORE, *KEYS_ADDED]


class Probe(CallExtension):
    def summary(self) -> dict[str, object]:
        return {"probe": {"heard": 3}}


class Broken(CallExtension):
    def summary(self) -> dict[str, object]:
        raise RuntimeError("bug in an extension")


def test_json_keys_are_the_keys_scripts_read() -> None:
    assert list(JSON_KEYS) == KEYS


def test_a_call_that_never_started_summarises_as_idle() -> None:
    summary = Call("embedded:echo").summary()
    assert isinstance(summary, CallSummary)
    out = summary.to_json()
    assert list(out) == KEYS
    assert out["state"] == "idle" and out["packets_received"] == 0 and out["turns"] == []
    json.dumps(out)  # plain JSON, nothing that needs a default=


def test_extensions_add_keys_after_the_calls_own_and_a_broken_one_adds_none() -> None:
    summary = Call("embedded:echo", extensions=[Probe(), Broken()]).summary()
    assert list(summary.to_json()) == [*KEYS, "probe"]
    assert summary["probe"] == {"heard": 3} and summary.extra == {"probe": {"heard": 3}}


def test_the_summary_reads_by_key_and_by_name_and_cannot_be_changed() -> None:
    summary = Call("embedded:echo", extensions=[Probe()]).summary()
    assert summary["final_state"] == summary.final_state == "idle"
    assert summary.get("rtt_ms", "absent") is None and summary.get("nope", "absent") == "absent"
    assert "probe" in summary and "extra" not in summary and len(summary) == len(KEYS) + 1
    with pytest.raises(KeyError):
        summary["extra"]
    with pytest.raises(AttributeError):
        summary.state = "connected"  # type: ignore[misc]
