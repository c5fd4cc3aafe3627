"""The embedded agents, their server and its endpoints (no Qt).

Importing the package registers the ``embedded:`` and ``embedded+http:`` signaling
dialects (``embedded``; rtc, below, does not know the agents): it is the entry point
``voicedesk.dialects`` names. The built-in agents (``agents``: echo, tone;
``voice_agents``: parrot, voice, script) are listed in ``registry.BUILTIN_AGENTS`` and
imported when one is first looked up, so that a window listing the ``embedded:``
targets does not import the agents' pipeline before its first paint (issue 11).
"""

from voicedesk.agent import embedded as _embedded  # noqa: F401  (registers the dialects)
