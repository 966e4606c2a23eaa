"""Checks a sidecar's header and arrays before a re-analysis uses them.

A sidecar is a file a user may keep, copy, edit or receive, so nothing in it is trusted: a
wrong type, a missing key, arrays of mismatched lengths, NaN or absurd boxes would otherwise
surface as one of a dozen exceptions deep inside the re-analysis. Each problem is one reason,
which ``emocam.sidecar`` puts in one sentence naming the file.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import numpy as np

from emocam import read_notes
from emocam.quality import QualityConfig

MAX_COORD = 1e6  # pixels: far beyond any frame; a larger box is damage, not a face
_KINDS = ("video", "image", "folder", "camera")
_QUALITY_KEYS = {f.name for f in fields(QualityConfig)} - {"uncertain_below"}

# name -> (numpy kind letters allowed, dimensions after the first, NaN allowed)
_FRAME_SPECS: dict[str, tuple[str, tuple[int, ...], bool]] = {
    "frame_index": ("iu", (), False),
    "frame_time_ms": ("fiu", (), False),
    "frame_file": ("U", (), False),
    "frame_shot": ("iu", (), False),
    "frame_print": ("U", (), False),
}
_FACE_SPECS: dict[str, tuple[str, tuple[int, ...], bool]] = {
    "frame": ("iu", (), False),
    "time_ms": ("fiu", (), False),
    "face_id": ("iu", (), False),
    "box": ("fiu", (4,), False),
    "score": ("fiu", (), False),
    "keypoints": ("fiu", (-1, 2), True),  # padded with NaN where a detector gives fewer
    "raw_probs": ("fiu", (-1,), False),
    "size_px": ("fiu", (), True),  # NaN: not measured
    "sharpness": ("fiu", (), True),
    "turn": ("fiu", (), True),
}


class Bad(ValueError):
    """What is wrong with a sidecar, as the reason in its one-sentence error."""


def _number(value: Any, key: str, lo: float = -math.inf, hi: float = math.inf,
            optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Bad(f"its header's {key} is not a number")
    if not lo <= value <= hi:
        raise Bad(f"its header's {key} is out of range")


def check_header(header: Any) -> None:
    """Every header value a re-analysis reads, of the right type and in range."""
    if not isinstance(header, dict):
        raise Bad("its header is not a JSON object")
    names = header.get("class_names")
    if (not isinstance(names, list) or len(names) < 2
            or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names)):
        raise Bad("its header's class_names are not two or more distinct names")
    if not isinstance(header.get("source"), str) or not header["source"]:
        raise Bad("its header names no source")
    if header.get("input_kind", "video") not in _KINDS:
        raise Bad("its header's input_kind is unknown")
    _number(header.get("fps"), "fps", 1e-3, 1e4)
    _number(header.get("video_fps"), "video_fps", 1e-3, 1e4)
    _number(header.get("min_score"), "min_score", 0.0, 1.0)
    _number(header.get("smoothing_tau_s"), "smoothing_tau_s", 0.0, 1e4)
    _number(header.get("uncertain_below"), "uncertain_below", 0.0, 1.0)
    _number(header.get("target_fps"), "target_fps", 0.0, 1e4)
    _number(header.get("first_frame_ms"), "first_frame_ms", 0.0, 1e10)
    accuracy = header.get("model_accuracy")
    if accuracy is not None:
        if not isinstance(accuracy, dict):
            raise Bad("its header's model_accuracy is not a table")
        _number(accuracy.get("test_accuracy"), "test_accuracy", 0.0, 1.0)
        _number(accuracy.get("test_images"), "test_images", 0, 1e9)
        for key in ("test_protocol", "test_set"):
            if accuracy.get(key) is not None and not isinstance(accuracy[key], str):
                raise Bad(f"its header's {key} is not text")
    size = header.get("frame_size")
    if size is not None and not (
        isinstance(size, list) and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_COORD
                for v in size)
    ):
        raise Bad("its header's frame_size is not a width and a height")
    quality = header.get("quality", {})
    if not isinstance(quality, dict) or not set(quality) <= _QUALITY_KEYS:
        raise Bad("its header's quality settings are not emocam's")
    for key, value in quality.items():
        _number(value, f"quality {key}", 0.0, MAX_COORD, optional=False)
    for key in ("model", "model_path", "provider", "detector", "source_print",
                read_notes.WARNING):
        if header.get(key) is not None and not isinstance(header[key], str):
            raise Bad(f"its header's {key} is not text")
    _check_read_notes(header)


def _check_read_notes(header: dict[str, Any]) -> None:
    """What the run could not read: photos with their reasons, photo names (none in a
    sidecar from before they were kept)."""
    skipped = header.get(read_notes.SKIPPED, {})
    if not isinstance(skipped, dict) or not all(isinstance(v, str) for v in skipped.values()):
        raise Bad(f"its header's {read_notes.SKIPPED} are not photos with their reasons")
    first = header.get(read_notes.FIRST_PICTURE_ONLY, [])
    if not isinstance(first, list) or not all(isinstance(v, str) for v in first):
        raise Bad(f"its header's {read_notes.FIRST_PICTURE_ONLY} are not photo names")


def _check_array(key: str, a: np.ndarray, n: int, spec: tuple[str, tuple[int, ...], bool],
                 n_classes: int) -> None:
    kinds, tail, nan_ok = spec
    tail = tuple(n_classes if d == -1 and key == "raw_probs" else d for d in tail)
    if a.dtype.kind not in kinds:
        raise Bad(f"its {key} array holds {a.dtype} values")
    if a.ndim != 1 + len(tail) or len(a) != n or any(
        want not in (-1, got) for want, got in zip(tail, a.shape[1:], strict=True)
    ):
        raise Bad(f"its {key} array has the shape {a.shape}, which does not fit the others")
    if a.dtype.kind == "f":
        values = a[~np.isnan(a)] if nan_ok else a
        if not np.isfinite(values).all():
            raise Bad(f"its {key} array holds values that are not finite")
        if np.abs(values).max(initial=0.0) > MAX_COORD * 1e3:
            raise Bad(f"its {key} array holds values far out of range")


def check_arrays(arrays: dict[str, np.ndarray], n_classes: int) -> None:
    """Types, shapes and values of every array, and their lengths against each other."""
    n_frames = len(arrays["frame_index"]) if arrays["frame_index"].ndim else -1
    n_faces = len(arrays["frame"]) if arrays["frame"].ndim else -1
    probs = arrays["raw_probs"]
    if probs.ndim == 2 and probs.shape[1] != n_classes:
        # Said as the two disagree (it was "raw_probs has the shape (134, 8)").
        raise Bad(f"its header names {n_classes} classes, and its probabilities hold "
                  f"{probs.shape[1]}")
    for key, spec in _FRAME_SPECS.items():
        _check_array(key, arrays[key], n_frames, spec, n_classes)
    for key, spec in _FACE_SPECS.items():
        _check_array(key, arrays[key], n_faces, spec, n_classes)
    if len(np.unique(arrays["frame_index"])) != n_frames:
        raise Bad("its frames are recorded more than once")
    # Every source emocam reads numbers its frames and stamps their times in order, and a
    # re-analysis smooths over the time between frames: frames or times out of order (an
    # edited or spliced file) gave a CSV whose first frame came at the end of the video.
    if (np.diff(arrays["frame_index"]) <= 0).any() or (np.diff(arrays["frame"]) < 0).any():
        raise Bad("its frames are not in order")
    if (np.diff(arrays["frame_time_ms"]) < 0).any():
        raise Bad("its frame times go backwards")
    if (arrays["frame_index"] < 0).any() or (arrays["frame_shot"] < 0).any():
        raise Bad("its frame numbers are negative")
    if not np.isin(arrays["frame"], arrays["frame_index"]).all():
        # Faces of frames it does not record were left out unsaid ("No face was found").
        raise Bad("its faces belong to frames it does not record")
    at = np.searchsorted(arrays["frame_index"], arrays["frame"])
    if (arrays["time_ms"] != arrays["frame_time_ms"][at]).any():
        raise Bad("its faces' times are not their frames' times")
    if np.abs(arrays["box"]).max(initial=0.0) > MAX_COORD:
        raise Bad("its face boxes lie far outside any frame")
    if ((probs < 0) | (probs > 1)).any():
        raise Bad("its probabilities are not between 0 and 1")
    if ((arrays["score"] < 0) | (arrays["score"] > 1)).any():
        raise Bad("its detection scores are not between 0 and 1")
