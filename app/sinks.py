"""Where results go: an annotated video, a per-frame CSV and a JSON summary.

Every sink writes as it goes and closes cleanly, so a run stopped half-way leaves a playable
video, a valid CSV and a summary that says ``completed: false``. A file that already exists
(``--overwrite``) is never half-overwritten: the new one is written beside it under a hidden
``.NAME.partial`` name and renamed over it when closed, so a crash leaves the old file intact
and the rows so far in the partial one (a kill that lands inside a write may cut the last
row short: Linux can stop a write at a page boundary). A write that fails (disk full) is one
``OutputError`` naming the file, and the CSV is cut back to its last complete row.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import math
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emocam import atomic, columns
from emocam.audio import add_audio
from emocam.encoders import DEFAULT_VIDEO_CODEC, Encoder, open_encoder
from emocam.errors import OutputError
from emocam.frame_steps import FrameSteps
from emocam.inputs import shown_name, utf8_named
from emocam.jsonread import read_object
from emocam.locks import being_written_by, held_sentence
from emocam.types import FrameResult

log = logging.getLogger(__name__)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: Path, inputs: Iterable[Path] = (), overwrite: bool = False,
                 unfinished: bool = False) -> None:
    """Refuse to write onto an input, or onto an existing file unless ``overwrite``
    (``unfinished``: the file is of a run that did not finish, which --resume redoes)."""
    for src in inputs:
        if _same_file(path, src) or path.resolve() == src.resolve():
            raise OutputError(
                f"The output {path} is the input file itself; choose another output name."
            )
    if path.is_dir():
        raise OutputError(f"The output {path} is a folder; give a file name instead.")
    if not utf8_named(path):
        # OpenCV, which reads the annotated video back, ended the process on such a name.
        raise OutputError(f"The output {shown_name(path)} is named in text that is not UTF-8; "
                          "choose a name (and folder) in UTF-8.")
    _check_name_length(path)
    who = being_written_by(path)
    if who is not None:  # --overwrite would not help: say so before it is tried
        raise OutputError(held_sentence(path, who))
    if writes_in_place(path):
        return  # a pipe or terminal (/dev/stdout): nothing there is replaced
    if path.exists() and not overwrite and unfinished:
        raise OutputError(
            f"The output {path} is from a run that did not finish; pass --resume to redo "
            "that run, or --overwrite to replace it."
        )
    if path.exists() and not overwrite:
        raise OutputError(
            f"The output {path} already exists; pass --overwrite to replace it or choose "
            "another name."
        )
    if not path.parent.is_dir():
        raise OutputError(f"The folder {path.parent} for the output {path} does not exist; "
                          "create it first, or name a folder that exists.")


# The most a hidden name written beside an output adds to its name: ".NAME.PID.tmp" (a pid
# has up to 7 digits); the staged copy ".STEM.partial.EXT" and the lock ".NAME.lock" add less.
_HIDDEN_EXTRA = len("..1234567.tmp")


def _check_name_length(path: Path) -> None:
    """Refuse, before anything is written, an output whose name or the hidden names beside
    it are longer than the folder's file system takes (255 bytes on most): a 78-character
    Japanese title (234 bytes) failed at its last file, leaving a broken set."""
    try:
        limit = os.pathconf(path.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # Windows, or a folder not there yet
        limit = 255
    size = len(os.fsencode(path.name))
    if size + _HIDDEN_EXTRA > limit:
        raise OutputError(
            f"The output name {path.name} is {size} bytes long, too long for its folder's file "
            f"system with the hidden names emocam writes beside it ({limit - _HIDDEN_EXTRA} "
            "bytes at most); rename the input shorter, or name the outputs with --csv, --json "
            "and --output-video.")


def staging_path(path: Path) -> Path:
    """The hidden sibling an existing ``path`` is rewritten under (suffix kept: a video's
    container is chosen by it)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def parts_dir(path: Path) -> Path:
    """Where the sidecar ``path`` keeps its chunks while its run goes on."""
    return path.with_name(f".{path.name}.parts")


def writes_in_place(path: Path) -> bool:
    """A device, pipe or terminal (``/dev/stdout``, also when the shell sends it to a file):
    written where it is, never staged beside or renamed over (that would replace the link
    ``/dev/stdout`` itself)."""
    path = Path(path)
    if not path.exists():
        return False
    if not (path.is_file() or path.is_dir()):
        return True
    # A regular file reached through /proc (/dev/stdout -> /proc/self/fd/1 -> a file the shell
    # opened): a file under /dev/shm, say, is staged and renamed as anywhere else.
    hop = path.absolute()
    for _ in range(8):
        if hop.parts[1:2] == ("proc",):
            return True
        if not hop.is_symlink():
            return False
        target = Path(os.readlink(hop))
        hop = target if target.is_absolute() else hop.parent / target
    return False


