"""Which detector work each frame gets, so a video runs in real time without losing faces.

A full scan (both BlazeFace models on the whole frame, the full-range model on every tile)
costs ~20-30 ms a frame on two cores. Most of it re-finds faces that were already found a
frame ago. The schedule splits the work:

- known faces are looked for again every detection frame, near where the tracker expects
  them, with one cheap short-range call per four faces (``PassDetector.redetect``), so
  boxes follow motion;
- the full scan's passes take turns, ``passes_per_scan`` per scan, to find new faces: the
  whole frame every other scan, each tile level in a share that halves with each finer
  level (720p: every tile every 4 scans; 1080p: coarse tiles every 8, 540 px ones every 60);
- frames between detection frames (``detect_every`` > 1) keep the tracker's predicted boxes;
- the scan's pace is set in seconds of video, not frames (``max_scans_per_s``): a 60 fps
  source is scanned every other frame, so a new face is found as soon, in seconds, as in a
  30 fps one, for half the scanning per frame.

The scan runs on a second thread while the frame is classified, drawn and encoded; a face it
finds is confirmed, with a fresh box, by the next frame's mosaic. On two cores this takes
the full-range model (~5.5 ms a call) off the frame's critical path.

Every frame gets a result; only the work behind it varies. The first frame after a reset
(a new video, a still photo) gets the full scan.

What the schedule may do with a detector, it learns from the detector itself
(``Detector.scans_in_passes``, ``cost_follows_size``): a third detector needs no change here.
Holding a target frame rate by moving along ``LADDER`` is ``emocam.governor``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, cast

import cv2
import numpy as np

from emocam.detect import merge
from emocam.geometry import centre_inside, iou
from emocam.track import TrackPrediction
from emocam.types import Box, Detection, Detector, PassDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleConfig:
    detect_every: int = 1  # run the detector on every k-th frame; frames between are tracked
    scan_every: int = 1  # look for new faces on every n-th detection frame
    passes_per_scan: int = 1  # full-scan passes (model calls) per such frame
    # At most this many scans per second of video: a faster source (60 fps footage, a 60 Hz
    # camera) skips frames between scans. With MediaPipe known faces are still found again
    # every detection frame; a detector without passes (Haar) finds all faces in a scan.
    max_scans_per_s: float = 30.0
    scale: float = 1.0  # detection input size for new faces, relative to the frame
    max_missed: int = 5  # detection frames a known face is looked for after it was lost
    # Scan for new faces on a second thread, overlapping the frame's other work; what it
    # finds is confirmed in the next frame. The first frame after a reset is scanned whole.
    background_scan: bool = True


# Cheapest last. A rung trades responsiveness to new faces (scan_every, detect_every) first,
# then small faces (scale: tiles are planned on the shrunk frame, so fewer are needed).
LADDER: tuple[ScheduleConfig, ...] = (
    ScheduleConfig(),
    ScheduleConfig(scan_every=2),
    ScheduleConfig(detect_every=2, scan_every=2),
    ScheduleConfig(detect_every=2, scan_every=2, scale=0.75),
    ScheduleConfig(detect_every=3, scan_every=3, scale=0.5),
    ScheduleConfig(detect_every=4, scan_every=4, scale=0.5),
)


def ladder_for(detector: Detector) -> tuple[ScheduleConfig, ...]:
    """The rungs that pay off for ``detector``. A MediaPipe scan pass is one call of a
    network with a fixed 192 px input whatever the frame's size, so shrinking the frame
    first only adds the resize (3 ms of CPU a frame at 720p) and loses small faces: its
    rungs keep the full size and only look less often."""
    if detector.cost_follows_size:
        return LADDER
    rungs: list[ScheduleConfig] = []
    for cfg in LADDER:
        cfg = replace(cfg, scale=1.0)
        if cfg not in rungs:
            rungs.append(cfg)
    return tuple(rungs)


def _nth(n: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def describe(cfg: ScheduleConfig) -> str:
    """How much detection a schedule does, in a few words for the performance panel."""
    parts = ["every frame" if cfg.detect_every == 1 else f"every {_nth(cfg.detect_every)} frame"]
    scan = cfg.detect_every * cfg.scan_every
    parts.append("new faces every frame" if scan == 1 else f"new faces every {_nth(scan)}")
    if cfg.max_scans_per_s > 0:
        parts[-1] += f" (at most {cfg.max_scans_per_s:g}/s)"
    if cfg.scale < 1.0:
        parts.append(f"{cfg.scale:.0%} size")
    return "; ".join(parts)


class DetectionSchedule:
    """Detections for one frame of a stream, spreading the detector's work over frames."""

    def __init__(self, detector: Detector, config: ScheduleConfig | None = None):
        self.detector = detector
        self.config = config or ScheduleConfig()
        self._frame = 0  # frames since reset
        self._turn = 0  # scan passes taken in turn since reset
        self._scans = 0  # scans since reset
        self._since_scan = 0  # detection frames since the last scan
        self._scan_ms: float | None = None  # the last scanned frame's time
        self._visits: dict[int, int] = {}  # passes run per level since reset
        self._rgb: np.ndarray | None = None
        self._scanner: PassDetector | None = None  # the background scan's own detector
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[list[Detection]] | None = None

    def reset(self) -> None:
        """A new source: the next frame gets a full scan."""
        self._collect()
        self._frame = self._turn = self._scans = self._since_scan = 0
        self._scan_ms = None
        self._visits.clear()

    @property
    def scans(self) -> int:
        """Scans for new faces since the last reset, the whole-frame scan of the first
        frame included."""
        return self._scans

    def detect(
        self, image_bgr: np.ndarray, known: Sequence[TrackPrediction], time_ms: float | None = None
    ) -> list[Detection]:
        """Faces in this frame; ``known`` are the tracker's faces predicted to this frame,
        ``time_ms`` its time in the source (None: pace the scan by frames only)."""
        index, self._frame = self._frame, self._frame + 1
        first = index == 0
        if not first and index % max(1, self.config.detect_every):
            return _carry(known)
        self._since_scan += 1
        scan = first or (
            self._since_scan >= max(1, self.config.scan_every) and self._scan_is_due(time_ms)
        )
        if scan:
            self._scans += 1
            self._since_scan, self._scan_ms = 0, time_ms
        if not self.detector.scans_in_passes:
            return self._detect_other(image_bgr) if scan else _carry(known)
        return self._detect_in_passes(image_bgr, known, scan, full=first)

    def _scan_is_due(self, time_ms: float | None) -> bool:
        if time_ms is None or self._scan_ms is None or self.config.max_scans_per_s <= 0:
            return True
        elapsed = time_ms - self._scan_ms
        # A little early is on time: a 30 fps camera's frames arrive a few ms apart either
        # way. Time that stands still or runs back (a reset source) does not hold a scan back.
        return elapsed >= 800.0 / self.config.max_scans_per_s or elapsed <= 0

    def _detect_other(self, image_bgr: np.ndarray) -> list[Detection]:
        # A detector without passes (Haar) runs whole; scale is its only lever.
        s = self.config.scale
        if s >= 1.0:
            return self.detector.detect(image_bgr)
        small = cv2.resize(image_bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        return [_scaled(d, 1.0 / s) for d in self.detector.detect(small)]

    def _detect_in_passes(
        self, image_bgr: np.ndarray, known: Sequence[TrackPrediction], scan: bool, full: bool
    ) -> list[Detection]:
        det = cast(PassDetector, self.detector)  # scans_in_passes says it is one
        # The previous frame's background scan must finish before the buffer it reads is
        # overwritten; waiting for it (never skipping it) keeps file results deterministic.
        scanned = self._collect()
        rgb = self._to_rgb(image_bgr)
        whole: list[Detection] = []  # a full scan's whole-frame finds
        if full:
            whole, scanned = self._scan(det, rgb, full=True)
            scanned += whole
        elif scan and self.config.background_scan:
            self._submit(rgb)
        elif scan:
            scanned = self._scan(det, rgb, full=False)[1]
        seeds = [p.box for p in known if p.missed <= self.config.max_missed]
        # A face whose prediction moved it a good part of its side is also looked for where
        # it was: after a frame rate falls (a phone video: 20 fps, then 3), its velocity is
        # carried six frames' time ahead, a face side past it, and it was lost for a frame.
        seeds += [p.last_box for p in known if p.missed <= self.config.max_missed
                  and p.last_box is not None and _moved_far(p.box, p.last_box)]
        new = [d for d in merge(scanned) if not any(_same_face(d.box, b) for b in seeds)]
        found = det.redetect(rgb, seeds + [d.box for d in new]) if seeds or new else []
        if not full:
            # A face the background scan found but the short-range model does not confirm
            # was, in every video measured, a one-frame phantom (a neck, a collar) shown for
            # a single frame under a new id; real faces down to 28 px at 1080p confirm.
            return merge(found)
        # A photo or a video's first frame has no later look: the full-range model's own box
        # stands where the mosaic's short-range model does not see the face (it sees fewer
        # small faces), unless only a tile saw it, weakly, and the second look is no better.
        unsure = [d for d in new if _tile_guess(d, whole, found)]
        found = [f for f in found if not any(_same_face(f.box, d.box) for d in unsure)]
        missed = [d for d in new if d not in unsure
                  and not any(_same_face(d.box, f.box) for f in found)]
        return merge(found + missed)

    def _scan(
        self, det: PassDetector, rgb: np.ndarray, full: bool
    ) -> tuple[list[Detection], list[Detection]]:
        """The scan's raw finds: those of the whole frame, then those of tiles (a full scan
        runs every pass; a partial one its share, all given as the second list)."""
        s = min(1.0, self.config.scale)
        small = rgb
        if s < 1.0:
            small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        levels = det.pass_levels(w, h)
        if full:
            parts = [levels[0], [p for level in levels[1:] for p in level]]
        else:
            parts = [[], [self._next(levels) for _ in range(max(1, self.config.passes_per_scan))]]
        found = [det.run_passes(small, chosen) for chosen in parts]
        if s < 1.0:
            found = [[_scaled(d, 1.0 / s) for d in dets] for dets in found]
        return found[0], found[1]

    def _submit(self, rgb: np.ndarray) -> None:
        if self._scanner is None:
            self._scanner = cast(PassDetector, self.detector).twin()
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="face-scan")
        assert self._pool is not None
        scanner = self._scanner
        self._pending = self._pool.submit(lambda: self._scan(scanner, rgb, False)[1])

    def _collect(self) -> list[Detection]:
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else []

    def _next(self, levels: list[list[Any]]) -> Any:
        """The next pass in turn. Level k gets every 2**(k+1)-th turn (the finest level
        shares the last share), so the whole frame, where most new faces show, is looked
        at every other scan, and a level of many small tiles does not delay it."""
        turn = self._turn
        self._turn += 1
        level = min((turn + 1 & -(turn + 1)).bit_length() - 1, len(levels) - 1)
        passes = levels[level]
        k = self._visits.get(level, 0)
        self._visits[level] = k + 1
        return passes[k % len(passes)]

    def close(self) -> None:
        """Stop the background scan (its thread and its detector)."""
        self._collect()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._scanner is not None:
            self._scanner.close()
            self._scanner = None

    def _to_rgb(self, image_bgr: np.ndarray) -> np.ndarray:
        h, w = image_bgr.shape[:2]
        if self._rgb is None or self._rgb.shape != (h, w, 3):
            self._rgb = np.empty((h, w, 3), np.uint8)
        return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB, dst=self._rgb)


