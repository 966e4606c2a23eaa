"""The side panel keeps the width the user gave it.

Qt takes the room a shrinking window loses from its docks as well as from the video, and
gives the room a growing window gains to the video only: after the window had been small
once (a half-screen snap, a resize), the panel stayed squeezed, its cards' percentages cut
off, and the squeezed width was saved for every later start. Here the width the user chose
(dragging the panel's edge) is remembered, and handed back as soon as the window has room.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

# The video's share is never taken below this to widen the panel.
MIN_VIDEO_WIDTH = 320
# The panel is never narrower: a card's name, bar and percentage, and the legend, fit.
MIN_SIDE_WIDTH = 230


class SidePanelWidth(QObject):
    def __init__(self, window: QMainWindow, dock: QDockWidget, wanted: int) -> None:
        super().__init__(window)
        self._window = window
        self._dock = dock
        self.wanted = wanted  # what the user chose, or the default
        # The window's and the panel's widths at the panel's last resize: the panel
        # changing width while the window keeps its own is the user dragging its edge.
        self._seen: tuple[int, int] | None = None
        self._restoring = False
        window.installEventFilter(self)
        dock.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            if watched is self._window:
                # After Qt has laid the window out: it gives the new room to the video.
                QTimer.singleShot(0, self, self.restore)  # not after the window is gone
            elif watched is self._dock and self._docked():
                seen = (self._window.width(), self._dock.width())
                dragged = (self._seen is not None and seen[0] == self._seen[0]
                           and seen[1] != self._seen[1])
                if dragged and not self._restoring:
                    self.wanted = seen[1]
                self._seen = seen
        return False

    def _docked(self) -> bool:
        return self._dock.isVisible() and not self._dock.isFloating()

    def restore(self) -> None:
        """Give the panel back its width, as far as the window has room for it."""
        if not self._docked():
            return
        width = self._dock.width()
        room = self._window.width() - MIN_VIDEO_WIDTH
        target = max(width, min(self.wanted, room))
        if target > width:
            self._restoring = True
            try:
                self._window.resizeDocks([self._dock], [target], Qt.Orientation.Horizontal)
            finally:
                self._restoring = False
