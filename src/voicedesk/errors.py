"""One error hierarchy whose messages are written for the user.

The command line prints ``str(error)`` on one line and exits non-zero; the window
shows the same text. Messages say what happened and, where it helps, what to try.
"""


class VoiceDeskError(Exception):
    """Base of every error VoiceDesk expects and explains."""


class ConfigError(VoiceDeskError):
    """A configuration file or option the user gave cannot be used."""


class SignalingError(VoiceDeskError):
    """The offer/answer exchange with the target failed."""


class IceError(VoiceDeskError):
    """ICE did not establish a path to the peer."""


class DtlsError(VoiceDeskError):
    """ICE found a path to the peer, but the DTLS handshake on it did not complete."""


class CallTimeout(VoiceDeskError):
    """The call did not reach the expected state in time."""


class MediaError(VoiceDeskError):
    """An audio source or sink cannot be used."""


class DeviceError(MediaError):
    """An audio device cannot be opened or went away."""


class PipelineError(VoiceDeskError):
    """The embedded agent's pipeline failed."""


class SdpError(VoiceDeskError):
    """A session description could not be read or applied."""


class EngineError(VoiceDeskError):
    """The window's engine process (voicedesk/engine/) could not start, stopped, or did not answer."""
