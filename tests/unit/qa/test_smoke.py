"""The Qt-free half of ``voicedesk --smoke-test``."""

from voicedesk.qa import smoke
from voicedesk.rtc import aiortc_patches


def test_the_smoke_report_says_what_became_of_each_aiortc_patch():
    aiortc_patches.apply()
    assert smoke.aiortc_patches() == {
        "1 audio jitter buffer": "applied",
        "2 audio level": "applied",
        "3 bounded received-audio queue": "applied",
        "4 encoded forwarding": "applied",
        "5 inline audio codecs": "applied",
        "6 telephone-events": "applied",
        "7 audio level of encoded packets": "applied",
    }
