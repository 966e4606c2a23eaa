"""Draws tracked faces onto a BGR frame: box, id, top emotion and per-class probability bars.

Sizes follow the frame's resolution (and a little the face's size), so the same overlay is
legible on a 480p webcam and on a 4K video. Drawing happens in place with cv2 only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
COMPACT_ROWS = 3  # bars shown when the full panel would cover a face
UNCERTAIN_COLOR: Color = (150, 150, 150)
NEUTRAL_GRAY = 64  # the boxes-only background, in every channel
# The face box runs brows to chin; hair, ears and forehead identify people too.
_BLUR_MARGIN = 0.35  # of the box side, on every side
_BLUR_CELLS = 6  # the face is reduced to this many cells across: no identity survives
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
    show_uncertain: bool = True  # doubtful faces get a grey "uncertain" instead of a label
    blur_faces: bool = False  # privacy: smear each face box before drawing on it
    boxes_only: bool = False  # privacy: draw on a neutral background, no camera pixels


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


def _overlap(a: Rect, b: Rect) -> int:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(0, w) * max(0, h)


def _clamp(r: Rect, frame_w: int, frame_h: int) -> Rect:
    return Rect(max(0, min(r.x, frame_w - r.w)), max(0, min(r.y, frame_h - r.h)),
                min(r.w, frame_w), min(r.h, frame_h))


def panel_rect(
    frame_w: int,
    frame_h: int,
    box: tuple[float, ...],
    class_names: tuple[str, ...],
    avoid: Sequence[Rect] = (),
    rows: int | None = None,
) -> Rect:
    """Where the probability bars of a face go: beside the face, inside the frame, clear of
    the rectangles in ``avoid`` (other faces and their panels) when any place is. ``rows``
    bars are shown (all classes by default)."""
    return _place(frame_w, frame_h, box, class_names, avoid, rows)[0]


def _place(
    frame_w: int,
    frame_h: int,
    box: tuple[float, ...],
    class_names: tuple[str, ...],
    avoid: Sequence[Rect],
    rows: int | None,
) -> tuple[Rect, int]:
    """The best place for a panel of ``rows`` bars and how much it covers of faces and other
    panels (pixels)."""
    x, y, w, h = box
    st = _style(frame_w, frame_h, max(w, h))
    name_w = max(_text_size(n, st.font_scale, st.thickness)[0] for n in class_names)
    pct_w = _text_size("100%", st.font_scale, st.thickness)[0]
    bar_w = 4 * st.line_height
    pw = st.pad * 4 + name_w + bar_w + pct_w
    ph = st.pad * 2 + st.line_height * (rows or len(class_names))
    gap = st.pad * 2
    face = _label_rect(box, frame_w, frame_h)
    candidates = [
        Rect(int(x + w + gap), int(y), pw, ph),  # right
        Rect(int(x - gap - pw), int(y), pw, ph),  # left
        Rect(int(x), int(y + h + gap), pw, ph),  # below
        Rect(int(x), int(face.y - gap - ph), pw, ph),  # above, clear of the label chip
    ]
    best, best_cost = None, None
    for i, c in enumerate(candidates):
        moved = _clamp(c, frame_w, frame_h)
        # Prefer places that need no clamping, then little overlap, then the listed order.
        cost = (sum(_overlap(moved, a) for a in (face, *avoid)), moved != c, i)
        if best_cost is None or cost < best_cost:
            best, best_cost = moved, cost
    assert best is not None and best_cost is not None
    return best, best_cost[0]


def _label_rect(box: tuple[float, ...], frame_w: int, frame_h: int) -> Rect:
    """The face box grown upwards by the height of its label chip: panels keep off both."""
    x, y, w, h = box
    st = _style(frame_w, frame_h, max(w, h))
    chip = _text_size("Hg", st.font_scale, st.thickness)[1] + 2 * st.pad
    return Rect(int(x), int(y - chip), int(w), int(h + chip))


def bars_layout(
    frame_w: int,
    frame_h: int,
    box: tuple[float, ...],
    class_names: tuple[str, ...],
    avoid: Sequence[Rect] = (),
) -> tuple[Rect, int]:
    """Panel place and row count: every class when a free place exists, else only the
    most likely classes (small frames, crowded scenes), whichever covers less."""
    full = _place(frame_w, frame_h, box, class_names, avoid, None)
    if full[1] == 0 or len(class_names) <= COMPACT_ROWS:
        return full[0], len(class_names)
    compact = _place(frame_w, frame_h, box, class_names, avoid, COMPACT_ROWS)
    if compact[1] < full[1]:
        return compact[0], COMPACT_ROWS
    return full[0], len(class_names)


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
    image: np.ndarray, face: FaceResult, names: tuple[str, ...], st: _Style, opacity: float,
    r: Rect, rows: int,
) -> None:
    _darken(image, r, opacity)
    name_w = max(_text_size(n, st.font_scale, st.thickness)[0] for n in names)
    bar_x = r.x + st.pad * 2 + name_w
    bar_w = 4 * st.line_height
    _, th = _text_size("Hg", st.font_scale, st.thickness)
    top = face.top_index
    probs = face.probs.tolist()
    # A compact panel lists the likeliest classes first; a full one keeps the model's order
    # so every bar stays where the eye expects it.
    order = (sorted(range(len(names)), key=lambda c: -probs[c])[:rows] if rows < len(names)
             else range(len(names)))
    for row, i in enumerate(order):
        name, p = names[i], probs[i]
        row_y = r.y + st.pad + row * st.line_height
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
    image: np.ndarray,
    face: FaceResult,
    class_names: tuple[str, ...],
    options: OverlayOptions,
) -> None:
    """Draw one face's box, landmarks and label chip (``draw`` adds the bars)."""
    fh, fw = image.shape[:2]
    x, y, w, h = face.box
    st = _style(fw, fh, max(w, h))
    top = face.top_index
    doubtful = bool(face.uncertain) and options.show_uncertain
    color = UNCERTAIN_COLOR if doubtful else class_color(class_names[top], top)
    if options.show_boxes:
        p0 = (round(x), round(y))
        p1 = (round(x + w), round(y + h))
        cv2.rectangle(image, p0, p1, color, max(1, st.thickness), cv2.LINE_AA)
    if options.show_landmarks:
        radius = max(1, st.thickness + 1)
        for kx, ky in face.keypoints:
            cv2.circle(image, (round(kx), round(ky)), radius, (0, 255, 255), -1)
    if options.show_labels:
        label = (
            f"#{face.face_id} uncertain ({face.uncertain})" if doubtful
            else f"#{face.face_id} {class_names[top]} {face.probs[top] * 100:.0f}%"
        )
        _draw_label(image, face, label, color, st)


