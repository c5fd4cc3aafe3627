import datetime

from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCTransportStats,
)

from voicedesk.rtc.stats import FIELD_SOURCES, StatsSample, sample_from_report

NOW = datetime.datetime.now()


def report(jitter=480, lost=5, received=95, bytes_sent=10_000, bytes_received=8_000, rtt=None):
    stats = {
        "in": RTCInboundRtpStreamStats(NOW, "inbound-rtp", "in", 1, "audio", "t", received, lost, jitter),
        "out": RTCOutboundRtpStreamStats(NOW, "outbound-rtp", "out", 2, "audio", "t", 100, bytes_sent, "tr"),
        "t": RTCTransportStats(
            NOW, "transport", "t", 100, received, bytes_sent, bytes_received, "controlling", "connected"
        ),
    }
    if rtt is not None:
        stats["rin"] = RTCRemoteInboundRtpStreamStats(
            NOW, "remote-inbound-rtp", "rin", 2, "audio", "t", 90, 1, 96, rtt, 0.25
        )
    return stats


def test_units_are_converted():
    sample = sample_from_report(report(rtt=0.0425), t_ms=1000, clock_rate=48000)
    assert sample.jitter_ms == 10.0  # 480 RTP units at 48 kHz
    assert sample.loss_pct == 5.0
    assert sample.rtt_ms == 42.5
    assert sample.remote_loss_pct == 25.0
    assert sample.remote_jitter_ms == 2.0


def test_missing_fields_are_none_not_zero():
    sample = sample_from_report(report(), t_ms=1000, clock_rate=48000)
    assert sample.rtt_ms is None and sample.remote_loss_pct is None
    assert sample.bitrate_out_kbps is None  # no previous sample yet
    empty = sample_from_report({}, t_ms=5, clock_rate=48000)
    assert empty.packets_received is None and empty.jitter_ms is None


def test_bitrate_is_the_delta_per_second():
    first = sample_from_report(report(bytes_sent=10_000, bytes_received=8_000), 1000, 48000)
    second = sample_from_report(report(bytes_sent=22_500, bytes_received=16_000), 2000, 48000, first)
    assert second.bitrate_out_kbps == 100.0
    assert second.bitrate_in_kbps == 64.0


def test_a_reading_right_after_another_keeps_the_last_windows_bitrate():
    first = sample_from_report(report(bytes_sent=10_000, bytes_received=8_000), 1000, 48000)
    second = sample_from_report(report(bytes_sent=22_500, bytes_received=16_000), 2000, 48000, first)
    # 5 ms later nothing more was sent: not 0 kbit/s, the rate of the window before
    third = sample_from_report(report(bytes_sent=22_500, bytes_received=16_000), 2005, 48000, second)
    assert (third.bitrate_out_kbps, third.bitrate_in_kbps) == (100.0, 64.0)
    # and the next full window is measured from that reading's counters
    fourth = sample_from_report(report(bytes_sent=35_000, bytes_received=24_000), 3005, 48000, third)
    assert (fourth.bitrate_out_kbps, fourth.bitrate_in_kbps) == (100.0, 64.0)


def test_every_figure_says_where_it_comes_from():
    figures = [f for f in StatsSample.__dataclass_fields__ if f not in ("t_ms", "bytes_sent", "bytes_received")]
    assert sorted(figures) == sorted(FIELD_SOURCES)
