"""The window's outputs: live recording, snapshots and export (a mixin of MainWindow).

Kept apart so the main window stays about layout and sources; everything here works on the
window's state through the same attributes the window uses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from emocam.encoders import DEFAULT_VIDEO_CODEC, VIDEO_CODECS
from emocam.gui.dialogs import export_progress
from emocam.gui.export import ExportOutcome, ExportWorker
from emocam.gui.workers import WorkerError
from emocam.outputs import default_output, export_names, recording_names
from emocam.process import ProcessOptions
from emocam.sources import IMAGE_EXTS

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object


VIDEO_FILTERS = {
    "mp4v": "MP4 video, MPEG-4: fastest to export (*.mp4)",
    "h264": "MP4 video, H.264: smaller, plays in web browsers (*.mp4)",
}


def _frames(n: int) -> str:
    return f"{n} frame" if n == 1 else f"{n} frames"


def _known_codec(codec: str) -> str:
    # A settings file edited by hand must not break every export.
    return codec if codec in VIDEO_CODECS else DEFAULT_VIDEO_CODEC


class OutputsMixin(_Base):

    def recording_dir(self) -> Path:
        if self.settings.record_dir:
            return Path(self.settings.record_dir)
        movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
        return Path(movies or Path.home())

    def set_recording(self, on: bool) -> None:
        live = self.worker is not None and self.source_info and self.source_info.is_live
        if not on:
            if self.worker is not None:
                self.worker.stop_recording()
            self.status.set("rec", "")
            return
        if not live:
            self._set_checked("camera.record", False)
            self.banner.show_message("Recording needs a running camera; start one with "
                                     "Camera > Start Camera.", "info")
            return
        folder = self.recording_dir()
        folder.mkdir(parents=True, exist_ok=True)
        video, csv, *_ = recording_names(folder)  # the recorder names the rest alike
        assert self.worker is not None
        self.worker.start_recording(video, csv)
        self.status.set("rec", "\u25cf REC", f"Recording to {video} (with its .csv, .json "
                        "and .npz)")

    def _on_recording_stopped(self, payload: object) -> None:
        self.status.set("rec", "")
        self._set_checked("camera.record", False)
        if isinstance(payload, WorkerError):
            self.banner.show_message(payload.message, "error")
            return
        video, _csv, frames = payload  # type: ignore[misc]
        if frames:
            files = ", ".join(str(p) for p in export_names(Path(video)))
            self.banner.show_message(f"Recorded {frames} frames: {files}.", "info")

    def save_snapshot_dialog(self) -> None:
        name = f"emocam-{time.strftime('%Y%m%d-%H%M%S')}.png"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save Snapshot", str(Path(self.settings.last_dir or Path.home()) / name),
            "PNG images (*.png)")
        if path:
            self.save_snapshot(path)

    def save_snapshot(self, path: str | Path) -> bool:
        path = Path(path).with_suffix(".png") if not Path(path).suffix else Path(path)
        if not self.view.has_frame():
            self.banner.show_message("There is no frame to save yet.", "info")
            return False
        if not self.view.current_image().save(str(path)):
            self.banner.show_message(f"The snapshot {path} cannot be written; check the "
                                     "folder exists and is writable.", "error")
            return False
        self.banner.show_message(f"Saved the snapshot to {path.absolute()}.", "info")
        return True

    def export_dialog(self) -> None:
        if self.source_info is None or self.source_info.is_live:
            self.banner.show_message("Export works on a video or image file; open one "
                                     "first.", "info")
            return
        src = Path(str(self.source_info.spec))
        if src.suffix.lower() in IMAGE_EXTS:
            default = default_output(src, None, src.suffix.lower().lstrip("."))
            path, _ = QFileDialog.getSaveFileName(self, "Export Annotated Copy", str(default))
            if path:
                self.start_export(Path(path))
            return
        # The file type chooses the codec; the choice is remembered for the next export.
        codec = _known_codec(self.settings.export_codec)
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export Annotated Copy", str(default_output(src, None, "mp4")),
            ";;".join(VIDEO_FILTERS.values()), VIDEO_FILTERS.get(codec, ""),
        )
        if path:
            codec = next((c for c, f in VIDEO_FILTERS.items() if f == chosen), codec)
            self.settings.export_codec = codec
            self.start_export(Path(path), codec)

    def start_export(self, output: Path, codec: str | None = None) -> ExportWorker | None:
        """Export the open file to ``output`` plus .csv and .json beside it; a video in
        ``codec`` (default: the last one chosen)."""
        if self.source_info is None or self.source_info.is_live:
            return None
        if self.export_worker is not None:
            self.banner.show_message("An export is already running.", "info")
            return None
        src = Path(str(self.source_info.spec))
        video, csv, json_path, sidecar = export_names(output)
        if src.suffix.lower() in IMAGE_EXTS:
            video = video.with_suffix(src.suffix.lower())
        # The whole set is named after the file the user chose, the sidecar too: beside the
        # source it would replace the sidecar of a command-line run of the same video.
        opts = ProcessOptions(input=src, output_video=video, csv=csv, json=json_path,
                              sidecar=sidecar, overwrite=True, progress=False,
                              pipeline=self.pipeline_config(False),
                              overlay=self.overlay_options(),
                              video_codec=_known_codec(codec or self.settings.export_codec))
        worker = ExportWorker(opts)
        worker.progress.connect(self._on_export_progress)
        worker.finished_ok.connect(self._on_export_done)
        worker.errored.connect(self._on_export_error)
        self._progress = export_progress(self, f"Exporting {src.name}...",
                                         self.source_info.frame_count or 0)
        self._progress.canceled.connect(self.cancel_export)
        self._progress.show()
        self.export_worker = worker
        self._track(worker)
        worker.start()
        return worker

    def cancel_export(self) -> None:
        if self.export_worker is not None:
            self.export_worker.cancel()
            if self._progress is not None:
                self._progress.setLabelText("Cancelling after this frame...")

    def _on_export_progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            if total and self._progress.maximum() != total:
                self._progress.setMaximum(total)
            self._progress.setValue(done)

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self.export_worker = None

    def _on_export_done(self, outcome: ExportOutcome) -> None:
        self._close_progress()
        files = ", ".join(outcome.outputs.values())
        if outcome.warning:
            self.banner.show_message(outcome.warning, "warning")
        elif outcome.completed:
            self.banner.show_message(
                f"Exported {_frames(outcome.frames)}{outcome.note}: {files}.", "info")
        else:
            self.banner.show_message(
                f"Export cancelled after {_frames(outcome.frames)}; the files written so "
                f"far are complete and usable: {files}.", "info")
        self.export_finished.emit(outcome)

    def _on_export_error(self, message: str) -> None:
        self._close_progress()
        self.banner.show_message(message, "error")
        self.export_finished.emit(message)
