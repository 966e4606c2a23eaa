"""Draws tracked faces onto a BGR frame: box, id, top emotion and per-class probability bars.

Sizes follow the frame's resolution (and a little the face's size), so the same overlay is
legible on a 480p webcam and on a 4K video. Drawing happens in place with cv2 only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from emocam.types import FaceResult, FrameResult

FONT = cv2.FONT_HERSHEY_SIMPLEX
Color = tuple[int, int, int]

# Colours people associate with each FER+ emotion (BGR); other class names get the palette.
_NAMED_COLORS: dict[str, Color] = {
    "neutral": (200, 200, 200),
    "happiness": (80, 200, 80),
    "happy": (80, 200, 80),
    "surprise": (0, 215, 255),
    "sadness": (220, 130, 40),
    "sad": (220, 130, 40),
    "anger": (50, 50, 230),
    "angry": (50, 50, 230),
    "disgust": (40, 150, 120),
    "fear": (200, 80, 170),
    "contempt": (140, 110, 220),
}
_PALETTE: tuple[Color, ...] = (
    (230, 160, 60), (60, 180, 75), (75, 25, 230), (200, 130, 0),
    (48, 130, 245), (180, 30, 145), (240, 240, 70), (230, 50, 240),
)


@dataclass(frozen=True)
class OverlayOptions:
    show_boxes: bool = True
    show_labels: bool = True  # id, top emotion and its percentage above the box
    show_bars: bool = True
    show_landmarks: bool = False
    panel_opacity: float = 0.55  # how much the bar panel darkens the video behind it


@dataclass(frozen=True)
class _Style:
    font_scale: float
    thickness: int
    line_height: int
    pad: int


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    def inside(self, width: int, height: int) -> bool:
        return (
            self.x >= 0 and self.y >= 0 and self.x + self.w <= width and self.y + self.h <= height
        )


def class_color(name: str, index: int) -> Color:
    return _NAMED_COLORS.get(name.lower(), _PALETTE[index % len(_PALETTE)])


@lru_cache(maxsize=256)
def _text_size(text: str, scale: float, thickness: int) -> tuple[int, int]:
    (w, h), _ = cv2.getTextSize(text, FONT, scale, thickness)
    return w, h


def _style(frame_w: int, frame_h: int, face_side: float) -> _Style:
    unit = min(frame_w, frame_h) / 720.0
    # Bigger faces get slightly bigger text, within limits so small faces stay readable.
    face_factor = min(1.3, max(0.8, math.sqrt(face_side / max(1.0, 200.0 * unit))))
    # Quantised so the text-size cache stays small while faces move.
    scale = max(0.4, round(0.5 * unit * face_factor * 20) / 20)
    thickness = max(1, round(scale * 2))
    _, h = _text_size("Hg", scale, thickness)
    return _Style(scale, thickness, int(h * 1.7) + 1, max(2, int(h * 0.4)))


def panel_rect(
    frame_w: int, frame_h: int, box: tuple[float, ...], class_names: tuple[str, ...]
) -> Rect:
    """Where the probability bars of a face go: beside the face, moved inside the frame."""
    x, y, w, h = box
    st = _style(frame_w, frame_h, max(w, h))
    name_w = max(_text_size(n, st.font_scale, st.thickness)[0] for n in class_names)
    pct_w = _text_size("100%", st.font_scale, st.thickness)[0]
    bar_w = 4 * st.line_height
    pw = st.pad * 4 + name_w + bar_w + pct_w
    ph = st.pad * 2 + st.line_height * len(class_names)
    gap = st.pad * 2
    px = int(x + w + gap)
    if px + pw > frame_w:  # no room on the right: try the left, else stay inside the frame
        left = int(x - gap - pw)
        px = left if left >= 0 else frame_w - pw
    py = int(y)
    px = max(0, min(px, frame_w - pw))
    py = max(0, min(py, frame_h - ph))
    return Rect(px, py, min(pw, frame_w), min(ph, frame_h))


def _darken(image: np.ndarray, r: Rect, opacity: float) -> None:
    roi = image[r.y : r.y + r.h, r.x : r.x + r.w]
    if roi.size:
        cv2.addWeighted(roi, 1.0 - opacity, roi, 0.0, 0.0, dst=roi)


def _draw_label(image: np.ndarray, face: FaceResult, text: str, color: Color, st: _Style) -> None:
    x, y, _w, h = (round(v) for v in face.box)
    tw, th = _text_size(text, st.font_scale, st.thickness)
    fh, fw = image.shape[:2]
    bh = th + 2 * st.pad
    top = y - bh if y - bh >= 0 else min(y + h, fh - bh)  # above the box, else below it
    left = max(0, min(x, fw - tw - 2 * st.pad))
    cv2.rectangle(image, (left, top), (left + tw + 2 * st.pad, top + bh), color, cv2.FILLED)
    cv2.putText(
        image, text, (left + st.pad, top + st.pad + th), FONT, st.font_scale, (0, 0, 0),
        st.thickness, cv2.LINE_AA,
    )


def _draw_bars(
    image: np.ndarray, face: FaceResult, names: tuple[str, ...], st: _Style, opacity: float
) -> None:
    fh, fw = image.shape[:2]
    r = panel_rect(fw, fh, face.box, names)
    _darken(image, r, opacity)
    name_w = max(_text_size(n, st.font_scale, st.thickness)[0] for n in names)
    bar_x = r.x + st.pad * 2 + name_w
    bar_w = 4 * st.line_height
    _, th = _text_size("Hg", st.font_scale, st.thickness)
    top = face.top_index
    for i, (name, p) in enumerate(zip(names, face.probs.tolist(), strict=True)):
        row_y = r.y + st.pad + i * st.line_height
        base = row_y + (st.line_height + th) // 2
        text_color = (255, 255, 255) if i == top else (210, 210, 210)
        cv2.putText(
            image, name, (r.x + st.pad, base), FONT, st.font_scale, text_color, st.thickness,
            cv2.LINE_AA,
        )
        bar_top, bar_bot = row_y + st.line_height // 5, row_y + st.line_height * 4 // 5
        filled = round(bar_w * min(1.0, max(0.0, p)))
        cv2.rectangle(image, (bar_x, bar_top), (bar_x + bar_w, bar_bot), (90, 90, 90), 1)
        if filled > 0:
            cv2.rectangle(
                image, (bar_x, bar_top), (bar_x + filled, bar_bot), class_color(name, i),
                cv2.FILLED,
            )
        cv2.putText(
            image, f"{p * 100:.0f}%", (bar_x + bar_w + st.pad, base), FONT, st.font_scale,
            text_color, st.thickness, cv2.LINE_AA,
        )


def draw_face(
    image: np.ndarray, face: FaceResult, class_names: tuple[str, ...], options: OverlayOptions
) -> None:
    fh, fw = image.shape[:2]
    x, y, w, h = face.box
    st = _style(fw, fh, max(w, h))
    top = face.top_index
    color = class_color(class_names[top], top)
    if options.show_boxes:
        p0 = (round(x), round(y))
        p1 = (round(x + w), round(y + h))
        cv2.rectangle(image, p0, p1, color, max(1, st.thickness), cv2.LINE_AA)
    if options.show_landmarks:
        radius = max(1, st.thickness + 1)
        for kx, ky in face.keypoints:
            cv2.circle(image, (round(kx), round(ky)), radius, (0, 255, 255), -1)
    if options.show_labels:
        label = f"#{face.face_id} {class_names[top]} {face.probs[top] * 100:.0f}%"
        _draw_label(image, face, label, color, st)
    if options.show_bars:
        _draw_bars(image, face, class_names, st, options.panel_opacity)


def draw(
    image: np.ndarray, result: FrameResult, options: OverlayOptions | None = None
) -> np.ndarray:
    """Draw every face of ``result`` onto ``image`` (in place) and return it."""
    opts = options or OverlayOptions()
    for face in result.faces:
        draw_face(image, face, result.class_names, opts)
    return image
