"""Face detectors: MediaPipe BlazeFace (default) and OpenCV's Haar cascade (fallback).

Every detector returns boxes in one framing, the short-range BlazeFace box (brows to chin,
cheek to cheek; see ``Detection``), so the crop framing stored with the emotion model fits
whichever detector found the face. Boxes are not clipped: the aligner pads.

MediaPipe runs in IMAGE mode. VIDEO mode measured no faster here (the face detector has no
tracking to reuse between frames), needs strictly increasing timestamps, and cannot serve
the several tile calls made per frame; IMAGE mode keeps every call independent.
"""

from __future__ import annotations

import importlib
import logging
import math
import re
import sys
import types
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emocam import geometry
from emocam.blazeface import ShortRangeFaces
from emocam.errors import ModelError
from emocam.integrity import model_bytes
from emocam.offline import keep_native_libraries_offline
from emocam.types import DEFAULT_MIN_SCORE, Box, Detection, Point

log = logging.getLogger(__name__)

SHORT_RANGE = "face_detection_short_range.tflite"
FULL_RANGE = "face_detection_full_range_sparse.tflite"
HAAR = "haarcascade_frontalface_default.xml"

# The full-range model frames faces higher and larger than the short-range one, Haar even
# higher. Measured on 40 real faces of 60-250 px against the short-range box: centre offset
# (dx, dy) in short-range box sides, and side ratio. Mapping back keeps one framing.
_FULL_TO_SHORT = (-0.018, -0.061, 1.061)
_HAAR_TO_SHORT = (-0.019, -0.114, 1.058)

# Face sizes each model finds reliably, as a fraction of the longer side of the image it is
# given (it is letterboxed to a square): measured with real faces from 5% to 90%.
_SHORT_RANGE_FACES = (0.15, 0.9)
_FULL_RANGE_MIN = 0.085


# The smallest face side looked for: smaller faces carry little expression at the model's
# 48-px input.
MIN_FACE_PX = 64.0


def _key(name: str) -> str:
    return name.strip().lower()


def load_libraries(name: str) -> None:
    """Import the native library the detector ``name`` runs on, ahead of creating it."""
    if _key(name) == "mediapipe":
        import_mediapipe()


def create_detector(
    name: str = "mediapipe",
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    min_face: float = MIN_FACE_PX,
) -> MediaPipeDetector | HaarDetector:
    """A detector by name: ``"mediapipe"`` (BlazeFace, default) or ``"opencv"`` (Haar).

    ``min_face`` is the smallest face side, in pixels, worth looking for (smaller faces carry
    little expression at the model's 48 px input). MediaPipe adds a finer tile level when the
    frame needs it (1080p: finds 50 px faces), for files and cameras alike: the schedule
    (emocam.schedule) spreads the tiles over frames, so a camera frame costs no more.
    """
    key = _key(name)
    if key == "mediapipe":
        return MediaPipeDetector(min_score=min_score, min_face=min_face)
    if key in _HAAR_NAMES:
        return HaarDetector(min_score=min_score, min_face=min_face)
    raise ValueError(f"unknown detector {name!r}; use 'mediapipe' or 'opencv'")


_HAAR_NAMES = ("opencv", "haar")


def other_detector(name: str) -> str:
    """The detector to try when ``name`` found nothing."""
    return "mediapipe" if _key(name) in _HAAR_NAMES else "opencv"


# --- geometry shared by the detectors -----------------------------------------------------


def _to_short_framing(box: Box, mapping: tuple[float, float, float]) -> Box:
    dx, dy, ratio = mapping
    x, y, w, h = box
    side = max(w, h) / ratio
    cx = x + w / 2 - dx * side
    cy = y + h / 2 - dy * side
    return (cx - side / 2, cy - side / 2, side, side)


