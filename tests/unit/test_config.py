import json

import pytest

from voicedesk.config import IceConfig
from voicedesk.errors import ConfigError


def test_browser_configuration_is_read_as_is():
    config = IceConfig.from_text(
        json.dumps(
            {
                "iceServers": [
                    {"urls": ["stun:stun.l.google.com:19302"]},
                    {"urls": "turn:turn.example.com:3478?transport=tcp", "username": "u", "credential": "p"},
                ],
                "iceTransportPolicy": "relay",
            }
        )
    )
    rtc = config.to_rtc()
    assert rtc.iceTransportPolicy.value == "relay"
    assert rtc.iceServers[1].username == "u"
    assert config.to_json(redact=True)["iceServers"][1]["credential"] == "***"
    assert config.warnings == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"iceServers": [{"urls": "http://x"}]}, "unknown ICE server URL 'http://x'"),
        ({"iceServers": [{"urls": "turn:x:3478"}]}, "needs username and credential"),
        ({"iceServers": [{"urls": "turns:x:5349", "username": "u", "credential": "p"}]}, "turns: needs ?transport=tcp"),
        ({"iceServers": [{"urls": "stun:x:3478?transport=udp"}]}, "stun: URLs take no ?transport="),
        ({"iceServers": [{"urls": "stun:x:99999"}]}, "bad port"),
        ({"iceServers": [{}]}, 'needs "urls"'),
        ({"iceTransportPolicy": "none"}, 'must be "all" or "relay"'),
        ([], 'expected a JSON object with "iceServers"'),
    ],
)
def test_each_problem_has_its_message(data, message):
    with pytest.raises(ConfigError, match=".*" + message.replace("?", r"\?").replace("(", r"\(")):
        IceConfig.from_json(data)


def test_extra_servers_that_aiortc_ignores_are_warned_about():
    config = IceConfig.from_json({"iceServers": [{"urls": ["stun:a:3478", "stun:b:3478"]}, {"urls": "stun:c"}]})
    assert config.warnings == ("aiortc uses only the first STUN server (stun:a:3478); 2 more ignored",)
