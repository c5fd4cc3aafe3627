"""The locustfile of ``voicedesk load TARGET --locust …``; usable as it is:

    locust -f "$(python -c 'import voicedesk.load.locustfile as f; print(f.__file__)')" \
        --host http://127.0.0.1:8080/api/voice/offer --say 'what time is it' --headless -u 20 -t 1m

Everything a call does comes from the command line (voicedesk/load/locust.py lists the
options); a load shape from ``VOICEDESK_LOCUST_SHAPE`` (``voicedesk load --shape``).
"""

from voicedesk.load.locust import VoiceUser
from voicedesk.load.shapes import shape_from_environment


class Caller(VoiceUser):
    pass


_shape = shape_from_environment()
if _shape is not None:
    Shape = _shape  # Locust uses the shape class it finds in the locustfile
