"""File > Save Snapshot: the frame on screen, overlay included, as a PNG."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QImageWriter
from PySide6.QtWidgets import QFileDialog, QWidget

from emocam.gui.banner import MessageBanner
from emocam.gui.settings import AppSettings
from emocam.gui.video_view import VideoView


class SnapshotControl:
    def __init__(self, parent: QWidget, settings: AppSettings, banner: MessageBanner,
                 view: VideoView) -> None:
        self._parent = parent
        self._settings = settings
        self._banner = banner
        self._view = view

    def dialog(self) -> None:
        name = f"emocam-{time.strftime('%Y%m%d-%H%M%S')}.png"
        path, _ = QFileDialog.getSaveFileName(
            self._parent, "Save Snapshot",
            str(Path(self._settings.last_dir or Path.home()) / name), "PNG images (*.png)")
        if path:
            self.save(path)

    def save(self, path: str | Path) -> bool:
        """Write the frame on screen to ``path`` (.png added unless it ends in a picture
        type Qt writes: "take 1.5" is "take 1.5.png"); False, said in the banner, when there
        is none or it cannot be written."""
        path = Path(path)
        written = {bytes(f).decode().lower() for f in QImageWriter.supportedImageFormats()}
        if path.suffix.lower().lstrip(".") not in written:
            path = path.with_name(path.name + ".png")
        if not self._view.has_frame():
            self._banner.show_message("There is no frame to save yet.", "info")
            return False
        if not self._view.current_image().save(str(path)):
            self._banner.show_message(f"The snapshot {path} cannot be written; check the "
                                      "folder exists and is writable.", "error")
            return False
        self._banner.show_message(f"Saved the snapshot to {path.absolute()}.", "info")
        return True
