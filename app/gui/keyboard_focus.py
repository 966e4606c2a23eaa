"""What the keyboard's focus looks like and what Enter does, for the app's own controls.

One look for every control the app draws a focus for (the face cards, the play button, the
seek bar): a dashed ring in the text's colour, which stands out from a light or a dark
window by far more than 3:1 (WCAG 1.4.11), where the style's own focus mark is in the
theme's highlight (1.7:1 on a dark theme's window)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractButton, QToolButton, QWidget

ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
FOCUS_PX = 2


def paint_focus_ring(painter: QPainter, widget: QWidget, box: QRectF) -> None:
    """The focus ring of ``widget``, its middle on ``box``: in the colour of the widget's
    own text (a button's on its face, the window's elsewhere), which themes keep far from
    the background it is drawn on."""
    pen = QPen(widget.palette().color(widget.foregroundRole()), FOCUS_PX, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(box)


def focus_ring_after_paint(widget: QWidget) -> None:
    """Draw ``widget``'s focus ring just inside its edge if it has the keyboard's focus (to
    be called at the end of its ``paintEvent``)."""
    if not widget.hasFocus():
        return
    p = QPainter(widget)
    try:
        half = FOCUS_PX / 2
        paint_focus_ring(p, widget, widget.rect().toRectF().adjusted(half, half, -half, -half))
    finally:
        p.end()


class _EnterClicks(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in ENTER and isinstance(watched, QAbstractButton)):
            watched.click()
            return True
        return False


def click_on_enter(button: QAbstractButton) -> None:
    """Enter (or Return) presses ``button`` when it has the focus: a tool button takes only
    Space, which is the window's play/pause."""
    clicks = _EnterClicks(button)
    button.installEventFilter(clicks)


class RingedToolButton(QToolButton):
    """A tool button that shows the keyboard's focus with the ring (the style's own was a
    faint tint of the highlight: on a dark theme the face cards' arrow hardly changed)."""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        focus_ring_after_paint(self)