def _write_target(path: Path) -> Path | None:
    """Where to write while ``path`` must stay intact, or None to write in place (a new file:
    nothing to lose, and a reader can follow it as it grows; a device or a pipe)."""
    return staging_path(path) if path.is_file() and not writes_in_place(path) else None


def _commit(staging: Path | None, path: Path, keep: bool) -> None:
    """Put a staged file in place (one rename), or drop it and leave the old file intact."""
    if staging is None:
        return
    if keep:
        os.replace(staging, path)
    else:
        staging.unlink(missing_ok=True)


def no_space_hint(e: OSError) -> str:
    """Why an output could not be written, and what to do: "No space left on device; free
    some disk space or choose another folder"."""
    if isinstance(e, PermissionError) or e.errno == errno.EROFS:
        hint = "choose a folder you may write to"
    elif e.errno == errno.EPIPE:
        # An output sent to a pipe whose reader stopped (| head): no disk is involved.
        hint = "the program reading it stopped before the end; write it to a file instead"
    elif e.errno == errno.EISDIR:
        hint = "a folder of that name is in the way; rename it or choose another name"
    elif e.errno == errno.ENOTDIR:
        hint = "part of the path is a file, not a folder; choose another folder"
    elif e.errno == errno.ENAMETOOLONG:
        hint = "choose a shorter name or a folder nearer the root"
    else:
        hint = "free some disk space or choose another folder"
    return f"{e.strerror or e}; {hint}"


def _reason(e: BaseException) -> str:
    return no_space_hint(e) if isinstance(e, OSError) and e.strerror else str(e)


Render = Callable[[np.ndarray], object]


@dataclass
class _Pending:
    """A frame on its way to the encoder: its pixels, and what to paint on them first."""

    image: np.ndarray
    render: Render | None
    pooled: bool  # a copy in the writer's own pool, handed back after encoding


