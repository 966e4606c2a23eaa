"""Draws tracked faces onto a BGR frame: box, id, top emotion and per-class probability bars.

What is drawn for a face (its label, colour, which bars) is decided here for every
renderer; where its panel goes is decided by :mod:`emocam.placement`, which the app's
screen-resolution painter uses too. This module renders with cv2 at the frame's own
resolution (the exported video, recordings, snapshots): text sizes follow the frame's
resolution, so the overlay is legible on a 480p webcam and on a 4K video. Qt-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from emocam.placement import (
    FaceMarks,
    PanelSizes,
    Placement,
    PlacementMemory,
    Rect,
    box_rect,
    place_chips,
    place_panels,
    tie,
)
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
# A second cue beside colour for a chart's lines, by name: the emotions colour blindness
# confuses (deuteranopia: happiness, surprise, anger and disgust one olive; sadness and fear;
# neutral and contempt) each get their own dashes. Other class names take them in turn.
DASHES = ("solid", "dash", "dot", "dashdot")
_NAMED_DASHES: dict[str, str] = {
    "neutral": "solid", "happiness": "solid", "happy": "solid", "sadness": "solid",
    "sad": "solid", "anger": "dash", "angry": "dash", "fear": "dash", "surprise": "dot",
    "contempt": "dot", "disgust": "dashdot",
}
COMPACT_ROWS = 3  # bars shown when the full panel would cover a face or another panel
UNCERTAIN_COLOR: Color = (150, 150, 150)
NEUTRAL_GRAY = 64  # the boxes-only background, in every channel
# The face box runs brows to chin; hair, ears and forehead identify people too.
_BLUR_MARGIN = 0.35  # of the box side, on every side
_BLUR_CELLS = 6  # the face is reduced to this many cells across: no identity survives
_PALETTE: tuple[Color, ...] = (
    (230, 160, 60), (60, 180, 75), (75, 25, 230), (200, 130, 0),
    (48, 130, 245), (180, 30, 145), (240, 240, 70), (230, 50, 240),
)

__all__ = ["COMPACT_ROWS", "DASHES", "NEUTRAL_GRAY", "UNCERTAIN_COLOR", "OverlayOptions",
           "Placement", "PlacementMemory", "Rect", "class_color", "class_dash", "draw",
           "draw_as_shown", "id_text", "label_text", "panel_order", "plan_panels",
           "prepare_background", "shown_size", "widened", "widened_picture"]


@dataclass(frozen=True)
class OverlayOptions:
    show_boxes: bool = True
    show_labels: bool = True  # id, top emotion and its percentage above the box
    show_bars: bool = True
    show_landmarks: bool = False
    # How much the bar panel darkens the video behind it: nearly opaque, so its text reads
    # over any background (a jacket with ribbons, a bright window).
    panel_opacity: float = 0.85
    show_uncertain: bool = True  # doubtful faces get a grey "uncertain" instead of a label
    blur_faces: bool = False  # privacy: smear each face box before drawing on it
    boxes_only: bool = False  # privacy: draw on a neutral background, no camera pixels


@dataclass(frozen=True)
class _Style:
    font_scale: float
    thickness: int
    line_height: int
    pad: int


def class_color(name: str, index: int) -> Color:
    return _NAMED_COLORS.get(name.lower(), _PALETTE[index % len(_PALETTE)])


def class_dash(name: str, index: int) -> str:
    """A class's line pattern, one of ``DASHES``."""
    return _NAMED_DASHES.get(name.lower(), DASHES[index % len(DASHES)])


def label_text(face: FaceResult, class_names: tuple[str, ...], options: OverlayOptions
               ) -> tuple[str, Color]:
    """The chip over a face: id, top emotion and its percentage (or why it is uncertain),
    and the colour of its box and chip."""
    top = face.top_index
    if face.uncertain and options.show_uncertain:
        return f"#{face.face_id} uncertain ({face.uncertain})", UNCERTAIN_COLOR
    name = class_names[top]
    return f"#{face.face_id} {name} {face.probs[top] * 100:.0f}%", class_color(name, top)


def id_text(face: FaceResult) -> str:
    """The chip of a face whose whole label has no room: its id alone (its box keeps the
    emotion's colour)."""
    return f"#{face.face_id}"


def panel_order(probs: Sequence[float], rows: int) -> list[int]:
    """Which classes a panel of ``rows`` bars lists: a compact panel the likeliest first, a
    full one in the model's order, so every bar stays where the eye expects it."""
    n = len(probs)
    if rows >= n:
        return list(range(n))
    return sorted(range(n), key=lambda c: -probs[c])[:rows]


@lru_cache(maxsize=256)
def _text_size(text: str, scale: float, thickness: int) -> tuple[int, int]:
    (w, h), _ = cv2.getTextSize(text, FONT, scale, thickness)
    return w, h


