"""The tabs of the main window, in order. Add a panel with ONE line here.

Each entry names a ``Panel`` subclass as "module:Class"; it is imported when the
window is built, and a panel that fails to import or construct shows its error in
its tab instead of taking the window down. See ``voicedesk/gui/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PanelSpec:
    key: str  # stable id (settings keys, tests, ``MainWindow.panel(key)``)
    title: str  # tab title
    factory: str  # "package.module:ClassName" of a voicedesk.gui.widgets.panel.Panel


PANELS: list[PanelSpec] = [
    PanelSpec("sdp", "SDP", "voicedesk.gui.widgets.sdp_panel:SdpPanel"),
    PanelSpec("sdp_inspector", "SDP inspector", "voicedesk.gui.widgets.sdp_inspector:SdpInspectorPanel"),
    PanelSpec("candidates", "Candidates", "voicedesk.gui.widgets.candidates:CandidatesPanel"),
    PanelSpec("log", "Log", "voicedesk.gui.widgets.log_panel:LogPanel"),
    PanelSpec("agent", "Embedded agent", "voicedesk.gui.widgets.agent_panel:AgentPanel"),
    PanelSpec("signaling", "Signaling", "voicedesk.gui.widgets.signaling_panel:SignalingPanel"),
    PanelSpec("ice_lab", "ICE lab", "voicedesk.gui.widgets.ice_lab:IceLabPanel"),
    PanelSpec("conversation", "Conversation", "voicedesk.gui.widgets.conversation_view:ConversationPanel"),
    PanelSpec("turns", "Agent turns", "voicedesk.gui.widgets.turns_panel:TurnsPanel"),
    PanelSpec("network", "Network", "voicedesk.gui.widgets.network_panel:NetworkPanel"),
    PanelSpec("qa", "QA", "voicedesk.gui.widgets.qa_panel:QaPanel"),
    PanelSpec("audio", "Audio", "voicedesk.gui.widgets.audio_panel:AudioPanel"),
    # more panels: PanelSpec("key", "Title", "voicedesk.gui.widgets.your_module:YourPanel"),
]
