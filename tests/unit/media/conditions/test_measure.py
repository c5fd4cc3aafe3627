"""The robustness table read from a call's levels and events (a timeline written by hand)."""

from __future__ import annotations

from voicedesk.media.conditions.measure import Timeline, robustness


def timeline(
    caller_loud_ms: list[tuple[float, float]],
    agent_loud_ms: list[tuple[float, float]],
    *,
    inserts: list[dict] | None = None,
    splits: list[dict] | None = None,
    events: list[tuple[float, dict]] | None = None,
    echo: bool = False,
    length_ms: float = 10_000,
) -> Timeline:
    frames = int(length_ms // 20)
    caller = [-20.0 if any(a <= i * 20 < b for a, b in caller_loud_ms) else -120.0 for i in range(frames)]
    received = [
        ((i + 1) * 20.0, -20.0 if any(a <= i * 20 < b for a, b in agent_loud_ms) else -120.0) for i in range(frames)
    ]
    return Timeline(caller, received, inserts or [], splits or [], events or [], bool(events), echo)


def test_self_interruptions_from_the_agents_events_and_not_from_the_callers_barge_in() -> None:
    events = [
        (2300.0, {"type": "speech_started"}),  # its own voice, 300 ms into its reply
        (2320.0, {"type": "barge_in"}),
        (5600.0, {"type": "speech_started"}),  # the caller talking over it: not a self-interruption
        (5620.0, {"type": "barge_in"}),
        (9000.0, {"type": "barge_in"}),  # the hang-up: no speech heard before it
    ]
    tl = timeline([(0, 1000), (5400, 6000)], [(2000, 2350), (3500, 5650)], events=events, echo=True)
    robust = robustness(tl)
    assert robust["self_interruptions"] == 1
    assert robust["self_interruption_after_ms"] == 320.0


def test_without_events_a_stop_and_restart_in_silence_counts() -> None:
    tl = timeline([(0, 1000)], [(2000, 2400), (3400, 4000)], echo=True)
    robust = robustness(tl)
    assert robust["self_interruptions"] == 1 and not robust["from_events"]
    assert robust["early_turn_takings"] is None  # nothing was split


def test_a_stop_is_blamed_on_the_backchannel_just_before_it() -> None:
    inserts = [
        {"what": "mm-hmm", "placed_ms": 2500.0, "length_ms": 700.0},  # quiet: the agent went on
        {"what": "cough", "placed_ms": 3500.0, "length_ms": 350.0},
    ]
    events = [(3600.0, {"type": "speech_started"}), (3620.0, {"type": "barge_in"})]
    tl = timeline([(0, 1000)], [(2000, 3640), (5200, 6000)], inserts=inserts, events=events)
    first, second = robustness(tl)["backchannels"]
    assert (first["false_interruption"], second["false_interruption"]) == (False, True)
    assert second["recovered"] and second["silence_ms"] == 1560.0
    assert robustness(tl)["false_interruptions"] == 1


def test_a_turn_ended_inside_the_pause_is_early() -> None:
    split = {"start_ms": 500.0, "first_half_end_ms": 1300.0, "second_half_start_ms": 2100.0, "end_ms": 2700.0}
    events = [(1750.0, {"type": "speech_stopped"}), (3200.0, {"type": "speech_stopped"})]
    tl = timeline([(500, 1300), (2100, 2700)], [], splits=[{**split, "pause_ms": 800.0}], events=events)
    (pause,) = robustness(tl)["pauses"]
    assert pause["early"] and pause["turn_ended_ms"] == 450.0
    late = timeline([(500, 1300), (2100, 2700)], [], splits=[{**split, "pause_ms": 800.0}], events=events[1:])
    assert robustness(late)["early_turn_takings"] == 0
