"""Menu actions declared as data; :func:`build_menus` turns them into QActions.

The window only provides the slots the callbacks name. Choices (camera, detector, speed...)
are declared the same way, with a function that lists the options at the time the menu
opens, so newly plugged cameras or onnxruntime providers show up without a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import onnxruntime as ort
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from emocam.cameras import camera_choices

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow
    from emocam.gui.workers import SourceInfo

MENUS = ("&File", "&Camera", "&View", "&Playback", "&Help")


@dataclass(frozen=True)
class ActionSpec:
    id: str
    title: str
    menu: str
    callback: Callable[..., Any]  # called with (window) or (window, checked)
    shortcut: str | QKeySequence.StandardKey | None = None
    checkable: bool = False
    setting: str | None = None  # AppSettings field that holds the checked state
    separator_before: bool = False
    after_choices: bool = False  # placed below the menu's submenus of choices


@dataclass(frozen=True)
class ChoiceSpec:
    """A submenu of mutually exclusive options bound to one AppSettings field."""

    id: str
    title: str
    menu: str
    options: Callable[[MainWindow], Sequence[tuple[str, Any]]]  # (label, value) pairs
    setting: str
    callback: Callable[[MainWindow, Any], Any]
    separator_before: bool = False
    # The value in force when it can differ from the saved setting (``--model`` holds for
    # one session without being saved); None: the setting is the value in force.
    in_force: Callable[[MainWindow], Any] | None = None


def provider_choices() -> list[tuple[str, str]]:
    """onnxruntime's execution providers here, fastest first, after the automatic choice."""
    names = ort.get_available_providers()
    return [("Automatic (fastest)", "")] + [
        (n.removesuffix("ExecutionProvider"), n) for n in names]


# Coarse jumps: (seconds in a video, photos in a folder, whose photos have no clock).
JUMPS: dict[str, tuple[float, int]] = {"short": (5.0, 10), "long": (60.0, 100)}
# What the jumps are called in a folder ("Forward 5 Seconds" would not say what they do).
PHOTO_TITLES: dict[str, str] = {
    "playback.forward": "&Forward 10 Photos",
    "playback.back": "&Back 10 Photos",
    "playback.forward_long": "Forward 100 &Photos",
    "playback.back_long": "Back 100 P&hotos",
}


