"""Camera > Record: records the running camera into the recording folder (the set is
written by ``emocam.recorder`` on the source's thread); the status bar shows REC while it
runs and the banner says what was written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtGui import QAction

from emocam.errors import UserError, frames_text
from emocam.gui.actions import set_checked_quietly
from emocam.gui.banner import MessageBanner
from emocam.gui.settings import AppSettings
from emocam.gui.status import StatusFields
from emocam.gui.workers import SourceWorker, WorkerError
from emocam.outputs import export_names, make_folder, recording_names, report_name


class RecordingControl:
    def __init__(self, settings: AppSettings, banner: MessageBanner, status: StatusFields,
                 action: QAction, camera: Callable[[], SourceWorker | None]) -> None:
        """``action``: Camera > Record, unchecked when a recording ends by itself;
        ``camera``: the worker of the running camera, None when no camera runs."""
        self._settings = settings
        self._banner = banner
        self._status = status
        self._action = action
        self._camera = camera

    def folder(self) -> Path:
        if self._settings.record_dir:
            return Path(self._settings.record_dir)
        movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
        return Path(movies or Path.home())

    def toggle(self, on: bool) -> None:
        camera = self._camera()
        if not on:
            if camera is not None:
                camera.stop_recording()
            self._status.set("rec", "")
            return
        if camera is None:
            set_checked_quietly(self._action, False)
            self._banner.show_message("Recording needs a running camera; start one with "
                                      "Camera > Start Camera.", "info")
            return
        folder = self.folder()
        try:
            make_folder(folder)
        except UserError as e:  # a file where the folder should be, no permission
            set_checked_quietly(self._action, False)
            self._banner.show_message(str(e), "error")
            return
        video, csv, *_ = recording_names(folder)  # the recorder names the rest alike
        camera.start_recording(video, csv)
        self._status.set("rec", "\u25cf REC", f"Recording to {video} (with its CSV, summary, "
                         "report and sidecar beside it)")

    def stopped(self, payload: object) -> None:
        """The source worker's ``recording_stopped``: what was written, or why not."""
        self.reset()
        if isinstance(payload, WorkerError):
            self._banner.show_message(payload.message, "error")
            return
        video, _csv, frames = payload  # type: ignore[misc]
        if frames:
            video, csv, summary, sidecar = export_names(Path(video))
            files = ", ".join(map(str, (video, csv, summary, report_name(summary), sidecar)))
            self._banner.show_message(f"Recorded {frames_text(frames)}: {files}.", "info")

    def reset(self) -> None:
        """No recording runs (the source stopped, or the recording ended)."""
        self._status.set("rec", "")
        set_checked_quietly(self._action, False)
