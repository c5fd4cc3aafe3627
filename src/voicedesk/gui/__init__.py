"""The desktop app (PySide6 + qasync + pyqtgraph): a view over the core.

Only this package imports Qt. Importing it pins pyqtgraph to PySide6 (QT_API)
before anything imports pyqtgraph, so a stray PyQt install is never picked up.
"""

import os

os.environ.setdefault("QT_API", "pyside6")
