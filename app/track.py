"""Stable face ids across frames and time-based smoothing of emotion probabilities.

Faces are matched to the previous frame's tracks greedily by box overlap (IoU); a track that
misses a few frames (a blink of the detector) keeps its id, one lost for up to a second takes
back only a face that looks like it, there or, looking more like it, as far as it could have
moved meanwhile; ids are never reused.
Probabilities are smoothed with an exponential filter whose weight comes from the frame
timestamps, so the smoothing feels the same at 15, 30 or 60 fps:
``alpha = 1 - exp(-dt / tau)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from emocam.geometry import iou_matrix
from emocam.types import Box, FaceResult, Point

# With tau = 0.2 s a swap of the two leading classes moves the top label after
# tau * ln 2 = 0.14 s (4-5 frames at 30 fps), well inside the 0.3 s a viewer reads as
# immediate, while frame-to-frame noise is averaged over ~6 frames so labels do not
# flicker (tests/test_track.py measures both).
DEFAULT_TAU_S = 0.2
# When timestamps do not advance (a still image, a broken container), assume 30 fps.
_FALLBACK_DT_S = 1.0 / 30.0
# How far ahead a track's velocity is believed: this, or twice the time it was measured
# over (a slow live stream's frames come 0.5 s apart, and must be followed). Measured over a
# frame or two, it is mostly the detector's jitter (a still face "moves" 30 px/s); after a
# pause in the video, a second of it put a still face's box 30 px off and halved it, and the
# face came back with a new id.
_PREDICT_HORIZON_MS = 300.0
# How far a face not found may have gone, in its own sides: one, plus what a brisk walk
# across the view (1.4 m/s, some 8 face widths a second) covers in the time it was missing.
# A face 140 px wide may come back 250 px away after 3 frames at 30 fps, 700 px after 0.5 s.
_REACH_SIDES = 1.0
_REACH_SIDES_PER_S = 8.0
# A track's look is a running mean of its faces' looks, each this much of it: one frame's
# crop moves with the detector's box (a still face's correlated 0.54-0.96 frame to frame in
# a 720p clip), their mean far less.
_LOOK_WEIGHT = 0.3
# ... learnt only from a face scored near the best it has had: going behind a pillar, a face
# half hidden was still found for 7 frames (scores 0.85 down to 0.53, 0.79-0.92 in full view),
# and its look had become the half face's, like no one when it came out.
_LOOK_SCORE_SHARE = 0.9


@dataclass(frozen=True)
class TrackerConfig:
    tau_s: float = DEFAULT_TAU_S
    iou_threshold: float = 0.2
    # A track survives without a matching detection for this many frames or this long,
    # whichever lasts longer: at 25 fps five frames are 0.2 s, and a face gone for 6 frames
    # came back as a second person for the rest of the clip. Past max_missed frames it takes
    # a face back only where it looks like the one lost (``revive_likeness``): else another
    # person sitting down where someone left, or walking in by the edge they walked out of,
    # took their id (and their statistics merged). Missed for fewer frames, a face is taken
    # back by place alone however it looks, so someone there within 5 frames still takes the
    # id: the sample clip at --threshold 0.89 had a face back after 3 frames at 0.48 to its
    # look, Grace Hopper's look and the astronaut's correlate 0.41.
    max_missed: int = 5
    max_missed_ms: float = 1000.0
    # Correlation of the two faces' classifier crops, 24x24: the same person came back at
    # 0.98-1.0 in a QA's clips, another at 0.31-0.45; of 393 web photos' faces, different
    # people passed 3.1% of the time at 0.6.
    revive_likeness: float = 0.6
    # A face that appeared since a missing one was last seen takes its id, wherever it is,
    # only looking more like it and within reach (``_reach``): a face that walked behind a
    # pillar or past someone came back elsewhere as a second person. Of 1,476 web photos'
    # faces, each cropped six times with a detector's jitter, the same face passed 0.7 98% of
    # the time against the running mean of five looks, different people 0.74% (0.6: 99.6%,
    # 3.3%; benchmarks/track_likeness.py).
    move_likeness: float = 0.7


@dataclass
class _Track:
    face_id: int
    box: Box
    probs: np.ndarray
    time_ms: float
    missed: int = 0
    score: float = 0.0
    keypoints: tuple[Point, ...] = ()
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # centre x, y and side, per ms
    measured_ms: float = 0.0  # the time the velocity was last measured over
    look: np.ndarray | None = None  # the face as detectors found it (``_remembered``)
    best_score: float = 0.0  # the highest detector score it has had
    # The last box a detector found and when: velocity is measured between these, not
    # between boxes the schedule only predicted (frames it skipped).
    seen_box: Box = field(init=False)
    seen_ms: float = field(init=False)
    born_ms: float = field(init=False)  # when a detector first found it

    def __post_init__(self) -> None:
        self.seen_box, self.seen_ms, self.born_ms = self.box, self.time_ms, self.time_ms


@dataclass(frozen=True)
class TrackPrediction:
    """Where a live track's face should be at a given time (constant velocity)."""

    face_id: int
    box: Box
    score: float
    keypoints: tuple[Point, ...]
    missed: int  # frames since the face was last detected (0: seen in the latest frame)
    last_box: Box | None = None  # where it was when last seen, before being moved on


