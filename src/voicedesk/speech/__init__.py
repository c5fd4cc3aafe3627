"""Speech: voice activity detection, recognition (STT), synthesis (TTS).

The layer between media and rtc: agents, QA and the ``say:`` source use the same engines.
"""

from voicedesk.speech import say as _say  # noqa: F401  (registers the say: source)
