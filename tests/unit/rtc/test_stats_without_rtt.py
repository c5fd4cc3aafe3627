"""A receiver report without an RTT (aiortc: roundTripTime None before LSR) keeps the rest of the sample.

Found by scenarios that check loss right after a short exchange: the whole getStats
sample was lost to a TypeError, so ``expect: {loss_pct: …}`` had nothing to check.
"""

import datetime

from aiortc.stats import RTCInboundRtpStreamStats, RTCRemoteInboundRtpStreamStats

from voicedesk.rtc.stats import sample_from_report

NOW = datetime.datetime.now()


def test_a_remote_report_without_rtt_keeps_loss_and_jitter():
    report = {
        "in": RTCInboundRtpStreamStats(NOW, "inbound-rtp", "in", 1, "audio", "t", 95, 5, 480),
        "rin": RTCRemoteInboundRtpStreamStats(NOW, "remote-inbound-rtp", "rin", 2, "audio", "t", 90, 1, 96, None, 0.25),
    }
    sample = sample_from_report(report, 1000.0, 48_000)
    assert sample.rtt_ms is None
    assert sample.loss_pct == 5.0 and sample.jitter_ms == 10.0
    assert sample.remote_loss_pct == 25.0