def _centre_side(box: Box) -> tuple[float, float, float]:
    x, y, w, h = box
    return (x + w / 2, y + h / 2, max(w, h))


def _moved(box: Box, dx: float, dy: float, grow: float) -> Box:
    """``box`` shifted by (dx, dy) and scaled by ``grow`` about its centre."""
    x, y, w, h = box
    cx, cy = x + w / 2 + dx, y + h / 2 + dy
    return (cx - w * grow / 2, cy - h * grow / 2, w * grow, h * grow)


def smoothing_alpha(dt_s: float, tau_s: float) -> float:
    """Weight of the new observation after ``dt_s`` seconds (1 = no smoothing)."""
    if tau_s <= 0:
        return 1.0
    if dt_s <= 0:
        dt_s = _FALLBACK_DT_S
    return 1.0 - math.exp(-dt_s / tau_s)


def smoothed(prev: np.ndarray | None, raw: np.ndarray, dt_s: float, tau_s: float
             ) -> np.ndarray:
    """One step of the exponential filter, in float32: ``raw`` as it is for a new face
    (``prev`` None) or without smoothing, else ``prev`` moved towards ``raw`` by
    ``smoothing_alpha``. The tracker and a re-analysis share it, so equal settings give
    equal numbers."""
    if prev is None:
        return raw.astype(np.float32)
    alpha = smoothing_alpha(dt_s, tau_s)
    if alpha >= 1.0:
        return raw.astype(np.float32)
    return prev + np.float32(alpha) * (raw - prev)