class AnnotatedVideoWriter:
    """An mp4 (mp4v, or H.264 with ``codec="h264"``) written frame by frame, in fragments, so
    the file of a run that dies plays up to its last keyframe.

    Encoding runs on a background thread (FFmpeg runs without the GIL), so on
    a 2-core laptop it overlaps with detection instead of adding its 4-9 ms per 720p frame.
    Frames are copied into a small pool of reused buffers, so the caller may reuse its own;
    a caller that gives a frame away (``owned``) saves the copy. A ``render`` function (the
    overlay) is run on the writer's thread just before its frame is encoded, off the
    caller's critical path, and not at all for a frame that is dropped.

    The mp4 has a constant frame rate. Given each frame's time, the writer keeps
    the video in step with the source's clock: a frame is repeated until the next one is due
    and dropped when a newer one lands in the same slot. So a variable-frame-rate file, or a
    camera session whose slow frames were skipped, plays back at its real speed.

    With ``sound_from`` (the source video), the finished file gets the source's sound, cut
    where the video ends; a sound that cannot be copied leaves the silent video and a warning.
    """

    _QUEUE = 4
    # The sources vouch for their clocks (a long jump of a file's clock is believed only
    # when the next frame carries on from it), so a still minute of a screen recording stays
    # a minute. A longer gap is cut to this, the frames after it keeping their spacing.
    _MAX_REPEAT_S = 600.0

    def __init__(
        self, path: Path, fps: float, size: tuple[int, int], background: bool = True,
        sound_from: Path | None = None, codec: str = DEFAULT_VIDEO_CODEC,
        pixel_aspect: Fraction = Fraction(1),
    ):
        self.path = Path(path)
        self.sound_from = sound_from
        self.sound_added = False  # set on close: whether the file got the source's sound
        self.size = size  # width, height
        self.fps = fps if fps and fps > 0 else 30.0
        self._staging = _write_target(self.path)
        self._file = self._staging or self.path
        self._writer: Encoder | None = open_encoder(
            self._file, codec, self.fps, size, shown=self.path, pixel_aspect=pixel_aspect
        )
        self.frames = 0  # frames in the file (repeats included)
        self._t0: float | None = None  # time of the first timed frame, ms
        self._held: _Pending | None = None  # the last timed frame, written once the next is due
        self._steps = FrameSteps()  # the timed frames' times: how long the last one lasts
        self._error: BaseException | None = None
        self._reported = False  # the caller was told: close need not say it again
        # A failing overlay is a fault in emocam, not a full disk: raised to the caller as is.
        self._render_error: Exception | None = None
        self._thread: threading.Thread | None = None
        if background:
            w, h = size
            self._free: queue.Queue[np.ndarray] = queue.Queue()
            for _ in range(self._QUEUE + 1):
                self._free.put(np.empty((h, w, 3), np.uint8))
            # Frames in flight, pooled or given away: the caller waits beyond this many.
            self._slots = threading.Semaphore(self._QUEUE + 1)
            self._todo: queue.Queue[tuple[_Pending, int] | None] = queue.Queue()
            self._thread = threading.Thread(target=self._run, name="video-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            pending, copies = item
            try:
                if self._error is None:
                    self._encode(pending, copies)
            except BaseException as e:  # handed to the caller on its next call
                self._error = e
            finally:
                if pending.pooled:
                    self._free.put(pending.image)
                self._slots.release()

    def _encode(self, pending: _Pending, copies: int) -> None:
        if copies > 0 and pending.render is not None:
            try:
                pending.render(pending.image)
            except Exception as e:
                self._render_error = e
                raise
        for _ in range(copies):
            self._writer.write(pending.image)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if (w, h) != self.size:
            # A stream that changes size mid-way (rare) must not break the container.
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return image

    def write(
        self, image: np.ndarray, time_ms: float | None = None, render: Render | None = None,
        owned: bool = False,
    ) -> None:
        """Append a frame; with ``time_ms`` (the source's clock) it is placed in time.
        ``render`` paints on the frame before it is encoded; ``owned``: the caller gives the
        frame away and will not touch it again."""
        if self._writer is None:
            raise OutputError(f"The video {self.path} is already closed.")
        if self._render_error is not None:
            raise self._render_error
        if self._error is not None:
            self._reported = True
            why = _reason(self._error)
            raise OutputError(f"The video {self.path} could not be written ({why}).")
        fitted = self._fit(image)
        pending = self._own(fitted, render, owned or fitted is not image)
        if time_ms is None:
            self._flush_held(self.frames + 1)
            self._put(pending, 1)
            return
        if self._t0 is None:
            self._t0 = time_ms
        self._steps.add(time_ms)
        slot = self._slot(time_ms)
        longest = max(int(self._MAX_REPEAT_S * self.fps), 1)
        if slot - self.frames > longest:
            # The gap is cut, not the frames after it: they keep their spacing from here.
            self._t0 += (slot - self.frames - longest) * 1000.0 / self.fps
            slot = self._slot(time_ms)
        self._flush_held(slot)
        self._held = pending

    def _slot(self, time_ms: float) -> int:
        return round((time_ms - (self._t0 or 0.0)) * self.fps / 1000.0)

    def _flush_held(self, next_slot: int) -> None:
        """Write the held frame for every slot until ``next_slot``; none: it was superseded."""
        if self._held is None:
            return
        pending, self._held = self._held, None
        self._put(pending, max(next_slot - self.frames, 0))

    def _own(self, image: np.ndarray, render: Render | None, owned: bool) -> _Pending:
        if self._thread is None:
            return _Pending(image if owned else image.copy(), render, pooled=False)
        self._slots.acquire()  # waits when the encoder is 4 frames behind
        if owned:
            return _Pending(image, render, pooled=False)
        buf = self._free.get()
        np.copyto(buf, image)
        return _Pending(buf, render, pooled=True)

    def _put(self, pending: _Pending, copies: int) -> None:
        if self._thread is None:
            self._encode(pending, copies)
        else:
            self._todo.put((pending, copies))  # copies == 0 only hands the buffer back
        self.frames += copies

    def close(self, failed: bool = False) -> None:
        """Finish the file. ``failed``: the run broke; a replacement that got no frame is
        dropped so the old file stays. Raises ``OutputError`` when the file on disk lacks
        frames (FFmpeg reports no write error, e.g. on a full disk)."""
        if self._writer is None:
            return
        end = self.frames + 1
        last = self._steps.last_ms
        if self._held is not None and last is not None:
            end = max(end, self._slot(last + self._steps.last_frame_ms()))
        self._flush_held(end)
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()
            self._thread = None
        try:
            self._writer.release()
        except Exception as e:  # PyAV flushing onto a full disk: counted as frames missing
            self._error = self._error or e
        self._writer = None
        stored = self._stored_frames()
        complete = self._error is None and stored >= self.frames
        if complete and self.frames and self.sound_from is not None and self._file.is_file():
            self.sound_added = add_audio(self._file, self.sound_from, self.frames / self.fps)
        _commit(self._staging, self.path, keep=complete and not (failed and self.frames == 0))
        if self._render_error is not None and not failed:
            raise self._render_error
        if not complete and not self._reported:
            if self._error is not None:
                raise OutputError(f"The video {self.path} was not written completely "
                                  f"({_reason(self._error)}).")
            raise OutputError(
                f"The video {self.path} was not written completely ({stored} of {self.frames} "
                "frames stored); the disk may be full, so free some space and run again."
            )

    @property
    def broken(self) -> bool:
        """A write failed (a full disk): the file lacks frames, whatever happens next."""
        return self._error is not None

    def _stored_frames(self) -> int:
        if self.frames == 0:
            return 0
        cap = cv2.VideoCapture(str(self._file))
        try:
            n = cap.get(cv2.CAP_PROP_FRAME_COUNT) if cap.isOpened() else 0.0
        finally:
            cap.release()
        return int(n) if math.isfinite(n) and n > 0 else 0

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            self.close(failed=exc_type is not None)
        except OutputError as e:
            if exc_type is None:
                raise
            log.info("%s", e)  # the error on its way says the set is not complete


def csv_header(class_names: Sequence[str], with_file: bool = False) -> list[str]:
    head = [columns.FILE] if with_file else []
    return [*head, *columns.BEFORE_CLASSES, *class_names, *columns.AFTER_CLASSES]


class CsvSink:
    """One row per face per frame, flushed as written so an interrupted run stays valid.

    Probabilities are the smoothed ones the overlay shows; ``top_label`` is their argmax and
    ``confidence`` its calibrated probability. ``uncertain`` says why the label should not be
    trusted ("small", "turned", "blurred", "low confidence") or is empty; the probabilities
    are written either way. ``shot`` counts the hard cuts before the frame (0 in the first
    shot), so rows can be grouped by shot.
    With ``with_file`` (a folder of images) a first column names the image.
    """

    def __init__(self, path: Path, class_names: Sequence[str], with_file: bool = False):
        self.path = Path(path)
        self.class_names = tuple(class_names)
        self.with_file = with_file
        self.rows = 0
        self.frames = 0
        self._staging = _write_target(self.path)
        # Unbuffered bytes: every row reaches the OS at once, and the size of what was
        # written whole is known, to cut a failed write back to the last complete row.
        try:
            self._fh = open(self._staging or self.path, "wb", buffering=0)  # noqa: SIM115
        except OSError as e:
            raise OutputError(
                f"The CSV {self.path} cannot be created ({no_space_hint(e)})."
            ) from e
        self._size = 0
        self._text = io.StringIO()
        self._writer = csv.writer(self._text)
        self._writer.writerow(csv_header(self.class_names, with_file))
        self._flush()

    def _flush(self) -> None:
        data = memoryview(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()
        whole = len(data)
        try:
            while data:
                n = self._fh.write(data)
                data = data[n or 0 :]
        except OSError as e:
            self._cut_back()
            raise OutputError(
                f"The CSV {self.path} could not be written ({no_space_hint(e)}); the rows "
                "before the failure are kept."
            ) from e
        self._size += whole  # counted, not asked: a pipe has no position to tell

    def _cut_back(self) -> None:
        try:
            if stat.S_ISREG(os.fstat(self._fh.fileno()).st_mode):  # not a device or a pipe
                os.ftruncate(self._fh.fileno(), self._size)
        except OSError:
            log.warning("%s could not be cut back to its last complete row", self.path)

    def write(self, result: FrameResult, file: str = "") -> None:
        fr = result.frame
        head = [columns.file_cell(file)] if self.with_file else []
        rows = []
        for face in result.faces:
            x, y, w, h = face.box
            rows.append(
                [
                    *head, fr.index, f"{fr.time_ms:.1f}", face.face_id,
                    f"{x:.1f}", f"{y:.1f}", f"{w:.1f}", f"{h:.1f}",
                    *(f"{p:.4f}" for p in face.probs.tolist()),
                    result.class_names[face.top_index],
                    f"{face.confidence:.4f}", face.uncertain, result.shot,
                ]
            )
        self.frames += 1
        if rows:
            self._writer.writerows(rows)
            self._flush()
            self.rows += len(rows)

    def close(self, failed: bool = False) -> None:
        """Close the file; ``failed``: a replacement that got no frame is dropped so the old
        file stays intact."""
        if self._fh.closed:
            return
        self._fh.close()
        _commit(self._staging, self.path, keep=not (failed and self.frames == 0))

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=exc_type is not None)


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
        self._seen: set[str] = set()
        # None: a device or a pipe, which gets the one final summary and no checkpoints.
        self._checkpoint_path = (None if writes_in_place(self.path) else
                                 _write_target(self.path) or self.path)
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
            self._seen.add(file)
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
        return {
            "completed": completed,
            **self.run_info,
            **outputs,
            **extra,
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "class_names": list(self.class_names),
            "mean_timings_ms": timings,
            # Where each shot of a video begins (one entry when it has no hard cut).
            "shots": self._shots,
            **self._photos_skipped(completed),
            **self._detection(),
            "faces": {str(k): self._face_dict(v) for k, v in sorted(self._faces.items())},
        }

    def _photos_skipped(self, completed: bool) -> dict[str, Any]:
        """A folder's photos that could not be read (named on stderr as they were met)."""
        if self._photos is None or not completed:
            return {}
        return {"photos": len(self._photos),
                "photos_skipped": [n for n in self._photos if n not in self._seen]}

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