# A face only a tile saw, below this score, needs the mosaic's second look at this score or
# more. In photos of 12 megapixels and more the finest tiles see face-like details (a glove,
# a patch: scores 0.50-0.64, second looks 0.50-0.57, in an astronaut's photo 3000-8000 px
# wide: 16 false faces, now none); of 605 real faces found at 20-110 px in group photos, 601
# pass (docs/BENCHMARKS.md, "False faces in large photos").
_SURE_SCORE = 0.7
_CONFIRM_SCORE = 0.6


def _tile_guess(d: Detection, whole: Sequence[Detection], found: Sequence[Detection]) -> bool:
    """Whether ``d`` is a weak find of a tile alone that the second look does not back."""
    if d.score >= _SURE_SCORE or any(_same_face(d.box, w.box) for w in whole):
        return False
    return not any(f.score >= _CONFIRM_SCORE and _same_face(d.box, f.box) for f in found)


def _moved_far(box: Box, was: Box) -> bool:
    """Whether ``box`` lies more than a third of its side from ``was``: a face still where
    it was would then sit off-centre in the mosaic's window around ``box``, near or past its
    edge (the window is 2.4 sides wide), where it is cut and not taken."""
    (x, y, w, h), (px, py, pw, ph) = box, was
    side = max(w, h, 1.0)
    return math.hypot(x + w / 2 - px - pw / 2, y + h / 2 - py - ph / 2) > side / 3


def _same_face(a: Box, b: Box) -> bool:
    """Boxes of one face: overlapping, or one's centre inside the other (faces do not nest)."""
    return iou(a, b) > 0.3 or centre_inside(a, b) or centre_inside(b, a)


def _from_track(p: TrackPrediction) -> Detection:
    eyes = (p.keypoints[0], p.keypoints[1]) if len(p.keypoints) >= 2 else None
    return Detection(p.box, p.score, p.keypoints, eyes, predicted=True)


def _carry(known: Sequence[TrackPrediction]) -> list[Detection]:
    return [_from_track(p) for p in known if p.missed == 0]


def _scaled(d: Detection, f: float) -> Detection:
    x, y, w, h = d.box
    box: Box = (x * f, y * f, w * f, h * f)
    kps = tuple((px * f, py * f) for px, py in d.keypoints)
    eyes = (kps[0], kps[1]) if d.eyes is not None and len(kps) >= 2 else None
    if d.eyes is not None and eyes is None:
        eyes = ((d.eyes[0][0] * f, d.eyes[0][1] * f), (d.eyes[1][0] * f, d.eyes[1][1] * f))
    return Detection(box, d.score, kps, eyes)
