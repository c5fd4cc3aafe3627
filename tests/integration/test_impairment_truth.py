"""The numbers VoiceDesk shows match a ground truth the test controls.

The built-in impairment relay is the controlled network here: it adds a known
delay, drops a known (seeded) set of packets and counts them, and the figures
come out of the same StatsSampler that feeds the window. (Linux netem is the
other ground truth in the issue; this machine's kernel has no netem qdisc.)
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.processes import voicedesk
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, StatsSampled
from voicedesk.rtc.impair import ImpairmentChanged, ImpairmentSpec


async def hold(spec: str | None, seconds: float, agent: str = "tone", seed: int = 11) -> Call:
    call = Call(
        f"embedded:{agent}",
        source=ToneTrack(1000),
        impairment=ImpairmentSpec.parse(spec) if spec else None,
        impair_seed=seed,
    )
    await call.run(seconds)
    return call


def median_rtt(call: Call) -> float:
    values = sorted(s.rtt_ms for s in call.sampler.samples if s.rtt_ms is not None)
    assert values, "no RTT was ever reported"
    return values[len(values) // 2]


async def test_rtt_shown_matches_the_added_delay():
    # side by side: the same loop and load for both, and half the wall time
    baseline, delayed = await asyncio.gather(hold(None, 6), hold("delay=50ms", 6))
    counters = delayed.relay.counters
    # the ground truth is the delay the relay really added (its timers run late on a
    # loaded machine), measured per datagram, plus the path's own round trip
    added = counters["up"].mean_held_ms + counters["down"].mean_held_ms
    assert added >= 100.0
    expected = median_rtt(baseline) + added
    shown = median_rtt(delayed)
    assert abs(shown - expected) <= 0.10 * expected + 5.0, (shown, expected, added)
    assert delayed.summary()["state"] == "connected"


async def test_loss_shown_matches_the_relays_count_and_the_setting():
    call = await hold("down.loss=5%", 10)
    shown = call.sampler.latest.loss_pct
    truth = call.relay.counters["down"].rtp_loss_pct
    assert truth is not None and call.relay.counters["down"].rtp_received > 400
    assert abs(shown - 5.0) <= 1.5, shown
    assert abs(shown - truth) <= 0.5, (shown, truth)
    assert call.relay.counters["up"].rtp_dropped == 0


async def test_jitter_shown_rises_with_added_jitter():
    calm, shaky = await asyncio.gather(hold(None, 6), hold("down.jitter=20ms,down.delay=40ms", 6))
    calm_jitter = calm.sampler.latest.jitter_ms
    shaky_jitter = shaky.sampler.latest.jitter_ms
    assert calm_jitter < 5.0
    # RFC 3550 jitter of independent N(0, σ) delays tends to 2σ/√π ≈ 1.13σ
    assert 10.0 <= shaky_jitter <= 40.0, shaky_jitter


async def test_bandwidth_cap_limits_the_bitrate_shown():
    call = await hold("down.rate=24kbit", 6)
    down = call.relay.counters["down"]
    assert down.dropped_queue > 0
    rates = [s.bitrate_in_kbps for s in call.sampler.samples if s.bitrate_in_kbps is not None]
    assert rates, call.sampler.samples
    assert max(rates) <= 24 * 1.25  # the cap holds in every second shown
    assert call.sampler.latest.loss_pct > 20


async def test_changing_impairment_mid_call_is_an_event_on_the_timeline():
    call = Call("embedded:tone", source=ToneTrack(1000), impairment=ImpairmentSpec(), impair_seed=5)
    events: list[object] = []
    call.add_listener(events.append)
    await call.start()
    await asyncio.sleep(2)
    call.relay.update("down.loss=30%")
    await asyncio.sleep(3)
    await call.hangup()
    changes = [e for e in events if isinstance(e, ImpairmentChanged)]
    assert len(changes) == 1 and changes[0].spec.down.loss_pct == 30
    losses = [e.sample.loss_pct for e in events if isinstance(e, StatsSampled)]
    assert losses[0] == 0 and losses[-1] > 5
    mos = [e.sample.mos for e in events if isinstance(e, StatsSampled)]
    assert mos[0] > 4.0 and mos[-1] < mos[0]


def test_cli_impair_reports_ground_truth_and_rejects_bad_specs():
    result = voicedesk("call", "embedded:tone", "--duration", "3", "--impair", "delay=20ms", "--json")
    assert result.returncode == 0, result.stderr
    import json

    summary = json.loads(result.stdout)
    assert summary["impairment"]["spec"]["up"]["delay_ms"] == 20
    assert summary["impairment"]["counters"]["down"]["forwarded"] > 100
    bad = voicedesk("call", "embedded:tone", "--impair", "loss=lots")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("voicedesk: bad impairment 'loss=lots'")


@pytest.mark.parametrize("spec", ["up.delay=30ms", "loss=2%,jitter=5ms"])
async def test_audio_still_arrives_through_the_relay(spec):
    call = await hold(spec, 3, agent="echo")
    assert abs(call.rx.peak_hz() - 1000) < 5


async def test_missing_audio_is_measured_on_the_received_audio():
    clean = await hold(None, 3)
    lossy = await hold("down.loss=5%", 6)
    assert clean.summary()["rx_gaps"] == 0 and clean.summary()["rx_gap_ms"] == 0
    summary = lossy.summary()
    dropped_ms = lossy.relay.counters["down"].rtp_dropped * 20
    assert summary["rx_gaps"] > 0
    # every lost 20 ms packet is 20 ms of missing audio, and no more (rtc/aiortc_patches.py)
    assert 0.9 * dropped_ms <= summary["rx_gap_ms"] <= 1.1 * dropped_ms + 20
    assert summary["rx_silent_ms"] == 0 and summary["rx_clipped_samples"] == 0
