"""Choosing a device by index, name or default, and the messages when that fails."""

import pytest

from voicedesk.errors import DeviceError
from voicedesk.media.devices import AudioDevice, parse_device_spec, resolve_device

DEVICES = [
    AudioDevice(0, "pulse", "ALSA", 32, 32, 44100.0),
    AudioDevice(1, "default", "ALSA", 32, 32, 44100.0, default_input=True, default_output=True),
    AudioDevice(2, "USB Headset: Audio (hw:1,0)", "ALSA", 1, 2, 48000.0),
    AudioDevice(3, "HDMI 0 (hw:0,3)", "ALSA", 0, 8, 48000.0),
]


def test_default_index_and_name() -> None:
    assert resolve_device(None, "input", DEVICES).index == 1
    assert resolve_device("2", "input", DEVICES).index == 2
    assert resolve_device(2, "output", DEVICES).index == 2
    assert resolve_device("usb headset", "input", DEVICES).index == 2
    assert resolve_device("PULSE", "output", DEVICES).index == 0


def test_a_device_without_the_direction_is_refused_by_name_and_index() -> None:
    with pytest.raises(DeviceError, match="has no input channels"):
        resolve_device(3, "input", DEVICES)
    with pytest.raises(DeviceError, match="no audio input device matches 'hdmi'"):
        resolve_device("hdmi", "input", DEVICES)


def test_ambiguous_and_unknown_names_list_the_choices() -> None:
    with pytest.raises(DeviceError, match=r"ambiguous.*give the index"):
        resolve_device("hw:", "output", DEVICES)
    with pytest.raises(DeviceError, match=r"no audio device #9.*'USB Headset"):
        resolve_device("9", "input", DEVICES)


def test_no_devices_at_all_says_so() -> None:
    with pytest.raises(DeviceError, match=r"^no audio output device: is a sound server"):
        resolve_device(None, "output", [])


def test_parse_device_spec() -> None:
    assert parse_device_spec(None) is None
    assert parse_device_spec(" 3 ") == 3
    assert parse_device_spec("USB") == "USB"
