"""File > Export...: asks where to write, runs the export in the background with a progress
dialog and Cancel, and says in the banner what was written.

What the run is (the options, the names, the messages) is Qt-free, in ``emocam.export_job``;
the thread that runs it is ``emocam.gui.export``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from emocam.encoders import known_codec
from emocam.errors import OutputError, SourceError
from emocam.export_job import ExportJob, ExportOutcome
from emocam.gui.banner import MessageBanner
from emocam.gui.dialogs import export_progress
from emocam.gui.export import ExportWorker
from emocam.gui.settings import AppSettings, save_settings
from emocam.gui.threads import BackgroundThreads
from emocam.inputs import check_input

VIDEO_FILTERS = {
    "mp4v": "MP4 video, MPEG-4: fastest to export (*.mp4)",
    "h264": "MP4 video, H.264: smaller, plays in web browsers (*.mp4)",
}


# The app asks about every file an export replaces at once (``_may_replace``).
_ASK_ONCE = QFileDialog.Option.DontConfirmOverwrite


class ExportControl(QObject):
    finished = Signal(object)  # ExportOutcome or an error message (str)

    def __init__(self, parent: QWidget, settings: AppSettings, banner: MessageBanner,
                 threads: BackgroundThreads, job: Callable[[], ExportJob | None]) -> None:
        """``job``: the open file and the choices in force now; None when no file is open
        (a camera, or nothing)."""
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self._banner = banner
        self._threads = threads
        self._job = job
        self.worker: ExportWorker | None = None
        self._progress: QProgressDialog | None = None
        self._quit_when_stopped = False  # the user chose to quit: close once it has stopped
        self._message = ""  # the banner's text this control showed last

    def dialog(self) -> None:
        job = self._job()
        if job is None:
            self._banner.show_message("Export works on a video or image file; open one "
                                      "first.", "info")
            return
        if self.worker is not None:  # said before a save dialog, not after it
            self.bring_forward()
            self._banner.show_message("An export is already running: its window is in "
                                      "front, where Escape cancels it.", "info")
            return
        try:
            # Gone since it was opened (moved, deleted, a drive unplugged): said now, not
            # after a save dialog for the wrong kind of output (a vanished folder got MP4's).
            check_input(job.source)
        except SourceError as e:
            self._banner.show_message(str(e), "error")
            return
        if job.is_folder:
            path, _ = QFileDialog.getSaveFileName(
                self._parent, "Export Annotated Photos to a New Folder",
                str(self._suggested(job)), "Folder of annotated photos (*)",
                options=_ASK_ONCE)
            if path and self._may_write(job, Path(path)):
                self._remember_folder(job, Path(path))
                self.start(Path(path))
            return
        if job.is_photo:
            path, _ = QFileDialog.getSaveFileName(
                self._parent, "Export Annotated Copy",
                str(self._suggested(job)), options=_ASK_ONCE)
            if path and self._may_write(job, Path(path)):
                self._remember_folder(job, Path(path))
                self.start(Path(path))
            return
        # The file type chooses the codec; the choice is remembered for the next export.
        codec = known_codec(self._settings.export_codec)
        path, chosen = QFileDialog.getSaveFileName(
            self._parent, "Export Annotated Copy", str(self._suggested(job)),
            ";;".join(VIDEO_FILTERS.values()), VIDEO_FILTERS.get(codec, ""), options=_ASK_ONCE,
        )
        if path and self._may_write(job, Path(path)):
            codec = next((c for c, f in VIDEO_FILTERS.items() if f == chosen), codec)
            self._settings.export_codec = codec
            self._remember_folder(job, Path(path))
            self.start(Path(path), codec)

    def bring_forward(self) -> None:
        """The running export's window in front with the keyboard's focus on its Cancel,
        so a keyboard user can reach it (it opens without taking the keyboard)."""
        progress = self._progress
        if progress is None:
            return
        progress.show()
        progress.raise_()
        progress.activateWindow()
        for button in progress.findChildren(QPushButton):
            if button.isEnabled():
                button.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def _suggested(self, job: ExportJob) -> Path:
        """Where the save dialog starts: in the folder exported to last, else beside the
        source, else in the last folder opened from (often the source's own, which may not
        be written to), the user's Videos folder or home."""
        videos = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
        elsewhere = [Path(p) for p in (self._settings.last_dir, videos, str(Path.home())) if p]
        last = self._settings.export_dir
        return job.suggested_output(elsewhere, Path(last) if last else None)

    def _remember_folder(self, job: ExportJob, output: Path) -> None:
        """The next export starts where this one went, in this run of the app and the next
        (the Open dialogs keep their own folder: exporting to ~/exports while opening from
        ~/videos)."""
        folder = job.folder_to_remember(output)
        self._settings.export_dir = "" if folder is None else str(folder)
        save_settings(self._settings)

    def _may_write(self, job: ExportJob, output: Path) -> bool:
        """What the run would refuse is said at once; else one question for every file the
        export would replace: the name typed and the files written beside it (CSV, JSON,
        ...), which may be the user's own. (The save dialog's own question, about the typed
        name alone, came first: two questions.)"""
        try:
            job.check(output)
        except OutputError as e:
            self._banner.show_message(str(e), "error")
            return False
        others = ([output] if output.exists() else []) + job.replaced_by(output)
        if not others:
            return True
        names = "\n".join(f"  {p.name}" for p in others)
        answer = QMessageBox.question(
            self._parent, "Replace Files?",
            f"Exporting to {output.name} writes files that already exist in {output.parent}; "
            "they will be replaced (or removed, when the export replaces the set they belong "
            f"to):\n\n{names}\n\nGo on?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def start(self, output: Path, codec: str | None = None) -> ExportWorker | None:
        """Export the open file to ``output`` plus .csv and .json beside it; a video in
        ``codec`` (default: the last one chosen). None when no file is open or an export
        is already running."""
        job = self._job()
        if job is None:
            return None
        if self.worker is not None:
            self._banner.show_message("An export is already running.", "info")
            return None
        if self._banner.text() == self._message:
            self._banner.hide()  # the last export's message is not this one's
        worker = ExportWorker(job.options(output, codec or self._settings.export_codec))
        worker.progress.connect(self._on_progress)
        worker.finished_ok.connect(self._on_done)
        worker.errored.connect(self._on_error)
        self._progress = export_progress(self._parent, f"Exporting {job.source.name}...",
                                         job.frame_count or 0)
        self._progress.canceled.connect(self.cancel)
        # Its own close button (or Alt+F4) cancels it and deletes it: forgotten here then,
        # or every later use of it raised and the app believed the export still ran.
        self._progress.destroyed.connect(self._progress_gone)
        self._progress.show()
        self.worker = worker
        self._threads.track(worker)
        worker.start()
        return worker

    def _progress_gone(self) -> None:
        self._progress = None

    def cancel(self) -> None:
        """Stop after the current frame; what was written stays complete and usable."""
        if self.worker is not None:
            self.worker.cancel()
            if self._progress is not None:
                # Closing the files (the video, the sidecar joined, the report) takes
                # seconds: a Cancel still live over it looked unheard.
                self._progress.setLabelText("Cancelling: closing the files written so "
                                            "far...")
                for button in self._progress.findChildren(QPushButton):
                    button.setEnabled(False)
                self._progress.show()  # Qt's cancel hides it; it stays until they are

    def close(self) -> None:
        """The progress dialog goes; the export, if any, is forgotten (cancel it first)."""
        if self._progress is not None:
            had_keys = QApplication.activeWindow() is self._progress
            self._progress.close()
            self._progress = None
            if had_keys:
                # Without this, after an export that failed at once, Space and the
                # shortcuts did nothing until a click in the window.
                self._parent.activateWindow()
        self.worker = None

    def may_quit(self) -> bool:
        """Whether the window may close now. With an export running the user is asked;
        to quit, the export is stopped first and the window closed once it has (its files
        are closed whole, which may take a while: the window must not go before)."""
        if self.worker is None:
            return True
        # No count here: the question stays open while the export goes on, and a count
        # frozen when it opened ("77 of 1800 frames") was soon untrue; its window has it.
        answer = QMessageBox.question(
            self._parent, "Stop the Export?",
            "An export is still running (its window shows how far). Stop it and quit? What "
            "it has written so far is kept and usable; its summary says it did not finish.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            self._quit_when_stopped = True
            self.cancel()
        return False

    def _on_progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            if total and self._progress.maximum() != total:
                self._progress.setMaximum(total)
            self._progress.setValue(done)

    def _on_done(self, outcome: ExportOutcome) -> None:
        self.close()
        self._show(*outcome.message())
        self.finished.emit(outcome)
        self._quit_if_asked()

    def _on_error(self, message: str) -> None:
        self.close()
        self._show(message, "error")
        self.finished.emit(message)
        self._quit_if_asked()

    def _show(self, text: str, level: str) -> None:
        self._message = text
        self._banner.show_message(text, level)

    def _quit_if_asked(self) -> None:
        if self._quit_when_stopped:
            self._quit_when_stopped = False
            self._parent.close()
