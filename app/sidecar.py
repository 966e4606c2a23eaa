"""The numbers of a run, kept so it can be re-analysed without running any model again.

``emocam process`` writes ``NAME.emocam.npz`` next to its CSV: for every face in every frame
the track id, box, detector score, keypoints, quality measures and the classifier's raw
(calibrated, unsmoothed) probabilities, plus a JSON header (class names, model, detector,
fps, frame size, source path and the settings used). Everything is a plain numeric or
string array, so ``numpy.load(path, allow_pickle=False)`` reads it and no code can hide in
it. It holds no pixels: it is safe to keep when frames are not (``--no-frames``).
"""

from __future__ import annotations

import errno
import json
import logging
import math
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocam import atomic
from emocam.errors import OutputError, SourceError
from emocam.jsonread import read_object
from emocam.locks import being_written_by
from emocam.outputs import SIDECAR_SUFFIX, SUFFIX
from emocam.sidecar_check import Bad, check_arrays, check_header
from emocam.staging import no_room, parts_dir
from emocam.types import FaceQuality, FrameResult

log = logging.getLogger(__name__)

FORMAT = "emocam-sidecar"
VERSION = 1
MAX_KEYPOINTS = 6  # BlazeFace gives six; other detectors fewer (padded with NaN)

_FACE_ARRAYS = (
    "frame", "time_ms", "face_id", "box", "score", "keypoints", "raw_probs", "size_px",
    "sharpness", "turn",
)
_FRAME_ARRAYS = ("frame_index", "frame_time_ms", "frame_file")
# Written since fingerprints were kept: a sidecar without it compares nothing.
_FRAME_PRINTS = "frame_print"


