"""VoiceDesk: a WebRTC workbench for people who build voice-AI agents."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
