"""Stable face ids across frames and time-based smoothing of emotion probabilities.

Faces are matched to the previous frame's tracks greedily by box overlap (IoU); a track that
misses a few frames (a blink of the detector) keeps its id, and ids are never reused.
Probabilities are smoothed with an exponential filter whose weight comes from the frame
timestamps, so the smoothing feels the same at 15, 30 or 60 fps:
``alpha = 1 - exp(-dt / tau)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emocam.types import Box, FaceResult, Point

# With tau = 0.2 s a swap of the two leading classes moves the top label after
# tau * ln 2 = 0.14 s (4-5 frames at 30 fps), well inside the 0.3 s a viewer reads as
# immediate, while frame-to-frame noise is averaged over ~6 frames so labels do not
# flicker (tests/test_track.py measures both).
DEFAULT_TAU_S = 0.2
# When timestamps do not advance (a still image, a broken container), assume 30 fps.
_FALLBACK_DT_S = 1.0 / 30.0


@dataclass(frozen=True)
class TrackerConfig:
    tau_s: float = DEFAULT_TAU_S
    iou_threshold: float = 0.2
    max_missed: int = 5  # frames a track survives without a matching detection


@dataclass
class _Track:
    face_id: int
    box: Box
    probs: np.ndarray
    time_ms: float
    missed: int = 0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every ``(x, y, w, h)`` box in ``a`` (M, 4) with every one in ``b`` (N, 4)."""
    ax0, ay0 = a[:, 0:1], a[:, 1:2]
    ax1, ay1 = ax0 + a[:, 2:3], ay0 + a[:, 3:4]
    bx0, by0 = b[:, 0], b[:, 1]
    bx1, by1 = bx0 + b[:, 2], by0 + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0.0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0.0, None)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    return inter / np.maximum(union, 1e-9)


def smoothing_alpha(dt_s: float, tau_s: float) -> float:
    """Weight of the new observation after ``dt_s`` seconds (1 = no smoothing)."""
    if tau_s <= 0:
        return 1.0
    if dt_s <= 0:
        dt_s = _FALLBACK_DT_S
    return 1.0 - math.exp(-dt_s / tau_s)


class FaceTracker:
    """Turns each frame's detections and raw probabilities into tracked, smoothed faces."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget all tracks (a new source); ids keep counting up so none is reused."""
        self._tracks = []

    def _match(self, boxes: np.ndarray) -> dict[int, int]:
        """Detection index -> track index, greedily by descending IoU."""
        if not self._tracks or len(boxes) == 0:
            return {}
        prev = np.array([t.box for t in self._tracks], dtype=np.float64)
        iou = iou_matrix(boxes, prev)
        pairs: dict[int, int] = {}
        used: set[int] = set()
        # Few faces per frame: sorting all pairs is cheaper than anything cleverer.
        for flat in np.argsort(-iou, axis=None):
            d, t = divmod(int(flat), iou.shape[1])
            if iou[d, t] < self.config.iou_threshold:
                break
            if d in pairs or t in used:
                continue
            pairs[d] = t
            used.add(t)
        return pairs

    def update(
        self,
        boxes: Sequence[Box],
        scores: Sequence[float],
        raw_probs: np.ndarray,
        time_ms: float,
        keypoints: Sequence[tuple[Point, ...]] | None = None,
    ) -> list[FaceResult]:
        """One frame: returns a FaceResult per detection, in detection order."""
        box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        pairs = self._match(box_arr)
        results: list[FaceResult] = []
        matched_tracks: set[int] = set()
        for d in range(len(box_arr)):
            box: Box = tuple(float(v) for v in box_arr[d])  # type: ignore[assignment]
            raw = raw_probs[d]
            t_idx = pairs.get(d)
            if t_idx is None:
                track = _Track(self._next_id, box, raw.astype(np.float32), time_ms)
                self._next_id += 1
                self._tracks.append(track)
                matched_tracks.add(len(self._tracks) - 1)
            else:
                track = self._tracks[t_idx]
                alpha = smoothing_alpha((time_ms - track.time_ms) / 1000.0, self.config.tau_s)
                if alpha >= 1.0:
                    track.probs = raw.astype(np.float32)
                else:
                    track.probs = track.probs + np.float32(alpha) * (raw - track.probs)
                track.box, track.time_ms, track.missed = box, time_ms, 0
                matched_tracks.add(t_idx)
            results.append(
                FaceResult(
                    face_id=track.face_id,
                    box=box,
                    score=float(scores[d]),
                    probs=track.probs,
                    raw_probs=raw,
                    keypoints=keypoints[d] if keypoints is not None else (),
                )
            )
        self._age(matched_tracks)
        return results

    def _age(self, matched: set[int]) -> None:
        kept = []
        for i, t in enumerate(self._tracks):
            if i not in matched:
                t.missed += 1
                if t.missed > self.config.max_missed:
                    continue
            kept.append(t)
        self._tracks = kept
