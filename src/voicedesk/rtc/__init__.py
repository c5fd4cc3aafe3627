"""WebRTC calls, signaling, stats, SDP and ICE tools (no Qt)."""
