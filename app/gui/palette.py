"""Colours for emotion classes: the overlay's own, so cards and timeline match the video,
made darker where they are drawn on a light desktop theme's background."""

from __future__ import annotations

from PySide6.QtGui import QColor

from emocam.overlay import class_color as overlay_bgr

# WCAG's least contrast for the parts of a graphic that carry meaning (1.4.11).
MIN_CONTRAST = 3.0


def class_color(name: str, index: int) -> QColor:
    b, g, r = overlay_bgr(name, index)
    return QColor(r, g, b)


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF())
            + 0.0722 * channel(c.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG's contrast ratio of two colours, 1 (the same) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(color: QColor, background: QColor) -> QColor:
    """``color``, darkened on a light background (lightened on a dark one) just enough to
    stand out from it: the video's colours are chosen for the dark video, and on a light
    theme's window neutral's grey and surprise's yellow all but vanished."""
    if contrast(color, background) >= MIN_CONTRAST:
        return color
    toward = QColor(0, 0, 0) if _luminance(background) > 0.18 else QColor(255, 255, 255)
    for step in range(1, 21):
        t = step / 20
        mixed = QColor.fromRgbF(*(a + (b - a) * t for a, b in zip(
            (color.redF(), color.greenF(), color.blueF()),
            (toward.redF(), toward.greenF(), toward.blueF()), strict=True)))
        if contrast(mixed, background) >= MIN_CONTRAST:
            return mixed
    return toward


def class_color_on(name: str, index: int, background: QColor) -> QColor:
    """A class's colour for a line or bar drawn straight on ``background`` (a window's)."""
    return readable_on(class_color(name, index), background)
