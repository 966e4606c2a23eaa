"""Where the window lies and how large: the size, place and panels of the last session
restored at start and saved at close, the whole window kept on the screen once the window
manager has framed it, and full screen on and off."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow

from emocam.gui.screen_fit import DEFAULT_SIZE, fit_geometry, fit_size
from emocam.gui.settings import AppSettings
from emocam.gui.side_width import SidePanelWidth


class WindowPlacement:
    def __init__(self, window: QMainWindow, dock: QDockWidget, settings: AppSettings) -> None:
        """``dock``: the side panel, whose width and visibility are the user's."""
        self._window = window
        self._dock = dock
        self._settings = settings
        self._was_maximized = False  # before full screen
        self._frame_checks = 0
        self.side_width: SidePanelWidth | None = None

    def restore(self) -> None:
        """The last session's size, place and panels; a first start's fit the screen."""
        s, window = self._settings, self._window
        if s.geometry is None or not window.restoreGeometry(s.geometry):
            window.resize(fit_size(DEFAULT_SIZE, self._available()))
        if s.window_state is None or not window.restoreState(s.window_state):
            window.resizeDocks([self._dock], [s.side_panel_width], Qt.Orientation.Horizontal)
        self._dock.setVisible(s.show_side_panel)
        self.side_width = SidePanelWidth(window, self._dock, s.side_panel_width)

    def save(self) -> None:
        """Kept in the settings for the next start (the caller saves them)."""
        if self.side_width is not None:
            self._settings.side_panel_width = self.side_width.wanted
        self._settings.geometry = self._window.saveGeometry()
        self._settings.window_state = self._window.saveState()

    def first_shown(self) -> None:
        self.fit_to_screen()
        # The window manager adds its frame (title bar, borders) some time after the
        # window shows, around where the client area was put: a restored window at the
        # top of the screen then had its title bar above it. Fit again once it is there.
        self._frame_checks = 0
        QTimer.singleShot(50, self._window, self._fit_once_framed)  # not once it is gone

    def _fit_once_framed(self) -> None:
        self._frame_checks += 1
        if self._window.frameGeometry().height() > self._window.geometry().height():
            self.fit_to_screen()
        elif self._frame_checks < 40:  # 2 s: a window manager that draws no frame is left
            QTimer.singleShot(50, self._window, self._fit_once_framed)  # not once it is gone

    def _available(self) -> QRect:
        screen = self._window.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)

    def fit_to_screen(self) -> None:
        """Shrink and move the window so all of it, title bar included, is on the screen's
        available area (a 1366x768 laptop, a saved geometry from a larger monitor)."""
        window = self._window
        if window.isFullScreen() or window.isMaximized():
            return
        size, corner = fit_geometry(window.frameGeometry(), window.geometry(),
                                    self._available(), window.minimumSizeHint())
        if size != window.size():
            window.resize(size)
        if corner != window.frameGeometry().topLeft():
            window.move(corner)  # move() places the frame's corner

    def toggle_fullscreen(self) -> None:
        if self._window.isFullScreen():
            self.leave_fullscreen()
        else:
            self._was_maximized = self._window.isMaximized()
            self._window.showFullScreen()

    def leave_fullscreen(self) -> None:
        # Back to the window as it was: a maximised one came back at its normal size.
        if self._was_maximized:
            self._window.showMaximized()
        else:
            self._window.showNormal()
