"""Is a face good enough to read? Size, sharpness and head turn of each detected face, and
the "uncertain" verdict that the overlay, the CSV and the summary show instead of a label.

The classifier always answers with some emotion; on a 25-px face, a motion-blurred one or a
head in profile that answer is mostly noise. These checks say so honestly. They only mark
a face: probabilities are still computed, smoothed and written, so nothing is lost when a
user disagrees with a threshold (``emocam process --reanalyse`` can re-judge with others).
Pure NumPy/OpenCV, no Qt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from emocam.types import Box, FaceQuality, FaceResult, Point

# The bundled model's crops are 48 px; a face box under 32 px is upscaled and the classifier
# mostly sees interpolation.
DEFAULT_MIN_FACE_PX = 32.0
# Laplacian variance relative to the crop's own contrast (x1000), so a dim or low-contrast
# face is not mistaken for a blurred one. Measured on the test portraits: sharp faces of
# 40-250 px score 330-1400; a 160-px face blurred with sigma 5 px (3% of its side) scores
# 45-76, with sigma 7-11 px 16-47.
DEFAULT_MIN_SHARPNESS = 50.0
# Nose offset from the eyes' midpoint along the eye line, in half eye distances: about 0 for
# a frontal face, 1 when the nose tip lines up with an eye (a three-quarter view or more).
DEFAULT_MAX_TURN = 0.6
# Below this calibrated top probability the label is a guess among two or three emotions.
DEFAULT_UNCERTAIN_BELOW = 0.4

REASONS = ("small", "turned", "blurred", "low confidence")


@dataclass(frozen=True)
class QualityConfig:
    min_face_px: float = DEFAULT_MIN_FACE_PX
    min_sharpness: float = DEFAULT_MIN_SHARPNESS
    max_turn: float = DEFAULT_MAX_TURN
    uncertain_below: float | None = None  # None: the model's own value, else the default


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of a gray crop relative to its contrast (x1000)."""
    c = crop.astype(np.float32)
    lap = cv2.Laplacian(c, cv2.CV_32F)
    return float(lap.var() / max(float(c.var()), 1.0) * 1000.0)


def head_turn(keypoints: Sequence[Point]) -> float:
    """How far the nose tip sits from the eyes' midpoint along the eye line, in half eye
    distances (BlazeFace order: eye, eye, nose tip, ...). NaN without those keypoints."""
    if len(keypoints) < 3:
        return math.nan
    (x0, y0), (x1, y1), (nx, ny) = keypoints[0], keypoints[1], keypoints[2]
    ex, ey = x1 - x0, y1 - y0
    dist = math.hypot(ex, ey)
    if dist < 1e-6:
        return math.nan
    mx, my = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    along = ((nx - mx) * ex + (ny - my) * ey) / dist  # signed, in pixels along the eye line
    return abs(along) / (dist / 2.0)


def measure(crop: np.ndarray, box: Box, keypoints: Sequence[Point] = ()) -> FaceQuality:
    """Quality of one face from the aligned crop the classifier saw and its detection."""
    return FaceQuality(float(max(box[2], box[3])), sharpness(crop), head_turn(keypoints))


def measure_all(
    crops: np.ndarray, boxes: Sequence[Box], keypoints: Sequence[Sequence[Point]]
) -> list[FaceQuality]:
    return [measure(c, b, k) for c, b, k in zip(crops, boxes, keypoints, strict=True)]


def uncertain_reason(
    q: FaceQuality, top_prob: float, config: QualityConfig, uncertain_below: float
) -> str:
    """Why this face's label should not be trusted, or "" when it can be.

    Checked from the cause a user can fix most easily (move closer, face the camera, hold
    still) to the model's own doubt.
    """
    if q.size_px < config.min_face_px:
        return "small"
    if not math.isnan(q.turn) and q.turn > config.max_turn:
        return "turned"
    if q.sharpness < config.min_sharpness:
        return "blurred"
    if top_prob < uncertain_below:
        return "low confidence"
    return ""


def resolve_uncertain_below(config: QualityConfig, model_value: float | None) -> float:
    """The confidence threshold: the user's, else the model's metadata, else the default."""
    if config.uncertain_below is not None:
        return config.uncertain_below
    if model_value is not None:
        return model_value
    return DEFAULT_UNCERTAIN_BELOW


def judge(
    faces: Sequence[FaceResult],
    qualities: Sequence[FaceQuality],
    config: QualityConfig,
    uncertain_below: float,
) -> None:
    """Attach each face's quality and verdict (in place; faces and qualities in one order)."""
    for face, q in zip(faces, qualities, strict=True):
        face.quality = q
        face.uncertain = uncertain_reason(q, face.confidence, config, uncertain_below)
