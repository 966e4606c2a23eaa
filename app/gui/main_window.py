"""The emocam main window: the assembly of its parts.

The window holds no pipeline logic: a :class:`SourceWorker` thread reads, analyses and
annotates frames and sends them here as plain data; the window starts and stops it, hears
only the worker in use, and hands what it says to the parts. Each job is a part of its own,
which the menus (``gui.actions``) call:

- ``opener`` (``gui.opening``): what to play, from a dialog, Open Recent, a drop or a camera;
- ``display`` (``gui.source_display``): the source's frames and facts in the panels and bars;
- ``navigation`` (``gui.navigation``): pause, seek, step a frame, jump, go to the end;
- ``options`` (``gui.options``): the options in force, applied to the source and saved;
- ``placement`` (``gui.window_placement``): the window's size and place, full screen;
- ``recent``, ``camera_search``: the menus that list what is there now;
- ``exports``, ``recording``, ``snapshots``, ``feed``, ``models``: Export, Record, Snapshot,
  the live feed and the model in force, each given only what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QMainWindow,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from emocam.cameras import CameraInfo
from emocam.export_job import ExportJob
from emocam.gui import face_card_access
from emocam.gui.actions import build_menus, run_shortcut, set_checked_quietly, update_enabled
from emocam.gui.banner import MessageBanner
from emocam.gui.camera_search import CameraSearch
from emocam.gui.docks import faces_dock, perf_dock
from emocam.gui.export_control import ExportControl
from emocam.gui.face_panel import FacePanel
from emocam.gui.focus_return import FocusReturn
from emocam.gui.input_notes import InputNotes, names, shown
from emocam.gui.model_choice import ModelChoice
from emocam.gui.navigation import Navigation
from emocam.gui.opening import SourceOpener, dropped_path, short_name
from emocam.gui.options import Options
from emocam.gui.perf_panel import PerfPanel
from emocam.gui.playback import PlaybackBar
from emocam.gui.recent_menu import RecentMenu
from emocam.gui.recording import RecordingControl
from emocam.gui.settings import AppSettings, load_settings
from emocam.gui.snapshot import SnapshotControl
from emocam.gui.source_display import SourceDisplay
from emocam.gui.status import StatusFields
from emocam.gui.streaming import ResultsFeed
from emocam.gui.threads import BackgroundThreads
from emocam.gui.timeline import EmotionTimeline
from emocam.gui.video_view import VideoView
from emocam.gui.window_placement import WindowPlacement
from emocam.gui.workers import Packet, SourceInfo, SourceWorker, WorkerError
from emocam.overlay import OverlayOptions
from emocam.process import share_of


def _first_then(source: Any, open_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An opener that gives ``source`` (already open; None: none) the first time, then
    opens anew (a seek back reopens a video)."""
    waiting = [source] if source is not None else []

    def open_(spec: Any) -> Any:
        return waiting.pop() if waiting else open_fn(spec)
    return open_


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None,
                 open_fn: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.opener = SourceOpener(self)
        self.open_fn = open_fn or self.opener.open_source
        self.worker: SourceWorker | None = None
        self.source_info: SourceInfo | None = None
        self.pipeline_info: dict[str, Any] = {}
        self.last_packet: Packet | None = None
        self.recent_menu: QMenu | None = None
        self.threads = BackgroundThreads(self)
        self._last_spec: str | int | None = None  # reopened when a new model fixes a failure
        self._last_loop = False
        self.navigation = Navigation(self)
        self.options = Options(self)
        self.display = SourceDisplay(self)
        self.latency_samples_ms = self.display.latency_samples_ms  # the benchmarks read them
        self._fitted = False
        self._build_ui()
        # The window's other jobs, each given what it needs; none reads the window's state.
        # Before the menus: they list the models and call these parts.
        self.exports = ExportControl(self, self.settings, self.banner, self.threads,
                                     self._export_job)
        self.snapshots = SnapshotControl(self, self.settings, self.banner, self.view)
        self.feed = ResultsFeed(self, self.settings, self.banner, self.status)
        self.models = ModelChoice(self, self.settings, self.banner, self.threads,
                                  self._model_changed,
                                  lambda: str(self.pipeline_info.get("provider", "")))
        self.camera_search = CameraSearch(self.threads, self.statusBar(), self._camera_in_use)
        self.qactions = build_menus(self, self.menuBar())
        assert self.recent_menu is not None  # made by build_menus, in the File menu
        self.recent = RecentMenu(self.recent_menu, self.settings, self.open_file,
                                 self.options.persist)
        self.recording = RecordingControl(self.settings, self.banner, self.status,
                                          self.qactions["camera.record"], self._camera)
        self.placement = WindowPlacement(self, self.dock, self.settings)
        self.placement.restore()
        self._update_actions()

    # --- layout ---------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.setWindowTitle("emocam")
        self.setAcceptDrops(True)
        self.banner = MessageBanner(self)
        self.input_notes = InputNotes(self)
        self.input_notes.noted.connect(self._on_input_note)
        self._notes_said: set[str] = set()
        self.view = VideoView(self)
        self.view.painted.connect(self.display.painted)
        self.view.double_clicked.connect(self.toggle_fullscreen)
        # A shortcut, not a key handler: the slider or a face card has the keyboard as often
        # as not, and took Escape before the window saw it.
        QShortcut(Qt.Key.Key_Escape, self, self._escape)
        self.playback = PlaybackBar(self)
        self.playback.play_toggled.connect(self.set_paused)
        self.playback.seek_requested.connect(self.seek)
        self.playback.key_pressed.connect(lambda keys: run_shortcut(self.qactions, keys))
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(2)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.playback)
        self.setCentralWidget(central)

        face_card_access.install()
        self.faces = FacePanel(self, tab_after=self.playback.slider)
        self.timeline = EmotionTimeline(self)
        self.faces.selection_changed.connect(self.timeline.set_face)
        self.dock = faces_dock(self, self.faces, self.timeline)
        self.dock.visibilityChanged.connect(self._dock_visibility)
        self.status = StatusFields(self.statusBar())
        self.perf = PerfPanel(self)
        self.perf_dock = perf_dock(self, self.perf)
        # Its own close button and a restored layout show or hide it too: the menu follows.
        self.perf_dock.visibilityChanged.connect(self._perf_visibility)
        self.focus_return = FocusReturn(
            self, (self.playback.button, self.playback.slider), self.faces.focus_first)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            # A restored layout may have shown the panel while the window was hidden.
            self.set_checked("view.perf_panel", not self.perf_dock.isHidden())
            self.placement.first_shown()

    def _update_actions(self) -> None:
        update_enabled(self.qactions, self.source_info, self.worker is not None,
                       self.view.has_frame(), self.playback.is_photos())

    # --- what the playback bar, app.py, tests and scripts call; the parts do the work ------

    def open_file(self, path: str | Path) -> None:
        self.opener.open_file(path)

    def open_sample(self) -> None:
        self.opener.open_sample()

    def start_camera(self, index: int | None = None, fallback_to_sample: bool = False) -> None:
        self.opener.start_camera(index, fallback_to_sample)

    def set_paused(self, paused: bool) -> None:
        self.navigation.set_paused(paused)

    def seek(self, index: int) -> None:
        self.navigation.seek(index)

    def step(self, frames: int) -> None:
        self.navigation.step(frames)

    def go_to_end(self) -> None:
        self.navigation.go_to_end()

    def overlay_options(self) -> OverlayOptions:
        return self.options.overlay_options()

    def apply_pipeline_config(self) -> None:
        self.options.apply_pipeline_config()

    def apply_speed(self) -> None:
        self.options.apply_speed()

    def toggle_fullscreen(self) -> None:
        self.placement.toggle_fullscreen()

    # --- the source that plays --------------------------------------------------------------

    def start(self, spec: str | int, loop: bool = False, opened: Any = None) -> None:
        """Play ``spec`` (``opened``: its source, already open) in place of what plays."""
        self.opener.cancel_trial()  # a file still being tried is overtaken by this source
        self.stop_source()
        self._last_spec, self._last_loop = spec, loop
        self.banner.hide()
        self._notes_said = set()
        if opened is not None and not isinstance(spec, int):  # said while it was tried
            for text in self.input_notes.of(Path(spec), self.opener.tried_since):
                self._on_input_note(text)
        live = isinstance(spec, int)
        worker = SourceWorker(spec, self.options.pipeline_config(live),
                              self.options.overlay_options(),
                              self.settings.playback_speed,
                              open_fn=_first_then(opened, self.open_fn), loop=loop)
        worker.opened.connect(self._on_opened)
        worker.pipeline_ready.connect(self._on_pipeline)
        worker.frame_ready.connect(self._on_frame)
        worker.failed.connect(self._on_failed)
        worker.ended.connect(self._on_ended)
        worker.recording_stopped.connect(self.recording.stopped)
        self.worker = worker
        self.threads.track(worker)
        self.navigation.reset()
        self.playback.set_paused(False)
        self.set_checked("playback.pause", False)
        self.status.clear()
        self.setWindowTitle(f"emocam - {short_name(spec)}")
        self.playback.reset()
        self.timeline.set_span(None)  # the last clip's "whole clip (4 s)" until this one opens
        self.status.set("source", f"Opening {short_name(spec)}...")
        self.view.clear(f"Opening {short_name(spec)}...")
        worker.start()
        self._update_actions()

    def stop(self) -> None:
        """Camera > Stop: the source ends, and nothing on screen says it still runs (the
        frame rate, the faces, a seek bar that would do nothing)."""
        self._show_stopped("Stopped")

    def _show_stopped(self, state: str) -> None:
        self.stop_source()
        self.setWindowTitle("emocam")
        self.playback.reset()
        self.status.clear()
        self.status.set("source", state)

    def stop_source(self) -> None:
        """Stop the running source without waiting for it (it finishes in the background)."""
        self.focus_return.leaving()  # before its cards go and its controls are disabled
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop()
        self.source_info = None
        self.faces.clear()
        self.timeline.clear()
        self.recording.reset()
        self.status.set("source", "Stopped")
        self._update_actions()

    def _export_job(self) -> ExportJob | None:
        """The open file and the choices in force, for File > Export; None for a camera."""
        info = self.source_info
        if info is None or info.is_live:
            return None
        path = Path(str(info.spec))
        # Counted as the export's run counts it: the player's count opened the Export window
        # at a Matroska recording's 76 (from its sound) for its 30 pictures.
        return ExportJob(path, share_of(path) or info.frame_count,
                         self.options.pipeline_config(False), self.options.overlay_options())

    def _camera(self) -> SourceWorker | None:
        """The running camera's worker, for Camera > Record; None when no camera runs."""
        live = self.source_info is not None and self.source_info.is_live
        return self.worker if live else None

    def _camera_in_use(self) -> int | None:
        """The camera that plays or is being opened, for a search that leaves it alone."""
        spec = self._last_spec if self.worker is not None else None
        return spec if isinstance(spec, int) else None

    @property
    def cameras(self) -> list[CameraInfo] | None:
        """The cameras the last search found (None: none yet), for Camera > Device."""
        return self.camera_search.cameras

    def _on_input_note(self, text: str) -> None:
        spec = self._last_spec
        if spec is None or isinstance(spec, int) or not names(text, Path(spec)):
            return
        # Not over an error, or a message with buttons of its own (Retry, an export's
        # Open Folder): those matter more than a warning about the file.
        if self.banner.text() and (self.banner.level == "error" or len(self.banner.buttons) > 1):
            return
        if text not in self._notes_said:
            self._notes_said.add(text)
            self.banner.show_message(shown(text, Path(spec)), "warning")

    def _current(self) -> bool:
        """True when a signal comes from the worker now in use (not one being retired)."""
        return self.sender() is self.worker and self.worker is not None

    def _on_opened(self, info: SourceInfo) -> None:
        if not self._current():
            return
        self.source_info = info
        if info.is_live and isinstance(info.spec, int) and info.spec != self.settings.camera_index:
            self.settings.camera_index = info.spec
            self.options.persist()
        self.display.opened(info)
        self.focus_return.back()  # its controls are enabled again
        self._update_actions()
        self.camera_search.once_settled()

    def _on_pipeline(self, info: dict[str, Any]) -> None:
        if self._current():
            self.pipeline_info = info
            self.display.pipeline(info)

    def _on_frame(self, packet: Packet) -> None:
        if not self._current():
            return
        assert self.worker is not None
        self.worker.frame_shown()
        self.last_packet = packet
        self.navigation.shown(packet.result.frame.index)
        self.display.frame(packet)
        self.focus_return.back()  # a photo's first face card, where it has no controls
        self.feed.send(packet.result)
        if not self.qactions["file.snapshot"].isEnabled():
            self._update_actions()

    def _on_ended(self, early: str) -> None:
        if not self._current():
            return
        if early:
            self.banner.show_message(early, "warning")
        self.navigation.reached_end()

    def _on_failed(self, error: WorkerError) -> None:
        if not self._current():
            return
        if error.kind == "source" and error.is_live:
            self.opener.camera_failed(error.message)
            self.camera_search.once_settled()
            return
        if error.kind == "model":
            actions = {"Choose Model...": self.models.choose_dialog}
            if self.models.chosen():
                actions["Use the Built-in Model"] = lambda: self.models.set("")
            self.banner.show_message(error.message, "error", actions)
        elif error.kind == "source":
            self.opener.file_failed(self._last_spec, error.message)
        else:
            self.banner.show_message(error.message, "error")
        if error.fatal and self.worker is not None:
            self._show_stopped("Not running")
            self.view.clear("Nothing to show.")
        self.camera_search.once_settled()

    def set_checked(self, action_id: str, checked: bool) -> None:
        """A menu item's check mark put in step with a state changed elsewhere."""
        action = getattr(self, "qactions", {}).get(action_id)  # None while menus are built
        if action is not None:
            set_checked_quietly(action, checked)

    # --- view -----------------------------------------------------------------------------

    def show_side_panel(self, on: bool) -> None:
        self.dock.setVisible(on)
        self.options.persist()

    def _dock_visibility(self, visible: bool) -> None:
        # The dock's own close button hides it too; keep the menu and setting in step.
        if not self.isVisible() or self.isMinimized():
            return
        self.settings.show_side_panel = visible
        self.set_checked("view.side_panel", visible)

    def _perf_visibility(self, visible: bool) -> None:
        if self.isVisible() and not self.isMinimized():
            self.set_checked("view.perf_panel", visible)

    def _escape(self) -> None:
        """Escape leaves full screen, else dismisses the banner (no keyboard reached its
        Dismiss button)."""
        if self.isFullScreen():
            self.placement.leave_fullscreen()
        elif self.banner.isVisible():
            self.banner.hide()

    # A video, photo or folder dropped from the file manager opens as File > Open does.
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.open_file(path)

    # --- model ----------------------------------------------------------------------------

    def _model_changed(self) -> None:
        if self.worker is None and self._last_spec is not None:
            # The source stopped because the model failed.
            self.start(self._last_spec, self._last_loop)
        else:
            self.options.apply_pipeline_config()
        self.options.persist()

    # --- closing --------------------------------------------------------------------------

    def quit(self) -> None:
        """File > Quit: as the window's close button (an export running asks first, and
        closes the window itself once it has stopped)."""
        if self.exports.may_quit():
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        # The close button (a spontaneous event) asks first while an export runs; Quit has
        # asked already, and a program's close() (tests, shutdown) does not ask.
        if event.spontaneous() and not self.exports.may_quit():
            event.ignore()
            return
        self.placement.save()
        self.options.persist()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop every thread and wait for it: nothing may outlive the window."""
        self.opener.cancel_trial()
        self.input_notes.close()  # first: no warning is forwarded to a window going away
        self.exports.cancel()
        self.stop_source()
        self.threads.stop_all(timeout_ms)
        self.exports.close()
        self.feed.stop()

