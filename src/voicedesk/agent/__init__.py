"""The embedded agents, their server and its endpoints (no Qt).

Importing the package registers the built-in agents (``agents``: echo, tone;
``voice_agents``: parrot, voice, script) in ``registry`` and the ``embedded:`` and
``embedded+http:`` signaling dialects (``embedded``): rtc, below, does not know the agents.
"""

from voicedesk.agent import agents as _agents  # noqa: F401  (registers echo, tone)
from voicedesk.agent import embedded as _embedded  # noqa: F401  (registers the dialects)
from voicedesk.agent import voice_agents as _voice_agents  # noqa: F401  (registers parrot, voice, script)
