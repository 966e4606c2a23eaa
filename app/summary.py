"""The JSON summary of a run: per-face statistics and the run's facts, written atomically.

A checkpoint with ``completed: false`` is written while the run goes on, so even a killed run
leaves a readable summary.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emocam import atomic
from emocam.errors import OutputError
from emocam.frame_steps import FrameSteps
from emocam.jsonread import read_object
from emocam.read_notes import ReadNotes
from emocam.staging import no_space_hint, write_target, writes_in_place
from emocam.types import FrameResult

log = logging.getLogger(__name__)


def _finite(data: Any) -> Any:
    """``data`` with NaN and infinities as None: JSON has no NaN, and a broken model or a
    0/0 must not make the summary unreadable for strict parsers."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def write_json_atomic(path: Path, data: Any, what: str = "summary") -> None:
    """Write JSON to a temporary file beside ``path`` and rename it over, so a reader never
    sees half a file. ``what``: the file's name in a failure's sentence."""
    path = Path(path)
    if writes_in_place(path):
        try:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(_finite(data), fh, indent=2, sort_keys=False, allow_nan=False)
                fh.write("\n")
        except OSError as e:
            raise OutputError(f"The {what} {path} could not be written "
                              f"({no_space_hint(e)}).") from e
        return
    try:
        with atomic.replacing(path, durable=True) as fh:
            json.dump(_finite(data), fh, indent=2, sort_keys=False, allow_nan=False)
            fh.write("\n")
    except OSError as e:
        raise OutputError(f"The {what} {path} could not be written ({no_space_hint(e)}).") from e


class _FaceStats:
    __slots__ = ("file", "first_ms", "frames", "label_counts", "label_ms", "last_box", "last_ms",
                 "prob_sum", "shot", "uncertain")

    def __init__(self, n_classes: int, time_ms: float, shot: int, file: str | None):
        self.shot = shot  # a cut starts new faces, so each face lives in one shot
        self.file = file  # a folder's photo: each photo's faces are its own (new ids)
        self.last_box: tuple[float, ...] = ()
        self.frames = 0
        self.label_counts = np.zeros(n_classes, np.int64)
        # How long each label was on screen, ms: each frame lasts until the next one, and a
        # variable-rate video's frames do not last alike (a still part's frame, seconds).
        self.label_ms = np.zeros(n_classes, np.float64)
        self.prob_sum = np.zeros(n_classes, np.float64)
        self.first_ms = time_ms
        self.last_ms = time_ms
        self.uncertain: dict[str, int] = {}


def summary_completed(path: Path) -> bool | None:
    """Whether the summary at ``path`` says its run completed; None where none is readable."""
    if writes_in_place(path):
        # /dev/stdout into a pipe opens the pipe's reading end: reading it waited for good.
        return None
    completed = (read_object(path) or {}).get("completed")
    return completed if isinstance(completed, bool) else None


