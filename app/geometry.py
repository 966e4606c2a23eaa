"""Box geometry, in one place: overlap (IoU) and containment of face boxes.

Boxes are ``(x, y, w, h)`` in pixels, as everywhere in emocam, except in
``iou_matrix_corners``, which takes BlazeFace's raw ``(x0, y0, x1, y1)`` corners so its
suppression runs on the network's numbers without a conversion that could round them.
Each function keeps the exact arithmetic of the copy it replaced, so results are unchanged
to the last bit.
"""

from __future__ import annotations

import numpy as np

from emocam.types import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes; 0 when the union is empty."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def centre_inside(a: Box, b: Box) -> bool:
    """Whether the centre of ``a`` lies in ``b``."""
    cx, cy = a[0] + a[2] / 2, a[1] + a[3] / 2
    return b[0] <= cx <= b[0] + b[2] and b[1] <= cy <= b[1] + b[3]


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


def iou_matrix_corners(boxes: np.ndarray) -> np.ndarray:
    """IoU of every pair of ``(x0, y0, x1, y1)`` boxes (N, 4); 0 where the union is empty."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area[:, None] + area[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
