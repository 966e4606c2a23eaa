"""Typed, schema-versioned application settings stored with QSettings.

The window reads one :class:`AppSettings` at start and writes it back when it closes or an
option changes; nothing else touches QSettings, so tests isolate settings by pointing
:func:`make_qsettings` at a temporary file.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from PySide6.QtCore import QByteArray, QSettings

from emocam.encoders import DEFAULT_VIDEO_CODEC, VIDEO_CODECS
from emocam.track import DEFAULT_TAU_S
from emocam.types import DEFAULT_MIN_SCORE

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ORGANIZATION = "emocam"
APPLICATION = "emocam"
MAX_RECENT = 8

# Tests set this to a file path so they never read or write a user's settings.
settings_file_override: str | None = None


SIDE_PANEL_WIDTH = 310  # px: room for a face card's label and percentage


@dataclass
class AppSettings:
    camera_index: int = 0
    camera_resolution: str = "640x480"  # "WxH" or "default"
    show_boxes: bool = True
    show_bars: bool = True
    show_landmarks: bool = False
    show_side_panel: bool = True
    side_panel_width: int = SIDE_PANEL_WIDTH  # as the user left it, not as a squeeze left it
    show_uncertain: bool = True  # doubtful faces grey and "uncertain" instead of a label
    blur_faces: bool = False
    boxes_only: bool = False
    smoothing_tau_s: float = DEFAULT_TAU_S
    min_score: float = DEFAULT_MIN_SCORE
    target_fps: float = 0.0  # 0 = detect in full on every frame, however long it takes
    detector: str = "mediapipe"
    provider: str = ""  # "" = let onnxruntime pick the fastest
    model_path: str = ""  # "" = automatic: emocam.classify.default_model_for the provider
    playback_speed: float = 1.0
    recent_files: list[str] = field(default_factory=list)
    last_dir: str = ""  # the folder of the file opened last: where the Open dialogs start
    export_dir: str = ""  # File > Export: the folder exported to last; "" = beside the source
    record_dir: str = ""  # "" = the system's Videos folder
    export_codec: str = DEFAULT_VIDEO_CODEC  # one of emocam.encoders.VIDEO_CODECS
    stream_url: str = ""  # File > Stream Results: the last address (the feed starts off)
    geometry: QByteArray | None = None
    window_state: QByteArray | None = None

    def add_recent(self, path: str) -> None:
        self.recent_files = [path] + [p for p in self.recent_files if p != path]
        del self.recent_files[MAX_RECENT:]


# What View > Reset to Defaults keeps: history and layout, not options.
_KEPT_ON_RESET = ("recent_files", "last_dir", "export_dir", "record_dir", "geometry",
                  "window_state", "side_panel_width", "camera_index")


def reset_keeping_history(settings: AppSettings) -> None:
    """Every option back to its default; recent files, folders and the window's layout kept.
    In place: the window's parts (export, recording, the live feed) hold this object."""
    fresh = AppSettings(**{k: getattr(settings, k) for k in _KEPT_ON_RESET})
    for f in fields(AppSettings):
        setattr(settings, f.name, getattr(fresh, f.name))


def non_defaults(settings: AppSettings, model_name: str = "") -> str:
    """The remembered choices a user may not expect on the next start: a model (named
    ``model_name`` when one is chosen), a target frame rate and a playback speed (a video
    at half speed looked like a slow machine); "" when none."""
    parts = [f"model: {model_name}"] if model_name else []
    if settings.target_fps:
        parts.append(f"target {settings.target_fps:g} fps")
    if settings.playback_speed != 1.0:
        parts.append(f"speed {settings.playback_speed:g}x")
    return " · ".join(parts)


def make_qsettings() -> QSettings:
    if settings_file_override:
        return QSettings(settings_file_override, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                     ORGANIZATION, APPLICATION)


def _coerce(value: object, default: object) -> object:
    """QSettings returns strings from INI files; turn them back into the default's type."""
    if value is None:
        return default
    if default is None:
        return value
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value]  # type: ignore[union-attr]
    return str(value)


def _within(low: float, high: float) -> Callable[[object], bool]:
    return lambda v: isinstance(v, (int, float)) and math.isfinite(v) and low <= v <= high


# What a value read back must be for the window to run on it. The file is a user's to edit
# (or a crash's to cut): a speed of 0 divided by zero at the first frame, a resolution "hd"
# stopped the camera, a min_score of 7 found no face, all without a word.
_SANE: dict[str, Callable[[object], bool]] = {
    "camera_index": _within(0, 63),
    "camera_resolution": lambda v: v == "default" or bool(
        re.fullmatch(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}", str(v))),
    "side_panel_width": _within(1, 10_000),
    "smoothing_tau_s": _within(0.0, 10.0),
    "min_score": _within(0.0, 1.0),
    "target_fps": _within(0.0, 1000.0),
    "detector": lambda v: v in ("mediapipe", "opencv"),
    "playback_speed": _within(0.05, 16.0),
    "export_codec": lambda v: v in VIDEO_CODECS,
}


def load_settings(qs: QSettings | None = None) -> AppSettings:
    qs = qs or make_qsettings()
    settings = AppSettings()
    stored = qs.value("schema", None)
    if stored is None:
        return settings
    if str(stored).strip() != str(SCHEMA_VERSION):
        # A different schema may mean different meanings; start clean rather than guess.
        log.warning("The settings file %s is of another version (%s); using the defaults.",
                    qs.fileName(), stored)
        return settings
    for f in fields(AppSettings):
        if not qs.contains(f.name):
            continue
        default = getattr(settings, f.name)
        try:
            value = _coerce(qs.value(f.name), default)
        except (TypeError, ValueError):
            value = None
        if value is None or not _SANE.get(f.name, lambda _: True)(value):
            log.warning("The setting %s=%s in %s cannot be used; using %s instead.",
                        f.name, qs.value(f.name), qs.fileName(), default)
            continue
        setattr(settings, f.name, value)
    return settings


def save_settings(settings: AppSettings, qs: QSettings | None = None) -> None:
    qs = qs or make_qsettings()
    qs.setValue("schema", SCHEMA_VERSION)
    for f in fields(AppSettings):
        name, value = f.name, getattr(settings, f.name)
        if value is None:
            qs.remove(name)
        else:
            qs.setValue(name, value)
    qs.sync()