class JsonSummary:
    """Per-face statistics over a run plus the run's facts, written atomically.

    While the run goes on, a checkpoint with ``completed: false`` is written after the first
    frame and then every ``CHECKPOINT_S``, so even a killed run leaves a readable summary (beside
    the old one, under the partial name, when an existing summary is being replaced).
    """

    CHECKPOINT_S = 5.0

    def __init__(self, path: Path, class_names: Sequence[str], run_info: dict[str, Any],
                 photos: Sequence[str] | None = None):
        """``photos``: a folder's photo names, for its faces' files and the photos skipped."""
        self.path = Path(path)
        self._photos = list(photos) if photos is not None else None
        self._seen: dict[str, bool] = {}  # a folder's photos read, in order: with a face?
        # What of the input could not be read: known at the end (RunSinks.finish sets it).
        self.read_notes = ReadNotes()
        # None: a device or a pipe, which gets the one final summary and no checkpoints.
        self._checkpoint_path = (None if writes_in_place(self.path) else
                                 write_target(self.path) or self.path)
        self._checkpoint_at: float | None = None
        self.class_names = tuple(class_names)
        self.run_info = dict(run_info)
        self._faces: dict[int, _FaceStats] = {}
        self.frames = 0
        self.frames_with_faces = 0
        self._timing_sum: dict[str, float] = {}
        self._shots: list[dict[str, Any]] = []
        self._schedules: dict[Any, int] = {}  # ScheduleConfig -> frames processed with it
        self.partial_outputs: dict[str, str] | None = None  # what an unfinished run names
        self.faces_left_out = False  # set by write_stopped: the disk had room for no more
        # The latest frame's faces and labels wait for the next frame to say how long they
        # lasted (the last frame: as long as FrameSteps says).
        self._latest: list[tuple[_FaceStats, int]] = []
        self._steps = FrameSteps()

    def add(self, result: FrameResult) -> None:
        self._add(result)
        if self._checkpoint_path is None:
            return
        now = time.monotonic()
        if self._checkpoint_at is None or now - self._checkpoint_at >= self.CHECKPOINT_S:
            self._checkpoint_at = now
            write_json_atomic(self._checkpoint_path, self.as_dict(False))

    def _add(self, result: FrameResult) -> None:
        self.frames += 1
        if result.faces:
            self.frames_with_faces += 1
        for stage, ms in result.timings_ms.items():
            self._timing_sum[stage] = self._timing_sum.get(stage, 0.0) + ms
        if result.schedule is not None:
            self._schedules[result.schedule] = self._schedules.get(result.schedule, 0) + 1
        t = result.frame.time_ms
        step = self._steps.add(t)
        for st, label in self._latest:
            st.label_ms[label] += step or 0.0
        self._latest = []
        file = Path(result.frame.source).name if self._photos is not None else None
        if file is not None:
            self._seen[file] = self._seen.get(file, False) or bool(result.faces)
        if not self._shots or result.shot != self._shots[-1]["shot"]:
            self._shots.append({"shot": result.shot, "first_frame": result.frame.index,
                                "first_time_ms": round(t, 1)})
        for face in result.faces:
            st = self._faces.get(face.face_id)
            if st is None:
                st = self._faces[face.face_id] = _FaceStats(len(self.class_names), t,
                                                            result.shot, file)
            st.frames += 1
            st.last_box = tuple(face.box)
            st.label_counts[face.top_index] += 1
            self._latest.append((st, face.top_index))
            st.prob_sum += face.probs
            st.last_ms = t
            if face.uncertain:
                st.uncertain[face.uncertain] = st.uncertain.get(face.uncertain, 0) + 1

    def _per_class(self, values: np.ndarray) -> dict[str, float]:
        return {n: round(float(v), 4) for n, v in zip(self.class_names, values, strict=True)}

    def _share_of_time(self, st: _FaceStats) -> np.ndarray:
        on_screen = st.label_ms.copy()
        for latest, label in self._latest:
            if latest is st:
                on_screen[label] += self._steps.last_frame_ms()
        total = on_screen.sum()
        # Frames with no time between them (one photo, a clock that stands still) count alike.
        return on_screen / total if total > 0 else st.label_counts / max(1, st.frames)

    def _face_dict(self, st: _FaceStats) -> dict[str, Any]:
        share = self._share_of_time(st)
        mean = st.prob_sum / max(1, st.frames)
        where = {"file": st.file} if st.file is not None else {}
        return {
            **where,
            "shot": st.shot,
            "frames": st.frames,
            "first_time_ms": round(st.first_ms, 1),
            "last_time_ms": round(st.last_ms, 1),
            "top_label": self.class_names[int(np.argmax(share))],
            "share_of_time": self._per_class(share),
            "mean_probabilities": self._per_class(mean),
            "uncertain_frames": sum(st.uncertain.values()),
            "uncertain_reasons": dict(sorted(st.uncertain.items())),
            # x, y, w, h in pixels where it was last seen: tells a photo's faces apart.
            "last_box": [round(float(v), 1) for v in st.last_box],
        }

    def as_dict(self, completed: bool, **extra: Any) -> dict[str, Any]:
        timings = {k: round(v / max(1, self.frames), 3) for k, v in self._timing_sum.items()}
        # A set written under partial names beside an old one names its own files until it
        # completes (and is renamed into place), never the old set's.
        outputs = ({} if completed or self.partial_outputs is None
                   else {"outputs": self.partial_outputs})
        # A re-analysis of a run that stopped early ran to its end, and still covers only what
        # that run read: not the whole input, which is what "completed" tells a script.
        whole = completed and self.run_info.get("recorded_completed") is not False
        warning = self.read_notes.warning
        return {
            "completed": whole,
            **self.run_info,
            **outputs,
            **({"input_warning": warning} if warning else {}),
            **extra,
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "class_names": list(self.class_names),
            "mean_timings_ms": timings,
            # Where each shot of a video begins (one entry when it has no hard cut).
            "shots": self._shots,
            **self._photo_account(whole),
            **self._detection(),
            "faces": {str(k): self._face_dict(v) for k, v in sorted(self._faces.items())},
        }

    def _photo_account(self, whole: bool) -> dict[str, Any]:
        """What became of each photo of a folder read whole: those that could not be read
        and why (named on stderr as they were met), those read in part, those without a face;
        the others have faces, named in ``faces``. Before the end, the photos not reached yet
        are none of these."""
        if self._photos is None or not whole:
            return {}
        known = self.read_notes.skipped
        # A name left out of the list (not UTF-8) is still a photo of the folder.
        photos = list(dict.fromkeys([*self._photos, *known]))
        skipped = {n: known.get(n, "could not be read") for n in photos if n not in self._seen}
        return {"photos": len(photos),
                "photos_skipped": list(skipped),
                "photos_skipped_reasons": skipped,
                "photos_first_picture_only": list(self.read_notes.first_picture_only),
                "photos_without_faces": [n for n, faces in self._seen.items() if not faces]}

    def _detection(self) -> dict[str, Any]:
        """How much detection the frames got: with --target-fps it varies, and a reader of
        the numbers should know how many frames had their faces only followed."""
        if not self._schedules:
            return {}  # a re-analysis: no detector ran
        from emocam.schedule import describe  # the detector's modules, loaded by then

        counts: dict[str, int] = {}
        for cfg, n in self._schedules.items():
            key = describe(cfg)
            counts[key] = counts.get(key, 0) + n
        return {"detection": [{"schedule": k, "frames": n} for k, n in counts.items()]}

    def write(self, completed: bool, **extra: Any) -> None:
        write_json_atomic(self.path, self.as_dict(completed, **extra))
        if self._checkpoint_path not in (None, self.path):
            self._checkpoint_path.unlink(missing_ok=True)

    def write_stopped(self, **extra: Any) -> bool:
        """The final summary (``completed: false``) of a run an output's error stopped, as a
        disk that filled has room for. The last checkpoint goes first: it counts the frames
        of its time and names files never written, so left beside the outputs it contradicted
        them, and its space may be all there is. If the whole summary does not fit, it is
        written without the faces' statistics (``faces`` empty, ``faces_left_out`` their
        number). False: not even that fit, and no summary is left."""
        data = self.as_dict(False, **extra)
        if self._checkpoint_path is not None:
            self._checkpoint_path.unlink(missing_ok=True)
        short = {**data, "faces": {}, "faces_left_out": len(data["faces"])}
        for attempt in (data, short):
            try:
                write_json_atomic(self.path, attempt)
            except OutputError as e:
                log.info("%s", e)
            else:
                self.faces_left_out = attempt is short
                return True
        return False
