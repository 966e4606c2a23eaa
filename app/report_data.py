"""What the run's report needs beyond the JSON summary, gathered frame by frame: each face's
probabilities over time (for its timeline) and a thumbnail of it at its most confident
moment (only when the run keeps frames; blurred under ``--blur-faces``, none under
``--boxes-only``).

Memory grows by 4 bytes per class per face per frame (about 15 MB for an hour of four faces
at 30 fps), and by a few kB per face for its thumbnail, kept as a JPEG (a 112-pixel picture
was 37 kB: a run of thousands of short-lived faces, or a folder of thousands of photos, held
hundreds of MB of them); the plots are drawn from at most ``BINS`` means per face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from emocam.overlay import anonymise_face, widened_picture
from emocam.types import Box, FrameResult

THUMB_PX = 112  # a thumbnail's longer side
_MARGIN = 0.25  # of the face box, on each side: the thumbnail shows a little hair and chin


class _Rows:
    """A float32 table that grows by doubling (one row per frame a face is seen)."""

    def __init__(self, width: int):
        # Small at first: most faces of a long run are seen for a few frames only.
        self._data = np.empty((16, width), np.float32)
        self.n = 0

    def append(self, row: np.ndarray) -> None:
        if self.n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self.n] = row
        self.n += 1

    @property
    def rows(self) -> np.ndarray:
        return self._data[: self.n]


@dataclass(frozen=True)
class Thumbnail:
    """A face's picture, at most THUMB_PX a side, as the JPEG the report embeds."""

    jpeg: bytes
    width: int
    height: int


@dataclass
class FaceSeries:
    """One face over the run: time (s) and probabilities per frame, and its best moment."""

    table: _Rows
    best_confidence: float = -1.0
    best_time_ms: float = 0.0
    thumbnail: Thumbnail | None = None

    @property
    def times_s(self) -> np.ndarray:
        return self.table.rows[:, 0]

    @property
    def probs(self) -> np.ndarray:
        return self.table.rows[:, 1:]


@dataclass
class ReportCollector:
    """Fed every frame by the run's sinks (before the overlay is drawn on the frame)."""

    class_names: tuple[str, ...]
    thumbnails: bool  # the run keeps frames and shows camera pixels
    blur: bool = False  # --blur-faces: a thumbnail is smeared as the annotated output is
    pixel_aspect: float = 1.0  # the frames' pixels' shape: thumbnails are widened as shown
    faces: dict[int, FaceSeries] = field(default_factory=dict)
    last_time_s: float = 0.0

    def add(self, image: np.ndarray | None, result: FrameResult) -> None:
        t_ms = result.frame.time_ms
        self.last_time_s = max(self.last_time_s, t_ms / 1000.0)
        for face in result.faces:
            series = self.faces.get(face.face_id)
            if series is None:
                series = self.faces[face.face_id] = FaceSeries(_Rows(len(self.class_names) + 1))
            series.table.append(np.concatenate([[t_ms / 1000.0], face.probs]))
            if face.confidence > series.best_confidence:
                series.best_confidence = face.confidence
                series.best_time_ms = t_ms
                if self.thumbnails and image is not None and image.size:
                    series.thumbnail = thumbnail(image, face.box, self.blur,
                                                  self.pixel_aspect)


def thumbnail(image: np.ndarray, box: Box, blur: bool, aspect: float = 1.0
              ) -> Thumbnail | None:
    """The face and a margin around it, cut out, shrunk and compressed (the frame goes on).
    An anamorphic video's stored pixels (``aspect`` not 1: a 16:9 DVD's 720x480, 32:27) are
    widened as players show them, and the margin is measured there: the face keeps the shape
    it has in the app and the annotated video (cut from the stored pixels, it was 16% too
    narrow)."""
    fh, fw = image.shape[:2]
    x, y, w, h = box
    m = _MARGIN * max(w * aspect, h)  # in shown pixels; across, 1/aspect as many stored ones
    x0, y0 = max(0, int(x - m / aspect)), max(0, int(y - m))
    x1, y1 = min(fw, int(x + w + m / aspect + 0.5)), min(fh, int(y + h + m + 0.5))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = image[y0:y1, x0:x1]
    crop = widened_picture(crop, aspect) if aspect != 1 else crop.copy()
    if blur:  # on the widened picture, as the annotated video blurs it (draw_as_shown)
        sx = crop.shape[1] / (x1 - x0)
        anonymise_face(crop, ((x - x0) * sx, y - y0, w * sx, h))
    scale = THUMB_PX / max(crop.shape[:2])
    if scale < 1:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return Thumbnail(buf.tobytes(), crop.shape[1], crop.shape[0]) if ok else None
