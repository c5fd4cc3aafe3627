"""The core imports no Qt: every non-GUI module imports with Qt made unimportable."""

import pkgutil
import subprocess
import sys

import voicedesk

SCRIPT = r"""
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"PySide6", "PyQt5", "PyQt6", "PySide2", "qasync", "pyqtgraph", "shiboken6"}:
            raise ImportError("Qt is blocked in this test: " + name)
sys.meta_path.insert(0, Block())
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok")
"""


def test_core_modules_import_without_qt():
    modules = [
        m.name
        for m in pkgutil.walk_packages(voicedesk.__path__, "voicedesk.")
        if not m.name.startswith("voicedesk.gui") and not m.name.endswith("__main__")
    ]
    assert "voicedesk.rtc.call" in modules and "voicedesk.agent.server" in modules
    result = subprocess.run([sys.executable, "-c", SCRIPT, *modules], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