def _style(frame_w: int, frame_h: int) -> _Style:
    """One text size for the whole frame, from its resolution: every panel of a frame has
    the same size, so placement compares like with like."""
    unit = min(frame_w, frame_h) / 720.0
    scale = max(0.4, round(0.5 * unit * 20) / 20)  # quantised: the size cache stays small
    thickness = max(1, round(scale * 2))
    _, h = _text_size("Hg", scale, thickness)
    return _Style(scale, thickness, int(h * 1.7) + 1, max(2, int(h * 0.4)))


def _panel_sizes(st: _Style, names: tuple[str, ...]) -> PanelSizes:
    name_w = max(_text_size(n, st.font_scale, st.thickness)[0] for n in names)
    pct_w = _text_size("100%", st.font_scale, st.thickness)[0]
    pw = st.pad * 4 + name_w + 4 * st.line_height + pct_w
    rows = len(names)
    compact = min(COMPACT_ROWS, rows)
    return PanelSizes(
        full=(pw, st.pad * 2 + st.line_height * rows),
        compact=(pw, st.pad * 2 + st.line_height * compact),
        rows=rows, compact_rows=compact, gap=st.pad * 2, hysteresis=st.line_height,
    )


def _chip_size(text: str, st: _Style) -> tuple[int, int]:
    tw, th = _text_size(text, st.font_scale, st.thickness)
    return tw + 2 * st.pad, th + 2 * st.pad


def _marks(result: FrameResult, st: _Style, size: tuple[int, int], opts: OverlayOptions,
           memory: PlacementMemory | None = None) -> list[FaceMarks]:
    """Each face's box and label chip, in the order of ``result.faces``."""
    boxes = [box_rect(face.box) for face in result.faces]
    sizes = {face.face_id: _chip_size(label_text(face, result.class_names, opts)[0], st)
             for face in result.faces}
    chips = place_chips(
        [(face.face_id, box, sizes[face.face_id])
         for face, box in zip(result.faces, boxes, strict=True)] if opts.show_labels else [],
        size, memory, {f.face_id: _chip_size(id_text(f), st) for f in result.faces})
    return [FaceMarks(face.face_id, box, chip, chip is not None and chip.w < sizes[face.face_id][0])
            for face, box in zip(result.faces, boxes, strict=True)
            for chip in [chips.get(face.face_id)]]


def face_marks(result: FrameResult, frame_w: int, frame_h: int,
               options: OverlayOptions | None = None,
               memory: PlacementMemory | None = None) -> list[FaceMarks]:
    """Each face's box and label chip as this renderer draws them at the frame's size."""
    return _marks(result, _style(frame_w, frame_h), (frame_w, frame_h),
                  options or OverlayOptions(), memory)


def plan_panels(result: FrameResult, frame_w: int, frame_h: int,
                options: OverlayOptions | None = None,
                memory: PlacementMemory | None = None) -> dict[int, Placement]:
    """Where each face's probability panel goes in this frame, by face id, and how many
    bars it shows: the rules of :mod:`emocam.placement` at the frame's resolution."""
    opts = options or OverlayOptions()
    st = _style(frame_w, frame_h)
    marks = _marks(result, st, (frame_w, frame_h), opts, memory)
    return place_panels(marks, _panel_sizes(st, result.class_names), (frame_w, frame_h),
                        memory)


def _darken(image: np.ndarray, r: Rect, opacity: float) -> None:
    roi = image[max(0, r.y) : r.bottom, max(0, r.x) : r.right]
    if roi.size:
        cv2.addWeighted(roi, 1.0 - opacity, roi, 0.0, 0.0, dst=roi)


