"""Camera > Search for Cameras: the cameras there are, found off the GUI thread, for the
Camera > Device menu."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QStatusBar

from emocam.cameras import CameraInfo, probe_cameras
from emocam.gui.threads import BackgroundThreads


class CameraSearch:
    def __init__(self, threads: BackgroundThreads, status_bar: QStatusBar,
                 in_use: Callable[[], int | None]) -> None:
        """``in_use``: the camera that plays (or is being opened), None when none does."""
        self._threads = threads
        self._status_bar = status_bar
        self._in_use = in_use
        self.cameras: list[CameraInfo] | None = None  # None: not searched yet
        # The first search waits for the first source to open or fail: at start the app
        # opens camera 0 too, and on Windows and macOS only one of two opens gets it.
        self._pending = True

    def probe(self) -> None:
        """Search, listing the camera in use without opening it a second time."""
        self._pending = False
        in_use = self._in_use()
        self._threads.run(lambda: probe_cameras(in_use=in_use), self._found, None)

    def once_settled(self) -> None:
        """The first source has opened or failed: the first search may start."""
        if self._pending:
            self.probe()

    def _found(self, cameras: list[CameraInfo]) -> None:
        self.cameras = cameras
        names = ", ".join(c.name for c in cameras) or "none"
        self._status_bar.showMessage(f"Cameras found: {names}", 5000)
