"""Colours for emotion classes, shared by the face cards and the timeline."""

from __future__ import annotations

from PySide6.QtGui import QColor

# Fixed colours for the FER+ names so a user learns them; others cycle through the rest.
_NAMED = {
    "neutral": "#9aa0a6",
    "happiness": "#f4b400",
    "surprise": "#ab47bc",
    "sadness": "#4285f4",
    "anger": "#db4437",
    "disgust": "#0f9d58",
    "fear": "#00acc1",
    "contempt": "#ff7043",
}
_CYCLE = ("#e91e63", "#8bc34a", "#3f51b5", "#795548", "#cddc39", "#607d8b")


def class_color(name: str, index: int) -> QColor:
    return QColor(_NAMED.get(name.lower(), _CYCLE[index % len(_CYCLE)]))