def _draw_label(image: np.ndarray, text: str, color: Color, st: _Style, chip: Rect) -> None:
    _, th = _text_size(text, st.font_scale, st.thickness)
    cv2.rectangle(image, (chip.x, chip.y), (chip.right, chip.bottom), color, cv2.FILLED)
    cv2.putText(
        image, text, (chip.x + st.pad, chip.y + st.pad + th), FONT, st.font_scale, (0, 0, 0),
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
    for row, i in enumerate(panel_order(probs, rows)):
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


def _draw_tie(image: np.ndarray, p: Placement, area: Rect, color: Color, st: _Style) -> None:
    for a, b in tie(p, area):
        cv2.line(image, a, b, color, max(2, st.thickness + 1))


def _draw_face(image: np.ndarray, face: FaceResult, class_names: tuple[str, ...],
               options: OverlayOptions, st: _Style, mark: FaceMarks) -> None:
    """One face's box, landmarks and label chip."""
    x, y, w, h = face.box
    text, color = label_text(face, class_names, options)
    text = id_text(face) if mark.short else text
    chip = mark.chip
    if options.show_boxes:
        p0 = (round(x), round(y))
        p1 = (round(x + w), round(y + h))
        cv2.rectangle(image, p0, p1, color, max(1, st.thickness), cv2.LINE_AA)
    if options.show_landmarks:
        radius = max(1, st.thickness + 1)
        for kx, ky in face.keypoints:
            cv2.circle(image, (round(kx), round(ky)), radius, (0, 255, 255), -1)
    if chip is not None:
        _draw_label(image, text, color, st, chip)


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


def prepare_background(image: np.ndarray, result: FrameResult, opts: OverlayOptions) -> None:
    """Hide what the privacy options hide (in place): the faces, or the whole picture."""
    if opts.boxes_only:
        image[...] = NEUTRAL_GRAY
    elif opts.blur_faces:
        for box in [*(face.box for face in result.faces), *result.hidden]:
            anonymise_face(image, box)


def draw(
    image: np.ndarray, result: FrameResult, options: OverlayOptions | None = None,
    memory: PlacementMemory | None = None,
) -> np.ndarray:
    """Draw every face of ``result`` onto ``image`` (in place) and return it; with
    ``blur_faces`` or ``boxes_only`` the faces or the whole picture are hidden first.
    ``memory``, kept from frame to frame of one video, keeps each panel in its place."""
    opts = options or OverlayOptions()
    prepare_background(image, result, opts)
    draw_annotations(image, result, opts, memory)
    return image


def draw_as_shown(image: np.ndarray, result: FrameResult, options: OverlayOptions,
                  memory: PlacementMemory | None = None, aspect: float = 1.0) -> np.ndarray:
    """``draw`` on the picture as players show it: an anamorphic video's stored pixels
    (``aspect`` not 1) are widened first, into a new array returned with the overlay on it,
    so its letters and bars keep their shape (drawn on the stored pixels, a player stretched
    them 1.19 times a DVD's); square pixels are drawn on in place."""
    if aspect != 1:
        image, result = widened(image, result, aspect)
    return draw(image, result, options, memory)


def draw_annotations(image: np.ndarray, result: FrameResult, opts: OverlayOptions,
                     memory: PlacementMemory | None = None) -> None:
    """Boxes, labels and panels only, on the picture as it is (in place)."""
    fh, fw = image.shape[:2]
    st = _style(fw, fh)
    marks = _marks(result, st, (fw, fh), opts, memory)
    if opts.show_bars:
        plan = place_panels(marks, _panel_sizes(st, result.class_names), (fw, fh), memory)
        for face, mark in zip(result.faces, marks, strict=True):
            p = plan.get(face.face_id)
            if p is not None and p.rect is not None:
                _draw_bars(image, face, result.class_names, st, opts.panel_opacity, p.rect,
                           p.rows)
                _draw_tie(image, p, mark.area, label_text(face, result.class_names, opts)[1],
                          st)
    # Boxes and labels last, so no panel ever hides who a face is.
    for face, mark in zip(result.faces, marks, strict=True):
        _draw_face(image, face, result.class_names, opts, st, mark)


def shown_size(size: tuple[int, int], aspect: float) -> tuple[int, int]:
    """The width and height, in square pixels, of a picture of ``size`` stored pixels each
    ``aspect`` times as wide as tall, as players show it (720x480 at 32/27: 853x480)."""
    w, h = size
    return max(1, round(w * float(aspect))), h


def widened_picture(image: np.ndarray, aspect: float) -> np.ndarray:
    """``image``, an anamorphic video's stored pixels, in square pixels as players show it."""
    h, w = image.shape[:2]
    return cv2.resize(image, shown_size((w, h), aspect), interpolation=cv2.INTER_CUBIC)


def widened(image: np.ndarray, result: FrameResult, aspect: float
            ) -> tuple[np.ndarray, FrameResult]:
    """``image``, an anamorphic video's stored pixels, ``aspect`` times as wide (as players
    show it), and ``result`` with its boxes and keypoints moved onto it: an overlay drawn on
    them after has letters as tall as on a square-pixel video (drawn before, and widened
    with the picture, they were stretched 1.19 times a DVD's)."""
    w = image.shape[1]
    wide = widened_picture(image, aspect)
    sx = wide.shape[1] / max(1, w)

    def box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return (b[0] * sx, b[1], b[2] * sx, b[3])

    faces = [replace(f, box=box(f.box), keypoints=tuple((x * sx, y) for x, y in f.keypoints))
             for f in result.faces]
    # Its pixels are square now: a crop from it must not widen it again.
    frame = replace(result.frame, image=wide, pixel_aspect=1.0)
    return wide, replace(result, frame=frame, faces=faces, hidden=[box(b) for b in result.hidden])
