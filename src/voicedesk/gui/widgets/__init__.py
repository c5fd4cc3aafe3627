"""Widgets of the main window; each tab is a ``Panel`` registered in ``voicedesk.gui.tabs``."""