def merge(dets: list[Detection], iou: float = 0.3) -> list[Detection]:
    """One detection per face from several passes, highest score first.

    Boxes overlapping by ``iou`` are the same face seen at different scales: their
    score-weighted mean is steadier than any one. A box whose centre lies inside a
    higher-scoring box (or the reverse) is dropped: faces do not nest, so it is a cut-off
    part of a face seen by one tile, or a low-confidence box around a group of small faces.
    """
    order = sorted(dets, key=lambda d: d.score, reverse=True)
    out: list[Detection] = []
    taken = [False] * len(order)
    for i, d in enumerate(order):
        if taken[i]:
            continue
        group = [d]
        for j in range(i + 1, len(order)):
            if taken[j]:
                continue
            e = order[j]
            if geometry.iou(d.box, e.box) >= iou:
                taken[j] = True
                group.append(e)
            elif geometry.centre_inside(e.box, d.box) or geometry.centre_inside(d.box, e.box):
                taken[j] = True
        out.append(_average(group))
    return out


def _average(group: list[Detection]) -> Detection:
    if len(group) == 1:
        return group[0]
    w = np.array([g.score for g in group])
    w = w / w.sum()
    box = tuple(float(v) for v in np.array([g.box for g in group]).T @ w)
    kps: tuple[Point, ...] = ()
    with_kp = [g for g in group if g.keypoints]
    if with_kp and len({len(g.keypoints) for g in with_kp}) == 1:
        kw = np.array([g.score for g in with_kp])
        arr = np.tensordot(kw / kw.sum(), np.array([g.keypoints for g in with_kp]), axes=1)
        kps = tuple((float(x), float(y)) for x, y in arr)
    eyes = (kps[0], kps[1]) if len(kps) >= 2 else group[0].eyes
    return Detection(box, float(group[0].score), kps, eyes)  # type: ignore[arg-type]


# --- MediaPipe ----------------------------------------------------------------------------


