"""Where a window goes so that all of it, title bar and borders included, is on the screen's
available area: a 1366x768 laptop, or a geometry saved on a larger monitor."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize

DEFAULT_SIZE = QSize(1280, 760)  # the window's size on a first start, when the screen allows
FRAME_GUESS = QSize(8, 40)  # window-manager borders and title bar, until the real ones show


def fit_size(wanted: QSize, area: QRect, frame: QSize = FRAME_GUESS) -> QSize:
    """``wanted``, made small enough that the window and a frame of ``frame`` fit ``area``."""
    return wanted.boundedTo(QSize(area.width() - frame.width(), area.height() - frame.height()))


def fit_geometry(frame: QRect, inner: QRect, area: QRect, minimum: QSize
                 ) -> tuple[QSize, QPoint]:
    """The window's new size (``inner`` is its client area, ``frame`` the same with its
    decoration) and the new top-left corner of its frame, to lie within ``area``."""
    decoration = QSize(frame.width() - inner.width(), frame.height() - inner.height())
    if decoration.height() <= 0:  # not decorated yet: allow for a typical title bar
        decoration = FRAME_GUESS
    size = fit_size(inner.size(), area, decoration).expandedTo(minimum)
    w, h = size.width() + decoration.width(), size.height() + decoration.height()
    x = max(area.x(), min(frame.x(), area.x() + area.width() - w))
    y = max(area.y(), min(frame.y(), area.y() + area.height() - h))
    return size, QPoint(x, y)