def _back(jump: tuple[float, int]) -> tuple[float, int]:
    return -jump[0], -jump[1]


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("file.open_video", "Open &Video...", "&File",
               lambda w: w.opener.video_dialog(), QKeySequence.StandardKey.Open),
    ActionSpec("file.open_image", "Open &Image...", "&File",
               lambda w: w.opener.image_dialog(), "Ctrl+I"),
    ActionSpec("file.open_folder", "Open &Folder...", "&File", lambda w: w.opener.folder_dialog(),
               "Ctrl+Shift+O"),
    ActionSpec("file.open_sample", "Open the &Sample Video", "&File",
               lambda w: w.opener.open_sample()),
    ActionSpec("file.export", "&Export...", "&File", lambda w: w.exports.dialog(), "Ctrl+E",
               separator_before=True),
    ActionSpec("file.snapshot", "Save S&napshot", "&File", lambda w: w.snapshots.dialog(),
               QKeySequence.StandardKey.Save),
    ActionSpec("file.stream", "Stream Res&ults...", "&File", lambda w: w.feed.dialog()),
    ActionSpec("file.quit", "&Quit", "&File", lambda w: w.quit(),
               QKeySequence.StandardKey.Quit, separator_before=True),
    ActionSpec("camera.start", "&Start Camera", "&Camera", lambda w: w.opener.start_camera(),
               "Ctrl+K", separator_before=True),
    ActionSpec("camera.stop", "S&top", "&Camera", lambda w: w.stop(), "Ctrl+Shift+K"),
    ActionSpec("camera.search", "Search for &Cameras", "&Camera",
               lambda w: w.camera_search.probe()),
    ActionSpec("camera.record", "&Record", "&Camera", lambda w, on: w.recording.toggle(on),
               "Ctrl+R", checkable=True),
    ActionSpec("view.boxes", "Face &Boxes", "&View", lambda w, on: w.options.apply_overlay(),
               "B", checkable=True, setting="show_boxes"),
    ActionSpec("view.bars", "Emotion B&ars", "&View", lambda w, on: w.options.apply_overlay(),
               "A", checkable=True, setting="show_bars"),
    ActionSpec("view.landmarks", "&Landmarks", "&View", lambda w, on: w.options.apply_overlay(),
               "L", checkable=True, setting="show_landmarks"),
    ActionSpec("view.uncertain", "Mark &Uncertain Faces", "&View",
               lambda w, on: w.options.apply_overlay(), "U", checkable=True,
               setting="show_uncertain"),
    ActionSpec("view.blur_faces", "Blur Fa&ces", "&View",
               lambda w, on: w.options.set_privacy_view("blur_faces", on),
               checkable=True, setting="blur_faces", separator_before=True),
    ActionSpec("view.boxes_only", "B&oxes Only (no video)", "&View",
               lambda w, on: w.options.set_privacy_view("boxes_only", on), checkable=True,
               setting="boxes_only"),
    ActionSpec("view.perf_panel", "Performance Pa&nel", "&View",
               lambda w, on: w.perf_dock.setVisible(on), checkable=True,
               separator_before=True),
    ActionSpec("view.side_panel", "Side &Panel", "&View", lambda w, on: w.show_side_panel(on),
               "P", checkable=True, setting="show_side_panel"),
    ActionSpec("view.fullscreen", "&Full Screen", "&View",
               lambda w: w.placement.toggle_fullscreen(), "F11"),
    ActionSpec("view.model", "Choose &Model...", "&View", lambda w: w.models.choose_dialog(),
               separator_before=True),
    ActionSpec("view.reset", "&Reset to Defaults", "&View", lambda w: w.options.reset_to_defaults(),
               separator_before=True, after_choices=True),
    ActionSpec("playback.pause", "&Pause", "&Playback", lambda w, on: w.navigation.set_paused(on),
               "Space", checkable=True),
    ActionSpec("playback.restart", "&Restart", "&Playback", lambda w: w.navigation.seek(0), "Home"),
    ActionSpec("playback.end", "Go to &End", "&Playback", lambda w: w.navigation.go_to_end(),
               "End"),
    ActionSpec("playback.next", "&Next Frame", "&Playback", lambda w: w.navigation.step(1),
               "Right"),
    ActionSpec("playback.previous", "Pre&vious Frame", "&Playback", lambda w: w.navigation.step(-1),
               "Left"),
    # Coarse seeking as players offer it: Shift+arrow a few seconds (VLC's "very short
    # jump", mpv's and YouTube's arrows: 3-5 s), Ctrl+arrow a minute (VLC's "medium jump",
    # mpv's Up/Down). Not PageDown/PageUp: the face cards' list pages with them.
    ActionSpec("playback.forward", "&Forward 5 Seconds", "&Playback",
               lambda w: w.navigation.jump(*JUMPS["short"]), "Shift+Right", separator_before=True),
    ActionSpec("playback.back", "&Back 5 Seconds", "&Playback",
               lambda w: w.navigation.jump(*_back(JUMPS["short"])), "Shift+Left"),
    ActionSpec("playback.forward_long", "Forward 1 &Minute", "&Playback",
               lambda w: w.navigation.jump(*JUMPS["long"]), "Ctrl+Right"),
    ActionSpec("playback.back_long", "Back 1 M&inute", "&Playback",
               lambda w: w.navigation.jump(*_back(JUMPS["long"])), "Ctrl+Left"),
    ActionSpec("help.about", "&About emocam", "&Help", lambda w: w.models.about_dialog()),
)

CHOICES: tuple[ChoiceSpec, ...] = (
    ChoiceSpec("camera.device", "&Device", "&Camera",
               lambda w: camera_choices(w.cameras, w.settings.camera_index),
               "camera_index", lambda w, v: w.opener.start_camera(v)),
    ChoiceSpec("camera.resolution", "R&esolution", "&Camera",
               lambda w: [("Camera default", "default"), ("640 x 480", "640x480"),
                          ("1280 x 720", "1280x720"), ("1920 x 1080", "1920x1080")],
               "camera_resolution", lambda w, v: w.opener.restart_camera()),
    ChoiceSpec("view.smoothing", "&Smoothing", "&View",
               lambda w: [("Off", 0.0), ("Light (0.1 s)", 0.1), ("Normal (0.2 s)", 0.2),
                          ("Strong (0.5 s)", 0.5), ("Very Strong (1 s)", 1.0)],
               "smoothing_tau_s", lambda w, v: w.options.apply_pipeline_config(),
               separator_before=True),
    ChoiceSpec("view.threshold", "Detection &Threshold", "&View",
               lambda w: [("Permissive (0.3)", 0.3), ("Normal (0.5)", 0.5),
                          ("Strict (0.7)", 0.7)],
               "min_score", lambda w, v: w.options.apply_pipeline_config()),
    ChoiceSpec("view.detector", "&Detector", "&View",
               lambda w: [("MediaPipe BlazeFace", "mediapipe"), ("OpenCV Haar", "opencv")],
               "detector", lambda w, v: w.options.apply_pipeline_config()),
    ChoiceSpec("view.provider", "E&xecution Provider", "&View", lambda w: provider_choices(),
               "provider", lambda w, v: w.options.apply_pipeline_config()),
    ChoiceSpec("view.target_fps", "Tar&get Frame Rate", "&View",
               lambda w: [("Off (full detection)", 0.0), ("15 fps", 15.0), ("24 fps", 24.0),
                          ("30 fps", 30.0), ("60 fps", 60.0)],
               "target_fps", lambda w, v: w.options.apply_pipeline_config()),
    ChoiceSpec("view.builtin_model", "Built-&in Model", "&View",
               lambda w: w.models.builtin_choices(), "model_path",
               lambda w, v: w.models.set(v), in_force=lambda w: w.models.builtin_in_force()),
    ChoiceSpec("playback.speed", "&Speed", "&Playback",
               lambda w: [("0.25x", 0.25), ("0.5x", 0.5), ("1x", 1.0), ("2x", 2.0),
                          ("4x", 4.0)],
               "playback_speed", lambda w, v: w.options.apply_speed()),
)


