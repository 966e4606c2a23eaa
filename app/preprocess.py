"""Face crops and input normalisation, shared by the app and by ``fer-train``.

Training imports these functions rather than re-implementing them: a crop framed or
normalised differently at serving time than at training time silently costs accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

ArrayLike = TypeVar("ArrayLike")


@dataclass(frozen=True)
class Normalization:
    """``model_input = (pixel * scale - mean) / std`` with pixels in 0..255."""

    scale: float = 1.0 / 255.0
    mean: float = 0.5
    std: float = 0.5


@dataclass(frozen=True)
class CropSpec:
    """How a detector box becomes the square crop the model was trained on.

    FER2013 images frame the face from the forehead to just below the chin; the detectors
    return a box from the brows to the chin, so the crop is ``scale`` times the box side and
    its centre moves by ``shift_y`` box sides (negative is up).
    """

    size: int = 48
    scale: float = 1.25
    shift_y: float = -0.05


def normalize(pixels: ArrayLike, norm: Normalization) -> ArrayLike:
    """Map 0..255 pixels to model input; works on NumPy arrays and TensorFlow tensors alike."""
    return (pixels * norm.scale - norm.mean) / norm.std  # type: ignore[operator]


def to_gray(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Any 8-bit image (gray, BGR or BGRA) as a 2-D uint8 gray image; ``out``: a buffer of
    that size to convert into (a video's frames reuse one)."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(image, code) if out is None else cv2.cvtColor(image, code, dst=out)


def similarity_matrix(
    center: tuple[float, float], side: float, angle_deg: float, out_size: int
) -> np.ndarray:
    """The 2x3 affine that maps a square of ``side`` pixels around ``center``, rotated by
    ``angle_deg`` (counter-clockwise in image coordinates), onto an ``out_size`` square."""
    s = out_size / max(side, 1e-6)
    a = math.radians(angle_deg)
    cos, sin = s * math.cos(a), s * math.sin(a)
    cx, cy = center
    half = out_size / 2.0
    # Rotate about the centre, scale to the output, then move the centre to the output middle.
    return np.array(
        [
            [cos, sin, half - cos * cx - sin * cy],
            [-sin, cos, half + sin * cx - cos * cy],
        ],
        dtype=np.float64,
    )


def eye_angle(left_eye: tuple[float, float], right_eye: tuple[float, float]) -> float:
    """Angle in degrees that makes the eyes level (image-left eye first)."""
    dx = right_eye[0] - left_eye[0]
    dy = right_eye[1] - left_eye[1]
    if dx * dx + dy * dy < 1e-6:
        return 0.0
    return math.degrees(math.atan2(dy, dx))


def face_matrix(
    box: Sequence[float],
    spec: CropSpec,
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
    pixel_aspect: float = 1.0,
) -> np.ndarray:
    """The affine that takes a detector box ``(x, y, w, h)`` to the model's square crop.

    With eye keypoints the crop is rotated so the eyes are level. ``pixel_aspect``: the
    width of the image's pixels over their height (an anamorphic video's, 32/27 for a 16:9
    DVD stored 720x480); the crop is then square as the picture is shown, so the model sees
    the face in its true shape, not 16% narrower. At 1 the matrix is exactly as without it.
    """
    x, y, w, h = (float(v) for v in box)
    # The detector's box is square in the stored pixels it ran on, so pixel_aspect times as
    # wide as tall as shown: its side as shown is that of the square of the same area. On
    # 1,459 mux-dev faces squeezed as a DVD stores them this crop changed the top label of
    # 8.3% (the box's longer side as shown: 11.6%; no correction: 16.3%; docs/BENCHMARKS.md).
    side = max(w, h) * math.sqrt(pixel_aspect)
    # Framed in shown pixels (x widened by the aspect), mapped back to stored ones at the end.
    x, w = x * pixel_aspect, w * pixel_aspect
    if eyes is not None:
        eyes = ((eyes[0][0] * pixel_aspect, eyes[0][1]), (eyes[1][0] * pixel_aspect, eyes[1][1]))
    angle = eye_angle(*eyes) if eyes is not None else 0.0
    # Shift along the face's own vertical axis, which is tilted when the head is.
    a = math.radians(angle)
    dy = spec.shift_y * side
    center = (x + w / 2.0 - math.sin(a) * dy, y + h / 2.0 + math.cos(a) * dy)
    matrix = similarity_matrix(center, side * spec.scale, angle, spec.size)
    matrix[:, 0] *= pixel_aspect  # a stored pixel's x is pixel_aspect times as far shown
    return matrix


# Up to 16x: a face's crop is then the same whether the camera gives it 140 or 840 px (at
# 4x, a photo's 500-px face still aliased). A 300-px face's crop costs 0.13 ms, a 1200-px
# one's 0.8 ms (docs/BENCHMARKS.md, "The crop of a large face").
_MAX_SUPERSAMPLE = 16


def supersampling(matrix: np.ndarray) -> int:
    """The multiple of the crop's size a face is warped to before area-averaging down."""
    zoom = math.sqrt(abs(matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]))
    return int(min(_MAX_SUPERSAMPLE, max(1, math.floor(1.0 / max(zoom, 1e-6)))))


def warp_gray(gray: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp into a ``size`` square; parts outside the frame repeat the edge.

    A large face shrunk to 48 px with bilinear sampling aliases (FER2013 images are smooth),
    so big reductions warp to an integer multiple of ``size`` first and area-average down.
    """
    k = supersampling(matrix)
    m = matrix * k if k > 1 else matrix
    out = cv2.warpAffine(
        gray, m, (size * k, size * k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


def crop_faces(
    gray: np.ndarray,
    boxes: Sequence[Sequence[float]],
    spec: CropSpec,
    eyes: Sequence[tuple[tuple[float, float], tuple[float, float]] | None] | None = None,
    pixel_aspect: float = 1.0,
) -> np.ndarray:
    """All faces of one frame as an ``(N, size, size)`` uint8 batch, ready for ``normalize``;
    ``pixel_aspect``: the frame's pixels' shape (see ``face_matrix``)."""
    out = np.empty((len(boxes), spec.size, spec.size), dtype=np.uint8)
    for i, box in enumerate(boxes):
        m = face_matrix(box, spec, eyes[i] if eyes is not None else None, pixel_aspect)
        out[i] = warp_gray(gray, m, spec.size)
    return out
