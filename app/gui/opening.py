"""Opening what to play: File > Open (video, image, folder), Open Recent, a dropped file,
the sample video and Camera > Start. The last folder and the recent files are kept; while
something plays, a new source is tried off the GUI thread before it replaces it, and one
that fails is said in the banner with a button for another of its kind."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QFileDialog

from emocam.errors import SourceError
from emocam.input_kinds import IMAGE_EXTS, VIDEO_EXTS, input_kind
from emocam.resources import sample_video_path
from emocam.sources import open_source

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow

# A GIF is listed with the videos too: most are animations (a still one opens as a photo).
VIDEO_FILTER = ("Videos (" + " ".join(f"*{e}" for e in sorted(VIDEO_EXTS | {".gif"}))
                + ");;All files (*)")
IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTS)) + ");;All files (*)"


def short_name(spec: str | int) -> str:
    """A source as the title bar and status bar name it."""
    return f"camera {spec}" if isinstance(spec, int) else Path(spec).name


def dropped_path(mime: QMimeData) -> Path | None:
    """The first local file or folder among dropped links; a web page's link is not one."""
    for url in mime.urls():
        if url.isLocalFile():
            return Path(url.toLocalFile())
    return None


def _is_sample(path: Path) -> bool:
    sample = sample_video_path()
    return sample.is_file() and path.is_file() and path.samefile(sample)


def _close(source: Any) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


class SourceOpener:
    def __init__(self, window: MainWindow) -> None:
        """``window``: what plays now, where to say a failure, and its ``start`` that plays
        a source in place of what plays."""
        self._window = window
        self._fallback_to_sample = False
        # The source being tried before it replaces what plays: one token per try, so that a
        # second try of the same source (Ctrl+K twice) is told from the first.
        self._opening: object | None = None
        self.tried_since = 0.0  # when the file being tried began to open

    def open_source(self, spec: str | int) -> Any:
        """Open a file, or a camera at the resolution chosen in Camera > Resolution."""
        resolution = self._window.settings.camera_resolution
        if isinstance(spec, int) and resolution != "default":
            w, h = (int(v) for v in resolution.split("x"))
            return open_source(spec, size=(w, h))
        return open_source(spec)

    def video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open Video",
                                              self._window.settings.last_dir, VIDEO_FILTER)
        if path:
            self.open_file(path)

    def image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open Image",
                                              self._window.settings.last_dir, IMAGE_FILTER)
        if path:
            self.open_file(path)

    def folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._window, "Open Folder",
                                                  self._window.settings.last_dir)
        if folder:
            self.open_file(folder)

    def open_file(self, path: str | Path) -> None:
        settings = self._window.settings
        # Absolute, so Open Recent finds the file from whatever folder emocam starts in.
        path = Path(path).expanduser().absolute()
        if path.exists():  # a name that is not there would greet every later start from Recent
            settings.add_recent(str(path))
        settings.last_dir = str(path.parent)
        self._window.options.persist()
        self._start_checked(str(path), loop=_is_sample(path))

    def cancel_trial(self) -> None:
        """A source still being tried is closed when its try ends (overtaken, or the window
        closes)."""
        self._opening = None

    def _start_checked(self, spec: str | int, loop: bool = False) -> None:
        """Open a file or camera; while a file plays, the new source is opened off the GUI
        thread first, and one that fails (a damaged photo, a recent file moved away, no
        webcam) is said in the banner while what plays goes on (before, the video stopped
        and its cards and timeline were emptied). The source opened is the one that plays:
        a camera is not opened twice, which is slow on some systems."""
        window = self._window
        playing = window.source_info
        if (window.worker is None or playing is None
                or (playing.is_live and isinstance(spec, int))):
            # A camera in use cannot be tried beside another (or itself: the device is busy).
            window.start(spec, loop)
            return
        token = self._opening = object()
        self.tried_since = time.monotonic()  # its warnings from here on are shown
        window.statusBar().showMessage(f"Opening {short_name(spec)}...")

        def trial() -> Any:
            return window.open_fn(spec)

        def opened(source: Any) -> None:
            if self._opening is not token:  # overtaken since, or the window closed
                _close(source)
                return
            self._opening = None
            window.statusBar().clearMessage()
            window.start(spec, loop, opened=source)

        def failed(error: Exception) -> None:
            if self._opening is not token:
                return
            self._opening = None
            window.statusBar().clearMessage()
            if not isinstance(error, SourceError):
                window.start(spec, loop)  # the worker says it as it always has
            elif isinstance(spec, int):
                window.banner.show_message(str(error), "error",
                                           {"Retry": lambda: self.start_camera(spec)})
            else:
                self.file_failed(spec, str(error))

        window.threads.run(trial, opened, failed)

    def open_sample(self) -> None:
        path = sample_video_path()
        if not path.is_file():
            self._window.banner.show_message(
                f"The sample video {path} is missing from this installation; open a video "
                "with File > Open Video or reinstall emocam.", "error")
            return
        # Six seconds that stop on a frozen frame make a poor first impression: it loops.
        self._window.start(str(path), loop=True)

    def start_camera(self, index: int | None = None, fallback_to_sample: bool = False) -> None:
        # Kept for the next start only once it opens (the window's _on_opened): a camera
        # that failed would greet every later start with its error.
        self._fallback_to_sample = fallback_to_sample
        settings = self._window.settings
        self._start_checked(settings.camera_index if index is None else int(index))

    def restart_camera(self) -> None:
        self._window.options.persist()
        info = self._window.source_info
        if info is not None and info.is_live:
            self.start_camera()

    def file_failed(self, spec: str | int | None, message: str) -> None:
        """A file that could not be opened: said, with a dialog for another of its kind, and
        left out of Open Recent, which would offer it again, and fail again, at every start."""
        settings = self._window.settings
        if isinstance(spec, str) and spec in settings.recent_files:
            settings.recent_files.remove(spec)
            self._window.options.persist()
        self._window.banner.show_message(message, "error", dict([self._open_another(spec)]))

    def _open_another(self, spec: str | int | None) -> tuple[str, Callable[[], None]]:
        """The banner's button after a file failed: a dialog for the same kind of input."""
        kind = input_kind(Path(str(spec))) if spec is not None else "video"
        if kind == "folder":
            return "Open Another Folder...", self.folder_dialog
        if kind == "image":
            return "Open Another Image...", self.image_dialog
        return "Open Another Video...", self.video_dialog

    def camera_failed(self, message: str) -> None:
        window = self._window
        retry = {"Retry": self.start_camera}
        if self._fallback_to_sample and sample_video_path().is_file():
            self._fallback_to_sample = False
            self.open_sample()
            window.banner.show_message(
                f"{message} Playing the bundled sample video instead.", "warning",
                {"Retry Camera": self.start_camera})
            return
        window.stop_source()
        window.view.clear("No camera.")
        window.banner.show_message(message, "error",
                                   {**retry, "Open the Sample Video": self.open_sample})
