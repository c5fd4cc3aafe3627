"""Audio sources, sinks and frame helpers (no Qt)."""