class _ImportedOnUse(types.ModuleType):
    """Stands in for a module during an import; the real one is imported on first use."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or sys.modules.get(self.__name__) is self:
            raise AttributeError(name)  # still standing in: the real module is not loaded
        return getattr(importlib.import_module(self.__name__), name)


def _stand_ins() -> dict[str, types.ModuleType | None]:
    stand_ins: dict[str, types.ModuleType | None] = {}
    if "tensorflow" not in sys.modules:
        stand_ins["tensorflow"] = None
    if "matplotlib.pyplot" not in sys.modules:
        stand_ins["matplotlib.pyplot"] = pyplot = _ImportedOnUse("matplotlib.pyplot")
        if "matplotlib" not in sys.modules:
            stand_ins["matplotlib"] = _ImportedOnUse("matplotlib")
            stand_ins["matplotlib"].pyplot = pyplot  # type: ignore[union-attr]
    if "sounddevice" not in sys.modules:
        stand_ins["sounddevice"] = _ImportedOnUse("sounddevice")
    return stand_ins


def _import_with(stand_ins: dict[str, types.ModuleType | None]) -> tuple[Any, Any, Any]:
    sys.modules.update(stand_ins)  # type: ignore[arg-type]
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name, 0) is module:
                del sys.modules[name]
    return mp, BaseOptions, vision


def import_mediapipe() -> tuple[Any, Any, Any]:
    # mediapipe.tasks imports TensorFlow, when installed, only for its API docs (~4 s), and
    # matplotlib.pyplot for drawing helpers we never call (~0.4 s, most of emocam process's
    # start-up), and sounddevice (PortAudio, ~60 ms) for audio tasks we never run.
    # TensorFlow is hidden, the others stand in until first use, unless they are already
    # loaded (the import then finds them as usual).
    keep_native_libraries_offline()  # before libmediapipe.so loads: see emocam.offline
    try:
        return _import_with(_stand_ins())
    except ImportError as e:
        # A mediapipe release that needs more of matplotlib at import time: import it whole.
        log.debug("mediapipe needs the real matplotlib (%s)", e)
        for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
            del sys.modules[name]
        return _import_with({"tensorflow": None} if "tensorflow" not in sys.modules else {})


# Side of the mosaic of windows around known faces: the short-range model's input size.
_MOSAIC = 128
# Window side around a known face, in face sides: room for a face to move a third of its
# side between two looks and still lie whole inside its window.
ROI_CONTEXT = 2.4


@dataclass(frozen=True)
class Tile:
    """A window of the frame fed to the model; ``inner`` edges border another tile."""

    x0: int
    y0: int
    x1: int
    y1: int
    inner: tuple[bool, bool, bool, bool] = (False, False, False, False)  # left top right bottom


@dataclass(frozen=True)
class Pass:
    """One model call of a scan: ``"short"`` or ``"full"`` range over one window."""

    model: str
    tile: Tile


def _spans(length: int, tile: int, overlap: int) -> list[int]:
    if tile >= length:
        return [0]
    n = math.ceil((length - overlap) / max(tile - overlap, 1))
    return [round(i * (length - tile) / max(n - 1, 1)) for i in range(n)]


def plan_tiles(width: int, height: int, min_face: float, max_levels: int | None = None
               ) -> list[list[Tile]]:
    """Tile levels below the whole frame, coarse to fine, until faces of ``min_face`` px
    are at least the full-range model's minimum in some level.

    Level 1 uses squares of the frame's short side; each further level halves them.
    Neighbouring tiles overlap by more than the largest face the coarser level can miss,
    so such a face lies whole inside one tile.
    """
    levels: list[list[Tile]] = []
    coarse = float(max(width, height))
    side = float(min(width, height))
    most = math.inf if max_levels is None else max_levels
    while _FULL_RANGE_MIN * coarse > min_face and side >= 96 and len(levels) < most:
        t = int(side)
        # At most half a tile: a panorama's coarse side is many tiles long, and an overlap
        # over the tile left a step of 1 px (30000x1000: 26,940 passes). No face the coarse
        # level missed is taller than such a frame anyway.
        overlap = min(math.ceil(1.2 * _FULL_RANGE_MIN * coarse), t // 2)
        xs, ys = _spans(width, t, overlap), _spans(height, t, overlap)
        level = []
        for y in ys:
            for x in xs:
                x1, y1 = min(x + t, width), min(y + t, height)
                inner = (x > 0, y > 0, x1 < width, y1 < height)
                level.append(Tile(x, y, x1, y1, inner))
        if len(level) > 1:
            levels.append(level)
        coarse, side = side, side / 2
    return levels


# Debian's packages for the system libraries MediaPipe's native code loads.
_GL_PACKAGES = {"libGLESv2.so.2": "libgles2", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1"}


def _missing_library_sentence(e: OSError) -> str:
    """One sentence for MediaPipe failing to load a system library (seen on a fresh Debian 12
    without libgles2: "libGLESv2.so.2: cannot open shared object file")."""
    m = re.search(r"(\S+\.so[.\d]*): cannot open shared object file", str(e))
    lib = m.group(1) if m else None
    if lib is None:
        return (f"MediaPipe's face detector cannot start ({e}); run with --detector opencv, "
                "or install the system libraries the README lists for Linux.")
    package = _GL_PACKAGES.get(lib)
    how = f" (on Debian or Ubuntu: sudo apt install {package})" if package else ""
    return (f"MediaPipe's face detector needs the system library {lib}, which this system "
            f"lacks{how}; or run with --detector opencv.")


class MediaPipeDetector:
    """BlazeFace at several scales, merged.

    The whole frame goes through the short-range model (close faces, up to 90% of the frame)
    and the full-range model (faces down to ~8.5% of the frame's longer side); smaller faces
    are found by the full-range model on overlapping tiles (see ``plan_tiles``).
    """

    name = "mediapipe"
    scans_in_passes = True  # emocam.schedule spreads its scan's passes over frames
    cost_follows_size = False  # fixed 192 px network inputs

    def __init__(
        self,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        min_face: float = MIN_FACE_PX,
        max_levels: int | None = None,  # None: as many as faces of min_face need
        models: Traversable | Path | None = None,
    ):
        self.min_face = float(min_face)
        self.max_levels = max_levels
        self._args = {"min_score": min_score, "min_face": min_face, "max_levels": max_levels,
                      "models": models}
        mp, base_options, vision = import_mediapipe()
        self._mp = mp
        # Both files are read and checked before either task starts, so a damaged second
        # file leaves no task open behind the error (closed later by the garbage collector,
        # MediaPipe can wait forever on its own dispatcher thread).
        data = {name: model_bytes(name, models) for name in (SHORT_RANGE, FULL_RANGE)}
        self._short = self._load(vision, base_options, SHORT_RANGE, data, models, min_score)
        try:
            self._full = self._load(vision, base_options, FULL_RANGE, data, models, min_score)
        except ModelError:
            _close_all([self._short])
            raise
        self._onnx_short: ShortRangeFaces | None = None  # the same model, for ``redetect``
        self._plans: dict[tuple[int, int], list[list[Tile]]] = {}
        # Closing at exit, not in __del__ during interpreter teardown, avoids MediaPipe's
        # noisy errors when its own modules are already gone.
        self._finalizer = weakref.finalize(self, _close_all, [self._short, self._full])

    @staticmethod
    def _load(
        vision: Any, base_options: Any, name: str, data: dict[str, bytes], folder: Any,
        min_score: float,
    ) -> Any:
        options = vision.FaceDetectorOptions(
            base_options=base_options(model_asset_buffer=data[name]),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_score,
        )
        try:
            return vision.FaceDetector.create_from_options(options)
        except OSError as e:  # a system library MediaPipe loads is missing, not a bad file
            raise ModelError(_missing_library_sentence(e)) from e
        except Exception as e:  # MediaPipe raises RuntimeError/ValueError for bad files
            where = folder if folder is not None else "emocam's models folder"
            raise ModelError(
                f"The face-detector model {name} in {where} is corrupt; reinstall emocam."
            ) from e

    def twin(self) -> MediaPipeDetector:
        """Another detector with the same settings, for another thread: MediaPipe's tasks
        must not be called from two threads at once."""
        return MediaPipeDetector(**self._args)

    def tiles(self, width: int, height: int) -> list[list[Tile]]:
        """The tile levels used for frames of this size (cached)."""
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = plan_tiles(width, height, self.min_face, self.max_levels)
            n = sum(len(level) for level in self._plans[key])
            log.debug("mediapipe: %dx%d frames use %d tiles", width, height, n)
        return self._plans[key]

    def pass_levels(self, width: int, height: int) -> list[list[Pass]]:
        """The model calls of a full scan of a frame of this size, by level: the whole frame
        (the full-range model for most faces, the short-range one for close faces), then
        each tile level, coarse to fine (ever smaller faces)."""
        whole = Tile(0, 0, width, height)
        tiles = [[Pass("full", t) for t in level] for level in self.tiles(width, height)]
        return [[Pass("full", whole), Pass("short", whole)], *tiles]

    def passes(self, width: int, height: int) -> list[Pass]:
        """Every model call of a full scan, in level order."""
        return [p for level in self.pass_levels(width, height) for p in level]

    def run_passes(self, rgb: np.ndarray, passes: Sequence[Pass]) -> list[Detection]:
        """Raw detections of some passes over an RGB frame (not merged)."""
        dets: list[Detection] = []
        for p in passes:
            if p.model == "short":
                dets += self._run(self._short, rgb, p.tile, None)
            else:
                dets += self._run(self._full, rgb, p.tile, _FULL_TO_SHORT)
        return dets

    def detect(self, image_bgr: np.ndarray, time_ms: float | None = None) -> list[Detection]:
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        dets = self.run_passes(rgb, self.passes(w, h))
        # Merged boxes are averages of remapped ones: "touching" allows a tenth of a side.
        return [
            self._unclip(d, rgb) if _touches_border(d.box, w, h, slack=0.1) else d
            for d in merge(dets)
        ]

    def redetect(
        self, rgb: np.ndarray, boxes: Sequence[Box], context: float = ROI_CONTEXT
    ) -> list[Detection]:
        """Faces found again near known boxes: windows of ``context`` box sides around each
        box, four to a 128 px mosaic, through the short-range model.

        One short-range call (~2 ms) checks up to four faces of any size, where the
        full-range model costs ~7 ms a call. The window keeps a face at 1/(2 * context) of
        the mosaic, inside the short-range model's range, and black padding outside the
        frame gives faces cut by the frame edge their real, unclipped box.
        """
        out: list[Detection] = []
        for i in range(0, len(boxes), 4):
            out += self._mosaic(rgb, boxes[i : i + 4], context)
        return out

    def _mosaic(self, rgb: np.ndarray, boxes: Sequence[Box], context: float) -> list[Detection]:
        grid = 1 if len(boxes) == 1 else 2
        cell = _MOSAIC // grid
        mosaic = np.zeros((_MOSAIC, _MOSAIC, 3), np.uint8)
        windows = []
        for k, (x, y, w, h) in enumerate(boxes):
            side = context * max(w, h, 1.0)
            s = cell / side
            x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
            m = np.array([[s, 0.0, -s * x0], [0.0, s, -s * y0]])
            cx, cy = (k % grid) * cell, (k // grid) * cell
            mosaic[cy : cy + cell, cx : cx + cell] = cv2.warpAffine(
                rgb, m, (cell, cell), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
            windows.append((cx, cy, x0, y0, s))
        out = []
        for d in self._mosaic_model().detect(mosaic):
            bx, by, bw, bh = d.box
            k = int((by + bh / 2) // cell) * grid + int((bx + bw / 2) // cell)
            if not 0 <= k < len(windows):
                continue
            cx, cy, x0, y0, s = windows[k]
            if _touches_border((bx - cx, by - cy, bw, bh), cell, cell):
                continue  # cut by its window: the face moved further than the window reaches
            box = ((bx - cx) / s + x0, (by - cy) / s + y0, bw / s, bh / s)
            kps = tuple(((px - cx) / s + x0, (py - cy) / s + y0) for px, py in d.keypoints)
            eyes = (kps[0], kps[1]) if len(kps) >= 2 else None
            out.append(Detection(box, d.score, kps, eyes))
        return out

    def _mosaic_model(self) -> ShortRangeFaces:
        # Made on first use: the background scan's twin never follows known faces.
        if self._onnx_short is None:
            self._onnx_short = ShortRangeFaces(self._args["min_score"], self._args["models"])
        return self._onnx_short

    def _run(
        self,
        model: Any,
        rgb: np.ndarray,
        tile: Tile,
        mapping: tuple[float, float, float] | None,
    ) -> Iterator[Detection]:
        view = rgb[tile.y0 : tile.y1, tile.x0 : tile.x1]
        yield from self._detect_in(model, view, tile.x0, tile.y0, mapping, tile.inner)

    def _detect_in(
        self,
        model: Any,
        view: np.ndarray,
        x0: float,
        y0: float,
        mapping: tuple[float, float, float] | None,
        inner: tuple[bool, bool, bool, bool] = (False, False, False, False),
    ) -> Iterator[Detection]:
        mp = self._mp
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(view))
        th, tw = view.shape[:2]
        for d in model.detect(image).detections:
            b = d.bounding_box
            raw = (float(b.origin_x), float(b.origin_y), float(b.width), float(b.height))
            if _touches_border(raw, tw, th, inner):
                continue  # cut by the tile; a neighbour or the whole frame sees it whole
            box = (raw[0] + x0, raw[1] + y0, raw[2], raw[3])
            if mapping is not None:
                box = _to_short_framing(box, mapping)
            kps = tuple((k.x * tw + x0, k.y * th + y0) for k in d.keypoints)
            # BlazeFace lists the subject's right eye first: image-left on an upright face.
            eyes = (kps[0], kps[1]) if len(kps) >= 2 else None
            yield Detection(box, float(d.categories[0].score), kps, eyes)

    def _unclip(self, det: Detection, rgb: np.ndarray) -> Detection:
        """MediaPipe moves boxes inside the image, so a face cut by the frame edge gets a box
        off its centre. Seen again in a black-padded window around it, it gets its real,
        unclipped box (the aligner pads the crop)."""
        x, y, w, h = det.box
        side = 3.0 * max(w, h)
        x0, y0 = round(x + w / 2 - side / 2), round(y + h / 2 - side / 2)
        n = round(side)
        window = np.zeros((n, n, 3), np.uint8)
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + n, rgb.shape[1]), min(y0 + n, rgb.shape[0])
        if fx1 <= fx0 or fy1 <= fy0:
            return det
        window[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = rgb[fy0:fy1, fx0:fx1]
        found = list(self._detect_in(self._full, window, x0, y0, _FULL_TO_SHORT))
        best = max(found, key=lambda d: geometry.iou(d.box, det.box), default=None)
        if best is None or geometry.iou(best.box, det.box) < 0.2:
            return det
        return Detection(best.box, max(best.score, det.score), best.keypoints, best.eyes)

    def close(self) -> None:
        self._finalizer()


def _touches_border(
    box: Box,
    width: float,
    height: float,
    edges: tuple[bool, bool, bool, bool] = (True, True, True, True),
    slack: float = 0.0,
) -> bool:
    """Whether the box reaches one of the given image edges (left, top, right, bottom),
    within ``slack`` box sides."""
    x, y, w, h = box
    m = 0.5 + slack * max(w, h)
    left, top, right, bottom = edges
    return (
        (left and x <= m)
        or (top and y <= m)
        or (right and x + w >= width - m)
        or (bottom and y + h >= height - m)
    )


def _close_all(models: list[Any]) -> None:
    for m in models:
        try:
            m.close()
        except RuntimeError:
            # At interpreter exit MediaPipe's call thread is already gone; the process frees
            # the model anyway. Mark it closed so its __del__ does not try again and print.
            m._handle = None


# --- OpenCV Haar cascade ------------------------------------------------------------------


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: no extra runtime, but misses tilted or turned faces
    and gives no keypoints, so crops are not rotated upright."""

    name = "opencv"
    _NEIGHBOURS = 5
    _WORK_SIDE = 640  # frames are shrunk to this longer side first: Haar cost grows with area
    scans_in_passes = False
    cost_follows_size = True

    def __init__(
        self,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        min_face: float = MIN_FACE_PX,
        models: Traversable | Path | None = None,
    ):
        self.min_score = min_score
        self.min_face = float(min_face)
        data = model_bytes(HAAR, models)
        self._cascade = cv2.CascadeClassifier()
        ok = False
        try:
            storage = cv2.FileStorage(
                data.decode("utf-8", "replace"), cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY
            )
            ok = self._cascade.read(storage.getFirstTopLevelNode())
        except (cv2.error, SystemError):
            ok = False
        if not ok or self._cascade.empty():
            where = models if models is not None else "emocam's models folder"
            raise ModelError(
                f"The face-detector model {HAAR} in {where} is corrupt; reinstall emocam."
            )

    def detect(self, image_bgr: np.ndarray, time_ms: float | None = None) -> list[Detection]:
        gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
        h, w = gray.shape[:2]
        # Shrink big frames, but never so far that min_face drops below Haar's 24 px window.
        s = min(1.0, self._WORK_SIDE / max(h, w))
        s = max(s, min(1.0, 24.0 / max(self.min_face, 1.0)))
        small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray
        small = cv2.equalizeHist(small)
        min_px = max(24, int(self.min_face * s))
        rects, counts = self._cascade.detectMultiScale2(
            small, scaleFactor=1.1, minNeighbors=self._NEIGHBOURS, minSize=(min_px, min_px)
        )
        out = []
        for (x, y, rw, rh), n in zip(rects, counts, strict=True):
            score = float(n) / (float(n) + self._NEIGHBOURS)  # more neighbours, surer: 0.5..1
            if score < self.min_score:
                continue
            box = _to_short_framing((x / s, y / s, rw / s, rh / s), _HAAR_TO_SHORT)
            out.append(Detection(box, score))
        return out

    def close(self) -> None:
        pass
