"""The embedded agent server and its agents (no Qt)."""
