"""Load beyond one machine: VoiceDesk callers as Locust users.

``locust.py`` is the Locust side (gevent, one media engine per Locust worker process);
``engine.py`` is that engine: a plain Python process, no gevent, one asyncio loop, that
places calls with the caller of ``voicedesk load`` (``voicedesk.qa.load.place_call``)
as the worker tells it over a pipe. ``shapes.py`` holds load shapes; ``slo.py`` reads
off where a latency target broke. A layer of its own, above ``qa``: nothing below
imports Locust or gevent (Locust monkey-patches the standard library at import).
"""
