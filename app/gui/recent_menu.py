"""File > Open Recent: the files opened before, listed each time the menu opens."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from emocam.gui.settings import AppSettings


class RecentMenu:
    def __init__(self, menu: QMenu, settings: AppSettings, open_file: Callable[[str], None],
                 persist: Callable[[], None]) -> None:
        """``open_file`` opens a path chosen; ``persist`` saves the settings (Clear List)."""
        self._menu = menu
        self._settings = settings
        self._open_file = open_file
        self._persist = persist
        menu.aboutToShow.connect(self.fill)

    def fill(self) -> None:
        menu = self._menu
        menu.clear()
        metrics = menu.fontMetrics()
        for path in self._settings.recent_files:
            # At most 60 characters' width, its middle left out: a long path made the menu as
            # wide as the screen, over the File menu itself. The whole path is its tip.
            shown = metrics.elidedText(path, Qt.TextElideMode.ElideMiddle,
                                       metrics.averageCharWidth() * 60)
            # "&" would be taken as a keyboard accelerator: "Tom & Jerry" showed "Tom _Jerry".
            action = menu.addAction(shown.replace("&", "&&"))
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self._open_file(p))
        if not self._settings.recent_files:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear List").triggered.connect(self._clear)

    def _clear(self) -> None:
        self._settings.recent_files = []
        self._persist()