class SidecarWriter:
    """Streams the numbers of each frame to disk in chunks, so memory stays flat however long
    the run (an 8-hour recording holds one chunk, not the run).

    While the run goes on, each chunk is one small compressed file in a hidden folder beside
    the sidecar (``.NAME.emocam.npz.parts/``), written whole and renamed into place, after
    the first frame and then every 2-30 seconds (see ``CHUNK_S``) or ``CHUNK_ROWS`` face
    rows. On close the chunks are joined, array by array and chunk by chunk, into the one
    ``.npz`` file, written under a temporary name and renamed over, so the sidecar is never seen
    half-written. A run that is killed leaves its chunks: ``load_sidecar`` joins them into
    the sidecar so far.

    Sizes, measured: the file takes ~120 bytes per face row, about 50 MB per hour of video
    with four faces at 30 fps. Held in memory: at most one chunk (~0.5 MB per 1,000 rows);
    before chunking the whole run was held, about 400 MB an hour.
    """

    # A chunk is written every twentieth of the time run so far, between CHUNK_MIN_S and
    # CHUNK_S: a killed run loses at most that much of its numbers (a fixed 30 s lost the
    # whole of a short run's, the CSV keeping them), and an 8-hour run leaves ~1,000 chunks
    # to join. CHUNK_ROWS bounds the memory held: ~1 KB a row while in lists.
    CHUNK_S = 30.0
    CHUNK_MIN_S = 2.0
    CHUNK_SHARE = 1 / 20
    CHUNK_ROWS = 5_000

    def __init__(self, path: Path, header: dict[str, Any], optional: bool = True):
        """``optional``: the user may leave the sidecar out (``--no-sidecar``), which its
        messages then suggest; the app's Export and recording write a whole set."""
        self.path = Path(path)
        self.optional = optional
        self.header = dict(header, format=FORMAT, version=VERSION)
        self.class_names = tuple(self.header["class_names"])
        self.parts = parts_dir(self.path)
        self._chunks = 0
        self._flushed_at: float | None = None
        self._started_at: float | None = None
        self._closed = False
        self._reset()
        try:
            if self.parts.exists():
                shutil.rmtree(self.parts)  # a dead run's chunks: this run holds the outputs now
            self.parts.mkdir()
            _write_json_atomic(self.parts / "header.json", dict(self.header, completed=False))
        except OSError as e:
            raise OutputError(f"The sidecar {self.path} cannot be started "
                              f"({self._what_to_do(e, running=False)}).") from e

    def _or_leave_out(self) -> str:
        return ", or pass --no-sidecar" if self.optional else ""

    def _what_to_do(self, e: OSError, running: bool = True) -> str:
        """Why the sidecar could not be written, and what to do, for its one sentence;
        ``running``: the run had started writing it (not: it could not be started)."""
        if running and e.errno == errno.ENOENT:
            return (f"its working folder {self.parts} was removed while the run went on; run "
                    "again, and leave the folder alone")
        full = no_room(e, self.path.parent)
        if full is not None:
            return f"{full.strerror}; free some disk space{self._or_leave_out()}"
        return f"{e.strerror or e}; choose a folder you can write to{self._or_leave_out()}"

    def _reset(self) -> None:
        self._frames: list[tuple[int, float, str, int, str]] = []
        self._faces: dict[str, list[Any]] = {k: [] for k in _FACE_ARRAYS}

    def add(self, result: FrameResult, file: str = "", print_: str = "") -> None:
        """One frame's numbers; ``file`` and ``print_``: a folder's photo, its name and its
        ``emocam.fileprint`` fingerprint."""
        fr = result.frame
        self._frames.append((fr.index, fr.time_ms, file, result.shot, print_))
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
        now = time.monotonic()
        if self._started_at is None:
            self._started_at = now
        every = min(max((now - self._started_at) * self.CHUNK_SHARE, self.CHUNK_MIN_S),
                    self.CHUNK_S)
        if (self._flushed_at is None or now - self._flushed_at >= every
                or len(self._faces["frame"]) >= self.CHUNK_ROWS):
            self._flushed_at = now
            self._flush()

    def _arrays(self) -> dict[str, np.ndarray]:
        n_classes = len(self.class_names)
        f = self._faces
        frames = self._frames
        return {
            "frame_index": np.array([f[0] for f in frames], np.int64),
            "frame_time_ms": np.array([f[1] for f in frames], np.float64),
            "frame_file": np.array([f[2] for f in frames], dtype=str),
            "frame_shot": np.array([f[3] for f in frames], np.int64),
            _FRAME_PRINTS: np.array([f[4] for f in frames], dtype=str),
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

    def _flush(self) -> None:
        """The rows so far as the next chunk file; a failure (disk full) is an OutputError."""
        if not self._frames:
            return
        chunk = self.parts / f"{self._chunks:06d}.npz"
        try:
            with atomic.replacing(chunk, binary=True) as fh:
                np.savez_compressed(fh, **self._arrays())
        except OSError as e:
            raise OutputError(f"The sidecar {self.path} could not be written "
                              f"({self._what_to_do(e)}).") from e
        self._chunks += 1
        self._reset()

    def close(self, completed: bool, notes: dict[str, Any] | None = None) -> None:
        """Join the chunks into the sidecar, its header with ``notes`` (what of the input
        could not be read, ``ReadNotes.as_header``: known only now). A failure is an
        ``OutputError`` after a completed run; after a failed one it is only logged, so the
        error that stopped the run stays the one shown (the chunks stay, for ``load_sidecar``
        to join later)."""
        if self._closed:
            return
        self._closed = True
        self.header.update(notes or {}, completed=completed)
        try:
            self._flush()
            join_parts(self.parts, self.path, self.header)
        except (OSError, OutputError) as e:
            # _flush's error is already the sentence; join_parts's is an OSError to explain.
            message = (str(e).rstrip(".") if isinstance(e, OutputError) else
                       f"The sidecar {self.path} could not be written "
                       f"({self._what_to_do(e)})")
            if not completed:
                # After a failed run: the other outputs are no more complete than this one.
                log.info("%s", message)
                return
            message += "; the CSV and JSON are complete" + (
                ", only --reanalyse needs the sidecar" if self.optional else "")
            raise OutputError(f"{message}.") from e
        shutil.rmtree(self.parts, ignore_errors=True)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    atomic.write_text(path, json.dumps(data))


def _chunk_files(parts: Path) -> list[Path]:
    return sorted(p for p in parts.glob("[0-9]*.npz") if p.name[:-4].isdigit())


def join_parts(parts: Path, path: Path, header: dict[str, Any]) -> None:
    """Write the sidecar ``path`` from the chunk files in ``parts``: each array is written
    once, its chunks one after the other, so no more than one chunk is in memory."""
    chunks = _chunk_files(parts)
    # Shapes and types first (from the .npy headers: nothing is decompressed twice).
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, np.dtype] = {}
    for c in chunks:
        with np.load(c, allow_pickle=False) as npz:
            for key in _CHUNK_ARRAYS:
                a = _chunk_array(npz, key)
                n = shapes.get(key, (0, *a.shape[1:]))[0]
                shapes[key] = (n + a.shape[0], *a.shape[1:])
                dtypes[key] = np.promote_types(dtypes.get(key, a.dtype), a.dtype)
    with atomic.replacing(path, binary=True) as out, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        with zf.open("header.npy", "w") as fh:
            np.lib.format.write_array(fh, np.array(json.dumps(header)))
        n_classes = len(header.get("class_names", ()))
        shapes.setdefault("raw_probs", (0, n_classes))  # no face at all: still n columns
        for key in _CHUNK_ARRAYS:
            _join_array(zf, key, chunks, shapes, dtypes)