class FaceTracker:
    """Turns each frame's detections and raw probabilities into tracked, smoothed faces."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 1

    def reset(self, restart_ids: bool = False) -> None:
        """Forget all tracks (a new source); ids keep counting up so none is reused, unless
        ``restart_ids``: the same video played again, whose faces get the same ids again."""
        self._tracks = []
        if restart_ids:
            self._next_id = 1

    def predict(self, time_ms: float) -> list[TrackPrediction]:
        """Every live track moved on to ``time_ms`` at its recent velocity.

        The detection schedule looks for known faces where these boxes say, and frames that
        skip detection use them as the faces' boxes.
        """
        out = []
        for t in self._tracks:
            horizon = max(_PREDICT_HORIZON_MS, 2.0 * t.measured_ms)
            dt = min(max(0.0, time_ms - t.time_ms), horizon)
            vx, vy, vs = t.velocity
            cx, cy, side = _centre_side(t.box)
            grow = max(0.5, min(2.0, (side + vs * dt) / max(side, 1e-6)))
            box = _moved(t.box, vx * dt, vy * dt, grow)
            kps = tuple(
                (cx + vx * dt + (px - cx) * grow, cy + vy * dt + (py - cy) * grow)
                for px, py in t.keypoints
            )
            out.append(TrackPrediction(t.face_id, box, t.score, kps, t.missed, t.box))
        return out

    def _match(self, boxes: np.ndarray, looks: list[np.ndarray | None]) -> dict[int, int]:
        """Detection index -> track index, greedily by descending IoU: first the tracks
        seen lately, then the ones lost for longer, each only by a face that looks like it."""
        if not self._tracks or len(boxes) == 0:
            return {}
        prev = np.array([t.box for t in self._tracks], dtype=np.float64)
        iou = iou_matrix(boxes, prev)
        lost = np.array([t.missed > self.config.max_missed for t in self._tracks])
        pairs: dict[int, int] = {}
        used: set[int] = set()
        for stale in (False, True):
            # Few faces per frame: sorting all pairs is cheaper than anything cleverer.
            for flat in np.argsort(-np.where(lost == stale, iou, -1.0), axis=None):
                d, t = divmod(int(flat), iou.shape[1])
                if iou[d, t] < self.config.iou_threshold or lost[t] != stale:
                    break
                if d in pairs or t in used:
                    continue
                if stale and not _alike(self._tracks[t].look, looks[d],
                                        self.config.revive_likeness):
                    continue
                pairs[d] = t
                used.add(t)
        return pairs

    def _rejoin(self, found: dict[int, _Track], boxes: np.ndarray,
                looks: list[np.ndarray | None], raw_probs: np.ndarray, matched: set[int],
                time_ms: float) -> set[int]:
        """Faces ``found`` by a detector this frame (detection index -> its track) that
        appeared since a missing face was last seen take its id where they look like it
        (``move_likeness``) and could have got there (``_reach``), most alike first; returns
        the missing tracks so taken. A face that walked behind a pillar or past someone comes
        out elsewhere, half hidden at first: its first frames look like no one, and it takes
        the id back a few frames on."""
        missing = [(i, t) for i, t in enumerate(self._tracks)
                   if i not in matched and t.look is not None]
        scored = []
        for d, track in found.items():
            for i, gone in missing:
                # Found in one frame, they are two people.
                if looks[d] is None or gone.seen_ms >= track.born_ms:
                    continue
                likeness = float(gone.look @ looks[d])
                if (likeness >= self.config.move_likeness
                        and _distance(gone.seen_box, boxes[d]) <= _reach(gone, time_ms)):
                    scored.append((likeness, d, i))
        taken: set[int] = set()
        joined: set[int] = set()
        for _, d, i in sorted(scored, reverse=True):
            if d in joined or i in taken:
                continue
            gone, track = self._tracks[i], found[d]
            track.face_id, track.look = gone.face_id, _remembered(gone.look, looks[d])
            # Its emotions go on from the face's own, as they do for a face back where it
            # was lost, and as a re-analysis smooths them, by id: the new track's few frames
            # would otherwise make the run's numbers and the re-analysis's differ.
            track.probs = smoothed(gone.probs, raw_probs[d],
                                   (time_ms - gone.time_ms) / 1000.0, self.config.tau_s)
            track.best_score = max(track.best_score, gone.best_score)
            taken.add(i)
            joined.add(d)
        return taken

    def update(
        self,
        boxes: Sequence[Box],
        scores: Sequence[float],
        raw_probs: np.ndarray,
        time_ms: float,
        keypoints: Sequence[tuple[Point, ...]] | None = None,
        predicted: Sequence[bool] | None = None,
        crops: np.ndarray | None = None,
    ) -> list[FaceResult]:
        """One frame: returns a FaceResult per detection, in detection order.

        ``predicted`` marks boxes that are the tracker's own predictions (a frame the
        detection schedule skipped): they move the track but do not measure its velocity.
        """
        box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        looks = [_look(crops[d]) if crops is not None else None for d in range(len(box_arr))]
        pairs = self._match(box_arr, looks)
        matched_tracks: set[int] = set()
        tracks: list[_Track] = []
        found: dict[int, _Track] = {}  # detections a detector made, not the schedule's guesses
        for d in range(len(box_arr)):
            box: Box = tuple(float(v) for v in box_arr[d])  # type: ignore[assignment]
            raw, score = raw_probs[d], float(scores[d])
            t_idx = pairs.get(d)
            if t_idx is None:
                track = _Track(self._next_id, box, smoothed(None, raw, 0.0, 0.0), time_ms)
                self._next_id += 1
                track.look, track.best_score = looks[d], score
                self._tracks.append(track)
                matched_tracks.add(len(self._tracks) - 1)
            else:
                track = self._tracks[t_idx]
                track.probs = smoothed(track.probs, raw, (time_ms - track.time_ms) / 1000.0,
                                       self.config.tau_s)
                if not (predicted is not None and predicted[d]):
                    if score >= _LOOK_SCORE_SHARE * track.best_score:
                        track.look = _remembered(track.look, looks[d])
                    track.best_score = max(track.best_score, score)
                    track.velocity = _velocity(track, box, time_ms)
                    track.measured_ms = max(time_ms - track.seen_ms, 0.0)
                    track.seen_box, track.seen_ms = box, time_ms
                track.box, track.time_ms, track.missed = box, time_ms, 0
                matched_tracks.add(t_idx)
            track.score = score
            track.keypoints = keypoints[d] if keypoints is not None else ()
            tracks.append(track)
            if not (predicted is not None and predicted[d]):
                found[d] = track
        taken = self._rejoin(found, box_arr, looks, raw_probs, matched_tracks, time_ms)
        self._age(matched_tracks, taken, time_ms)
        return [
            FaceResult(
                face_id=track.face_id,
                box=track.box,
                score=track.score,
                probs=track.probs,
                raw_probs=raw_probs[d],
                keypoints=track.keypoints,
            )
            for d, track in enumerate(tracks)
        ]

    def _age(self, matched: set[int], taken: set[int], time_ms: float) -> None:
        """Count a frame missed by the tracks not ``matched``; drop those ``taken`` by a face
        that came back, and those missing too long."""
        kept = []
        for i, t in enumerate(self._tracks):
            if i in taken:
                continue
            if i not in matched:
                t.missed += 1
                if (t.missed > self.config.max_missed
                        and time_ms - t.time_ms > self.config.max_missed_ms):
                    continue
            kept.append(t)
        self._tracks = kept


_LOOK_SIDE = 24  # the classifier's crop, shrunk: who it is, not how they look this frame


def _look(crop: np.ndarray) -> np.ndarray:
    """A face's crop as a descriptor: ``_LOOK_SIDE`` square, zero mean, unit length."""
    small = cv2.resize(crop, (_LOOK_SIDE, _LOOK_SIDE), interpolation=cv2.INTER_AREA)
    v = small.astype(np.float32).ravel()
    v -= v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


