"""Light and dark: follow the system unless the user picked one; plots get colours per scheme."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

logger = logging.getLogger(__name__)

THEME_CHOICES = ("system", "light", "dark")


@dataclass(frozen=True)
class Palette:
    """Colours the plots and the state indicator use (hex strings)."""

    name: str
    background: str
    plot_background: str
    foreground: str
    muted: str
    grid: str
    sent: str
    received: str
    series: tuple[str, ...]
    ok: str
    busy: str
    bad: str
    idle: str
    banner_bg: str
    banner_fg: str


LIGHT = Palette(
    name="light",
    background="#f4f5f7",
    plot_background="#ffffff",
    foreground="#1f2328",
    muted="#6a737d",
    grid="#d0d7de",
    sent="#0969da",
    received="#1a7f37",
    series=("#0969da", "#cf222e", "#8250df", "#bf8700", "#1a7f37"),
    ok="#1a7f37",
    busy="#bf8700",
    bad="#cf222e",
    idle="#6a737d",
    banner_bg="#ffebe9",
    banner_fg="#82071e",
)

DARK = Palette(
    name="dark",
    background="#1e1f22",
    plot_background="#16171a",
    foreground="#e6edf3",
    muted="#8b949e",
    grid="#30363d",
    sent="#58a6ff",
    received="#3fb950",
    series=("#58a6ff", "#ff7b72", "#d2a8ff", "#e3b341", "#3fb950"),
    ok="#3fb950",
    busy="#e3b341",
    bad="#ff7b72",
    idle="#8b949e",
    banner_bg="#4a1d1f",
    banner_fg="#ffdcd7",
)


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve(choice: str) -> Palette:
    """The palette for a setting ("system", "light" or "dark")."""
    if choice == "dark":
        return DARK
    if choice == "light":
        return LIGHT
    return DARK if system_is_dark() else LIGHT


def apply_scheme(choice: str) -> Palette:
    """Ask Qt for the scheme (Fusion follows it) and return the palette for plots."""
    hints = QGuiApplication.styleHints()
    wanted = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(choice, Qt.ColorScheme.Unknown)
    try:
        hints.setColorScheme(wanted)  # Qt >= 6.8; Unknown means "follow the system"
    except AttributeError:  # older Qt: the explicit palette below still applies
        logger.debug("this Qt cannot set the colour scheme")
    palette = resolve(choice)
    app = QApplication.instance()
    if isinstance(app, QApplication):
        # Some platform themes (offscreen, minimal X sessions) ignore setColorScheme;
        # an explicit palette makes the choice hold everywhere.
        app.setPalette(_qpalette(palette) if palette is DARK else app.style().standardPalette())
    return palette


def _qpalette(p: Palette) -> QPalette:
    qp = QPalette()
    base, window, text = QColor(p.plot_background), QColor(p.background), QColor(p.foreground)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#23252a"),
        QPalette.ColorRole.ToolTipBase: QColor("#2d3036"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(p.muted),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#2b2d31"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ffffff"),
        QPalette.ColorRole.Highlight: QColor("#2f6feb"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor(p.sent),
        QPalette.ColorRole.Mid: QColor(p.grid),
        QPalette.ColorRole.Dark: QColor("#111214"),
        QPalette.ColorRole.Light: QColor("#3a3d42"),
    }
    for role, color in roles.items():
        qp.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        qp.setColor(QPalette.ColorGroup.Disabled, role, QColor(p.muted))
    return qp