def _join_array(zf: zipfile.ZipFile, key: str, chunks: list[Path],
                shapes: dict[str, tuple[int, ...]], dtypes: dict[str, np.dtype]) -> None:
    empty = _EMPTY[key]  # a run without a frame: empty arrays of the shape a reader expects
    shape, dtype = shapes.get(key, empty.shape), dtypes.get(key, empty.dtype)
    with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_2_0(
            fh, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": shape})
        for c in chunks:
            with np.load(c, allow_pickle=False) as npz:
                fh.write(np.ascontiguousarray(_chunk_array(npz, key), dtype=dtype).tobytes())


def _chunk_array(npz: Any, key: str) -> np.ndarray:
    """A chunk's array; one an earlier emocam did not write yet (a run killed before an
    upgrade) is the value that means "not recorded", one per frame."""
    if key in npz.files or key not in _LATER:
        return npz[key]  # a missing older array: KeyError, a damaged chunk
    return np.full(len(npz["frame_index"]), _LATER[key][0], _LATER[key][1])


_CHUNK_ARRAYS = (*_FRAME_ARRAYS, "frame_shot", _FRAME_PRINTS, *_FACE_ARRAYS)
# Per-frame arrays added after the first sidecars, and what their absence means.
_LATER: dict[str, tuple[Any, Any]] = {"frame_shot": (0, np.int64), _FRAME_PRINTS: ("", "<U1")}
_EMPTY = {
    **{k: np.zeros(0, np.int64) for k in ("frame_index", "frame_shot", "frame", "face_id")},
    **{k: np.zeros(0, np.float64) for k in ("frame_time_ms", "time_ms")},
    "frame_file": np.zeros(0, "<U1"),
    _FRAME_PRINTS: np.zeros(0, "<U1"),
    "box": np.zeros((0, 4), np.float64),
    "keypoints": np.zeros((0, MAX_KEYPOINTS, 2), np.float32),
    "raw_probs": np.zeros((0, 0), np.float32),  # its columns come from the header
    **{k: np.zeros(0, np.float32) for k in ("score", "size_px", "sharpness", "turn")},
}


def recover(path: Path) -> bool:
    """Join the chunks a killed run left for ``path`` into the sidecar so far; False when
    there are none."""
    parts = parts_dir(path)
    header = read_object(parts / "header.json")
    if header is None:
        return False
    header["completed"] = False
    try:
        join_parts(parts, path, header)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:  # damaged
        log.warning("the chunks in %s cannot be joined (%s)", parts, e)
        return False
    shutil.rmtree(parts, ignore_errors=True)
    log.warning("%s was joined from the chunks its run wrote before it was stopped", path)
    return True


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
    """Read a sidecar without unpickling anything, and check the whole of it before use:
    one-sentence errors for a wrong, damaged or crafted file."""
    path = Path(path)
    writer = being_written_by(path)
    if writer is not None:
        raise SourceError(f"The sidecar {path} is being written by {writer}; wait for it to "
                          "finish, then re-analyse it.")
    if not path.is_file() and parts_dir(path).is_dir():
        recover(path)  # a killed run: its chunks so far are the sidecar
    if path.is_dir():
        inside = sorted(path.glob(f"*{SUFFIX}{SIDECAR_SUFFIX}"))
        hint = f" (there is {inside[0].name} in it)" if len(inside) == 1 else ""
        raise SourceError(f"{path} is a folder, not a sidecar; give the .emocam.npz file "
                          f"that `emocam process` wrote{hint}.")
    if not path.is_file():
        raise SourceError(f"The sidecar {path} does not exist; give the .emocam.npz file that "
                          "`emocam process` wrote.")
    arrays = _read(path)
    missing = [k for k in ("header", *_FRAME_ARRAYS, *_FACE_ARRAYS) if k not in arrays]
    if missing:
        raise _bad(path, f"it lacks {', '.join(missing)}")
    header_array = arrays.pop("header")
    try:
        header = json.loads(str(header_array)) if header_array.dtype.kind == "U" else None
    except (json.JSONDecodeError, RecursionError) as e:
        raise _bad(path, "its header is not JSON") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _bad(path, "its header names another format")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _bad(path, "its header has no format version")
    if version > VERSION:
        raise SourceError(f"The sidecar {path} was written by a newer emocam (format "
                          f"{version}); update emocam to re-analyse it.")
    # frame_shot came later in version 1: a sidecar without it reads as one shot.
    if "frame_shot" not in arrays and arrays["frame_index"].ndim == 1:
        arrays["frame_shot"] = np.zeros(len(arrays["frame_index"]), np.int64)
    # So did frame_print: a sidecar without it has no photo's fingerprint to compare.
    if _FRAME_PRINTS not in arrays and arrays["frame_index"].ndim == 1:
        arrays[_FRAME_PRINTS] = np.full(len(arrays["frame_index"]), "", "<U1")
    try:
        check_header(header)
        check_arrays(arrays, len(header["class_names"]))
    except Bad as e:
        raise _bad(path, str(e)) from e
    return Sidecar(path, header, arrays)


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise _bad(path, "it is a single array, not a .npz file")
            return {k: npz[k] for k in npz.files}
    except SourceError:
        raise
    except Exception as e:
        # numpy's .npz reader answers damaged bytes with a dozen exception types (BadZipFile,
        # zlib.error, ValueError, EOFError, KeyError, ...): all of them mean the same here.
        raise _bad(path, "it cannot be read as a .npz file, it may be damaged") from e
