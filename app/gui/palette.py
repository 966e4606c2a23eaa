"""Colours for emotion classes: the overlay's own, so cards and timeline match the video."""

from __future__ import annotations

from PySide6.QtGui import QColor

from emocam.overlay import class_color as overlay_bgr


def class_color(name: str, index: int) -> QColor:
    b, g, r = overlay_bgr(name, index)
    return QColor(r, g, b)
