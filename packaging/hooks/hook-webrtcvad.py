# The contrib hook copies the metadata of a "webrtcvad" distribution; the wheel
# VoiceDesk installs is "webrtcvad-wheels" (same module), which that hook cannot find.
from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
