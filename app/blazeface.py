"""BlazeFace short-range in onnxruntime, on the calling thread.

The per-frame search around known faces (``MediaPipeDetector.redetect``) sits on the
frame's critical path. Through MediaPipe, each call is handed to its graph threads and the
caller waits; with the background scan and the video encoder busy on two cores, that wait
was ~3x the model's own time. The same weights (``fer-train detector-onnx``) run here on
the calling thread, and this module does what MediaPipe's graph does after the network:
SSD anchors, box decoding and weighted suppression, with the graph's settings
(``face_detection_short_range.pbtxt`` in mediapipe 0.10): 896 anchors from strides
8, 16, 16, 16 on a 128 px input, fixed-size anchors, scores through a sigmoid, overlaps
above 0.3 averaged by score.
"""

from __future__ import annotations

import logging
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from emocam import geometry
from emocam.errors import ModelError
from emocam.integrity import model_bytes
from emocam.types import DEFAULT_MIN_SCORE, Detection

log = logging.getLogger(__name__)

SHORT_RANGE_ONNX = "face_detection_short_range.onnx"
INPUT = 128
_SUPPRESSION_IOU = 0.3
_LOGIT_CLIP = 100.0


def _anchors() -> np.ndarray:
    """Anchor centres (x, y) in [0, 1], in the order of the network's 896 outputs: a 16x16
    grid with 2 anchors per cell (stride 8), then an 8x8 grid with 6 (three stride-16 layers
    of 2, merged because they share the grid)."""
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
        xs, ys = np.meshgrid(centres, centres)
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(out)


_ANCHORS = _anchors()


class ShortRangeFaces:
    """Faces in one 128x128 RGB image, boxes and keypoints in its pixels."""

    def __init__(
        self, min_score: float = DEFAULT_MIN_SCORE, folder: Traversable | Path | None = None
    ):
        where = folder if folder is not None else resources.files("emocam.models")
        path = where / SHORT_RANGE_ONNX
        data = model_bytes(SHORT_RANGE_ONNX, where)
        try:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # one 128 px image: a second thread costs more
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(
                data, sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime's errors share no base class beyond Exception
            raise ModelError(f"The face-detector model {path} is corrupt; reinstall emocam.") from e
        self._input = self._session.get_inputs()[0].name
        score = min(max(min_score, 1e-6), 1 - 1e-6)
        self._min_logit = float(np.log(score / (1 - score)))
        self._x = np.empty((1, INPUT, INPUT, 3), np.float32)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if rgb.shape != (INPUT, INPUT, 3):
            raise ValueError(f"expected a {INPUT}x{INPUT} RGB image, got {rgb.shape}")
        # The graph's input range: [0, 255] -> [-1, 1].
        np.multiply(rgb, 1 / 127.5, out=self._x[0], casting="unsafe")
        self._x -= 1.0
        regressors, scores = self._session.run(None, {self._input: self._x})
        logits = np.clip(scores[0, :, 0], -_LOGIT_CLIP, _LOGIT_CLIP)
        keep = np.flatnonzero(logits >= self._min_logit)
        if keep.size == 0:
            return []
        raw = regressors[0, keep] / INPUT
        centre = raw[:, 0:2] + _ANCHORS[keep]
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) * INPUT
        keypoints = (raw[:, 4:16].reshape(-1, 6, 2) + _ANCHORS[keep, None, :]) * INPUT
        return _suppress(boxes, keypoints, 1.0 / (1.0 + np.exp(-logits[keep])))


def _suppress(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """MediaPipe's weighted suppression: each group of overlapping detections, led by its
    best, becomes one with the score-weighted mean box and keypoints and the best score."""
    # A mosaic of four faces keeps ~30 anchors in ~4 groups: one pairwise matrix and one
    # product for all groups cost a fraction of per-group array work (~0.2 ms a group).
    overlaps = geometry.iou_matrix_corners(boxes) > _SUPPRESSION_IOU
    order = np.argsort(-scores, kind="stable")
    leaders, weights = [], []
    while order.size:
        inside = overlaps[order[0], order]
        inside[0] = True  # the leader is in its own group, even with an empty box
        group = order[inside]
        w = np.zeros_like(scores)
        w[group] = scores[group]
        leaders.append(order[0])
        weights.append(w)
        order = order[~inside]
    w = np.stack(weights)
    w /= w.sum(axis=1, keepdims=True)
    means = w @ np.concatenate([boxes, keypoints.reshape(len(boxes), -1)], axis=1)
    out = []
    for lead, row in zip(leaders, means.tolist(), strict=True):
        x0, y0, x1, y1 = row[:4]
        kps = tuple(zip(row[4::2], row[5::2], strict=True))
        # BlazeFace lists the subject's right eye first: image-left on an upright face.
        out.append(Detection((x0, y0, x1 - x0, y1 - y0), float(scores[lead]), kps,
                             (kps[0], kps[1])))
    return out