def _alike(a: np.ndarray | None, b: np.ndarray | None, threshold: float) -> bool:
    """Whether two faces' descriptors correlate at ``threshold`` or more; never where either
    is unknown (a caller that gives no crops revives no lost track)."""
    return a is not None and b is not None and float(a @ b) >= threshold


def _remembered(look: np.ndarray | None, new: np.ndarray | None) -> np.ndarray | None:
    """A track's look after a detector found its face looking ``new``: their running mean
    (``_LOOK_WEIGHT``), of unit length as ``_look``'s are."""
    if look is None or new is None:
        return new if look is None else look
    mean = (1.0 - _LOOK_WEIGHT) * look + _LOOK_WEIGHT * new
    return mean / max(float(np.linalg.norm(mean)), 1e-6)


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Between two boxes' centres, in pixels."""
    return math.hypot(b[0] + b[2] / 2 - a[0] - a[2] / 2, b[1] + b[3] / 2 - a[1] - a[3] / 2)


def _reach(track: _Track, time_ms: float) -> float:
    """How far from where a detector last found it the track's face may be by ``time_ms``."""
    side = _centre_side(track.seen_box)[2]
    return side * (_REACH_SIDES + _REACH_SIDES_PER_S * max(time_ms - track.seen_ms, 0.0) / 1e3)


def _velocity(track: _Track, box: Box, time_ms: float) -> tuple[float, float, float]:
    """The track's velocity after a detector found it at ``box``, from the last box a
    detector found (frames between may have been predicted), averaged with the previous
    velocity: detector boxes jitter by a few pixels, so one step alone is noisy."""
    dt = time_ms - track.seen_ms
    if dt <= 0:
        return track.velocity
    (ax, ay, aside), (bx, by, bside) = _centre_side(track.seen_box), _centre_side(box)
    step = ((bx - ax) / dt, (by - ay) / dt, (bside - aside) / dt)
    if track.missed > 0 or track.velocity == (0.0, 0.0, 0.0):
        return step
    return tuple(0.5 * v + 0.5 * s for v, s in zip(track.velocity, step, strict=True))  # type: ignore[return-value]