def plan_panels(result: FrameResult, frame_w: int, frame_h: int) -> list[tuple[Rect, int]]:
    """Where each face's probability panel goes and how many bars it shows: clear of every
    face, every label chip and the panels placed before it, whenever the frame has room."""
    marks = [_label_rect(f.box, frame_w, frame_h) for f in result.faces]
    plan: list[tuple[Rect, int]] = []
    for i, face in enumerate(result.faces):
        avoid = [*marks[:i], *marks[i + 1 :], *(r for r, _ in plan)]
        plan.append(bars_layout(frame_w, frame_h, face.box, result.class_names, avoid))
    return plan


def anonymise_face(image: np.ndarray, box: tuple[float, ...]) -> None:
    """Replace a face and its surroundings by a few smooth cells of colour (in place)."""
    fh, fw = image.shape[:2]
    x, y, w, h = box
    m = _BLUR_MARGIN * max(w, h)
    x0, y0 = max(0, int(x - m)), max(0, int(y - m))
    x1, y1 = min(fw, math.ceil(x + w + m)), min(fh, math.ceil(y + h + m))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    roi = image[y0:y1, x0:x1]
    cells = cv2.resize(roi, (_BLUR_CELLS, _BLUR_CELLS), interpolation=cv2.INTER_AREA)
    # Linear upscaling leaves no cell edges, so nothing sharp is left to recognise.
    roi[...] = cv2.resize(cells, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)


def _prepare_background(image: np.ndarray, result: FrameResult, opts: OverlayOptions) -> None:
    if opts.boxes_only:
        image[...] = NEUTRAL_GRAY
    elif opts.blur_faces:
        for face in result.faces:
            anonymise_face(image, face.box)


def draw(
    image: np.ndarray, result: FrameResult, options: OverlayOptions | None = None
) -> np.ndarray:
    """Draw every face of ``result`` onto ``image`` (in place) and return it; with
    ``blur_faces`` or ``boxes_only`` the faces or the whole picture are hidden first."""
    opts = options or OverlayOptions()
    _prepare_background(image, result, opts)
    fh, fw = image.shape[:2]
    if opts.show_bars:
        for face, (panel, rows) in zip(result.faces, plan_panels(result, fw, fh), strict=True):
            st = _style(fw, fh, max(face.box[2], face.box[3]))
            _draw_bars(image, face, result.class_names, st, opts.panel_opacity, panel, rows)
    # Boxes and labels last, so no panel ever hides who a face is.
    for face in result.faces:
        draw_face(image, face, result.class_names, opts)
    return image
