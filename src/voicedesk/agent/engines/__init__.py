"""Speech engines behind small interfaces: VAD, speech to text, responders, text to speech.

Each engine module can be imported without its engine installed; a missing engine
shows up as a ``PipelineError`` that names what to install, raised by the
``find_…`` / ``check_…`` functions the agents call before they start.
"""