def build_menus(window: MainWindow, bar: QMenuBar) -> dict[str, QAction]:
    """Create the menus; returns the actions by id for the window to enable/disable."""
    menus = {title: bar.addMenu(title) for title in MENUS}
    actions: dict[str, QAction] = {}
    for spec in (a for a in ACTIONS if not a.after_choices):
        menu = menus[spec.menu]
        if spec.id == "file.quit":
            window.recent_menu = menu.addMenu("Open &Recent")  # filled by gui.recent_menu
        if spec.separator_before:
            menu.addSeparator()
        actions[spec.id] = _make_action(window, menu, spec)
    for choice in CHOICES:
        menu = menus[choice.menu]
        if choice.separator_before:
            menu.addSeparator()
        sub = menu.addMenu(choice.title)
        sub.setObjectName(choice.id)
        sub.aboutToShow.connect(lambda c=choice, m=sub: fill_choice_menu(window, m, c))
        fill_choice_menu(window, sub, choice)
    for spec in (a for a in ACTIONS if a.after_choices):
        menu = menus[spec.menu]
        if spec.separator_before:
            menu.addSeparator()
        actions[spec.id] = _make_action(window, menu, spec)
    return actions


def _make_action(window: MainWindow, menu: QMenu, spec: ActionSpec) -> QAction:
    action = QAction(spec.title, window)
    action.setObjectName(spec.id)
    if spec.shortcut is not None:
        action.setShortcut(QKeySequence(spec.shortcut))
    if spec.checkable:
        action.setCheckable(True)
        if spec.setting:
            action.setProperty("setting", spec.setting)  # for View > Reset to Defaults
            action.setChecked(bool(getattr(window.settings, spec.setting)))

        def toggled(on: bool, s: ActionSpec = spec) -> None:
            if s.setting:
                setattr(window.settings, s.setting, on)
            s.callback(window, on)

        action.toggled.connect(toggled)
    else:
        action.triggered.connect(lambda _=False, s=spec: s.callback(window))
    menu.addAction(action)
    return action


def update_enabled(actions: dict[str, QAction], info: SourceInfo | None, running: bool,
                   has_frame: bool, photos: bool) -> None:
    """Enable what makes sense for what plays (``info``; ``running``: its worker runs):
    Stop and Pause while a video or camera runs, Record for a camera, Export and moving
    about for a file, Snapshot once a frame shows."""
    live = bool(info and info.is_live)
    is_file = bool(info and not info.is_live)
    still = bool(info and info.frame_count == 1)
    running = running and not still
    actions["camera.stop"].setEnabled(running)
    actions["camera.record"].setEnabled(live)
    actions["file.export"].setEnabled(is_file)
    actions["file.snapshot"].setEnabled(has_frame)
    actions["playback.pause"].setEnabled(running)
    for name in ("playback.restart", "playback.next", "playback.previous", *PHOTO_TITLES):
        actions[name].setEnabled(is_file and not still)
    title_jumps(actions, photos)


def title_jumps(actions: dict[str, QAction], photos: bool) -> None:
    """Name the coarse jumps in photos for a folder, in seconds for a video."""
    for spec in ACTIONS:
        if spec.id in PHOTO_TITLES:
            actions[spec.id].setText(PHOTO_TITLES[spec.id] if photos else spec.title)


def run_shortcut(actions: dict[str, QAction], keys: QKeySequence) -> bool:
    """Run the enabled action whose shortcut is ``keys`` (a key pressed on a control that
    stands for a window's key); whether there was one."""
    for action in actions.values():
        if action.isEnabled() and not action.shortcut().isEmpty() and action.shortcut() == keys:
            action.trigger()
            return True
    return False


def set_checked_quietly(action: QAction, checked: bool) -> None:
    """Show ``checked`` without calling the action's callback (the state changed elsewhere:
    a failure, a reset)."""
    if action.isChecked() != checked:
        action.blockSignals(True)
        action.setChecked(checked)
        action.blockSignals(False)


def fill_choice_menu(window: MainWindow, menu: QMenu, choice: ChoiceSpec) -> None:
    menu.clear()
    group = QActionGroup(menu)
    current = (choice.in_force(window) if choice.in_force is not None
               else getattr(window.settings, choice.setting))
    for label, value in choice.options(window):
        action = menu.addAction(label)
        action.setCheckable(True)
        action.setChecked(value == current)
        group.addAction(action)

        def chosen(_=False, v: Any = value) -> None:
            setattr(window.settings, choice.setting, v)
            choice.callback(window, v)

        action.triggered.connect(chosen)
