"""The numbers of a run, kept so it can be re-analysed without running any model again.

``emocam process`` writes ``NAME.emocam.npz`` next to its CSV: for every face in every frame
the track id, box, detector score, keypoints, quality measures and the classifier's raw
(calibrated, unsmoothed) probabilities, plus a JSON header (class names, model, detector,
fps, frame size, source path and the settings used). Everything is a plain numeric or
string array, so ``numpy.load(path, allow_pickle=False)`` reads it and no code can hide in
it. It holds no pixels: it is safe to keep when frames are not (``--no-frames``).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocam.errors import OutputError, SourceError
from emocam.types import FaceQuality, FrameResult

log = logging.getLogger(__name__)

FORMAT = "emocam-sidecar"
VERSION = 1
SUFFIX = ".npz"
MAX_KEYPOINTS = 6  # BlazeFace gives six; other detectors fewer (padded with NaN)

_FACE_ARRAYS = (
    "frame", "time_ms", "face_id", "box", "score", "keypoints", "raw_probs", "size_px",
    "sharpness", "turn",
)
_FRAME_ARRAYS = ("frame_index", "frame_time_ms", "frame_file")


class SidecarWriter:
    """Collects the numbers of each frame and writes them once, atomically, on close.

    A run of an hour with four faces at 30 fps holds ~40 MB here; that buys one compressed
    file that is never seen half-written.
    """

    def __init__(self, path: Path, header: dict[str, Any]):
        self.path = Path(path)
        self.header = dict(header, format=FORMAT, version=VERSION)
        self.class_names = tuple(self.header["class_names"])
        self._frames: list[tuple[int, float, str, int]] = []
        self._faces: dict[str, list[Any]] = {k: [] for k in _FACE_ARRAYS}

    def add(self, result: FrameResult, file: str = "") -> None:
        fr = result.frame
        self._frames.append((fr.index, fr.time_ms, file, result.shot))
        for face in result.faces:
            q = face.quality or FaceQuality(max(face.box[2], face.box[3]), math.nan, math.nan)
            kps = np.full((MAX_KEYPOINTS, 2), np.nan, np.float32)
            if face.keypoints:
                pts = np.asarray(face.keypoints[:MAX_KEYPOINTS], np.float32)
                kps[: len(pts)] = pts
            # A copy: the classifier's row may be a view that keeps its whole batch alive.
            raw = np.array(face.raw_probs, np.float32)
            row = (fr.index, fr.time_ms, face.face_id, face.box, face.score, kps,
                   raw, q.size_px, q.sharpness, q.turn)
            for key, value in zip(_FACE_ARRAYS, row, strict=True):
                self._faces[key].append(value)

    def _arrays(self) -> dict[str, np.ndarray]:
        n_classes = len(self.class_names)
        f = self._faces
        frames = self._frames
        return {
            "header": np.array(json.dumps(self.header)),
            "frame_index": np.array([f[0] for f in frames], np.int64),
            "frame_time_ms": np.array([f[1] for f in frames], np.float64),
            "frame_file": np.array([f[2] for f in frames], dtype=str),
            "frame_shot": np.array([f[3] for f in frames], np.int64),
            "frame": np.array(f["frame"], np.int64),
            "time_ms": np.array(f["time_ms"], np.float64),
            "face_id": np.array(f["face_id"], np.int64),
            "box": np.array(f["box"], np.float64).reshape(-1, 4),
            "score": np.array(f["score"], np.float32),
            "keypoints": np.array(f["keypoints"], np.float32).reshape(-1, MAX_KEYPOINTS, 2),
            # float32 as the classifier gives them: a re-analysis smooths the same numbers.
            "raw_probs": np.array(f["raw_probs"], np.float32).reshape(-1, n_classes),
            "size_px": np.array(f["size_px"], np.float32),
            "sharpness": np.array(f["sharpness"], np.float32),
            "turn": np.array(f["turn"], np.float32),
        }

    def close(self, completed: bool) -> None:
        """Write the file. A failure is an ``OutputError`` after a completed run; after a
        failed one it is only logged, so the error that stopped the run stays the one shown."""
        self.header["completed"] = completed
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **self._arrays())
            os.replace(tmp, self.path)
        except OSError as e:
            message = (f"The sidecar {self.path} could not be written ({e.strerror or e}); "
                       "the CSV and JSON are complete, only --reanalyse needs it")
            if completed:
                raise OutputError(f"{message}.") from e
            log.info("%s", message)
        finally:
            tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Sidecar:
    """A loaded sidecar: its header and its arrays (see ``SidecarWriter``)."""

    path: Path
    header: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.header["class_names"])

    @property
    def source(self) -> Path:
        return Path(self.header["source"])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


def _bad(path: Path, why: str) -> SourceError:
    return SourceError(f"{path} is not an emocam sidecar ({why}); give the .emocam.npz file "
                       "that `emocam process` wrote.")


def load_sidecar(path: Path) -> Sidecar:
    """Read a sidecar without unpickling anything; one-sentence errors for a wrong file."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"The sidecar {path} does not exist; give the .emocam.npz file that "
                          "`emocam process` wrote.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as e:
        raise _bad(path, "it cannot be read as a .npz file") from e
    missing = [k for k in ("header", *_FRAME_ARRAYS, *_FACE_ARRAYS) if k not in arrays]
    if missing:
        raise _bad(path, f"it lacks {', '.join(missing)}")
    try:
        header = json.loads(str(arrays.pop("header")))
    except json.JSONDecodeError as e:
        raise _bad(path, "its header is not JSON") from e
    if header.get("format") != FORMAT:
        raise _bad(path, "its header names another format")
    if int(header.get("version", 0)) > VERSION:
        raise SourceError(f"The sidecar {path} was written by a newer emocam (format "
                          f"{header['version']}); update emocam to re-analyse it.")
    if arrays["raw_probs"].shape[1:] != (len(header.get("class_names", ())),):
        raise _bad(path, "its probabilities do not match its class names")
    # frame_shot came later in version 1: a sidecar without it reads as one shot.
    n_frames = len(arrays["frame_index"])
    arrays.setdefault("frame_shot", np.zeros(n_frames, np.int64))
    if arrays["frame_shot"].shape != (n_frames,):
        raise _bad(path, "its shot numbers do not match its frames")
    return Sidecar(path, header, arrays)
