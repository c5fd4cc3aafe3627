"""Frame processors of the embedded agents: transport in/out, vad, stt, responder, tts, parrot, script."""
