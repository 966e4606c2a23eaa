"""Colours for emotion classes: the overlay's own, so cards and timeline match the video,
made to stand out from the window's background where they are drawn straight on it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from emocam.contrast import readable_on
from emocam.overlay import class_color as overlay_bgr
from emocam.overlay import class_dash

_PEN_STYLES = {"solid": Qt.PenStyle.SolidLine, "dash": Qt.PenStyle.DashLine,
               "dot": Qt.PenStyle.DotLine, "dashdot": Qt.PenStyle.DashDotLine}


def class_color(name: str, index: int) -> QColor:
    b, g, r = overlay_bgr(name, index)
    return QColor(r, g, b)


def class_color_on(name: str, index: int, background: QColor) -> QColor:
    """A class's colour for a line or bar drawn on ``background`` (a window's): on a light
    theme neutral's grey and surprise's yellow are darkened (emocam.contrast)."""
    c = class_color(name, index)
    return QColor(*readable_on((c.red(), c.green(), c.blue()),
                               (background.red(), background.green(), background.blue())))


def class_pen_style(name: str, index: int) -> Qt.PenStyle:
    """A class's line pattern in a chart: colour alone fails a colour-blind reader."""
    return _PEN_STYLES[class_dash(name, index)]
