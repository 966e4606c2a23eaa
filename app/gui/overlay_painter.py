"""Paints the face overlay in the video view, at screen resolution.

The video is scaled to the window, but its overlay is not: boxes follow the faces on screen
while the text is drawn at the window's font size (never under ``FONT_PX``), so labels read
the same on a 360p clip shown large and on a 4K video shown small, and as large as the
menus for a user who chose a large desktop font. What to draw comes from
``emocam.overlay`` and where panels go from ``emocam.placement``, the rules the exported
video follows at its own resolution; this module only turns them into QPainter calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontInfo, QFontMetrics, QPainter, QPen

from emocam.gui.palette import class_color
from emocam.overlay import COMPACT_ROWS, OverlayOptions, id_text, label_text, panel_order
from emocam.placement import (
    FaceMarks,
    PanelSizes,
    Placement,
    PlacementMemory,
    Rect,
    place_chips,
    place_panels,
    tie,
)
from emocam.types import FrameResult

FONT_PX = 12  # least text height on screen, whatever the video's size
PANEL_BG = QColor(14, 14, 18, 235)  # nearly opaque: rows read over any background
_PAD = 5
_BAR_W = 64


@dataclass(frozen=True)
class OverlayLayout:
    """Where the last paint put things (widget pixels): for tests and for hit-testing."""

    marks: dict[int, FaceMarks]
    panels: dict[int, Placement]
    canvas: tuple[int, int]


def _rect(r: Rect) -> QRect:
    return QRect(r.x, r.y, r.w, r.h)


class OverlayPainter:
    """One per view; remembers each face's panel placement so panels stay put."""

    def __init__(self, font: QFont | None = None) -> None:
        self.memory = PlacementMemory()
        self.layout: OverlayLayout | None = None
        self.follow_font(font if font is not None else QFont())

    def follow_font(self, font: QFont) -> None:
        """Text as tall as ``font`` (the window's) draws it, 12 px at least: a low-vision
        user's 16-point desktop font gave 21 px menus and still 12 px labels."""
        self.font = QFont(font)
        self.font.setPixelSize(max(FONT_PX, QFontInfo(font).pixelSize()))
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.metrics = QFontMetrics(self.font)
        self.row_h = self.metrics.height() + 4  # one bar of a panel, on screen
        # Bars as long for their text as at 12 px; panels are placed again at their size.
        self.bar_w = round(_BAR_W * self.font.pixelSize() / FONT_PX)
        self.memory.clear()

    def reset(self) -> None:
        """A new source: no face keeps a place from the previous one."""
        self.memory.clear()
        self.layout = None

    def _sizes(self, names: tuple[str, ...]) -> PanelSizes:
        bold = QFontMetrics(self.bold)
        name_w = max(bold.horizontalAdvance(n) for n in names)
        pct_w = bold.horizontalAdvance("100%")
        w = _PAD * 5 + name_w + self.bar_w + pct_w
        rows = len(names)
        compact = min(COMPACT_ROWS, rows)
        return PanelSizes(full=(w, 2 * _PAD + rows * self.row_h),
                          compact=(w, 2 * _PAD + compact * self.row_h),
                          rows=rows, compact_rows=compact, gap=6, hysteresis=self.row_h)

    def _chip_size(self, text: str) -> tuple[int, int]:
        return self.metrics.horizontalAdvance(text) + 2 * _PAD, self.metrics.height() + 4

    def plan(self, result: FrameResult, options: OverlayOptions, image: QRect,
             canvas: QRect) -> OverlayLayout:
        """Face marks and panel placements for a frame shown in ``image`` (a part of
        ``canvas``, the widget); updates the placement memory."""
        # Each axis on its own: an anamorphic video's pixels are shown wider than tall.
        sx = image.width() / max(1, result.frame.image.shape[1])
        sy = image.height() / max(1, result.frame.image.shape[0])
        size = (canvas.width(), canvas.height())
        boxes: dict[int, Rect] = {}
        chip_sizes: list[tuple[int, Rect, tuple[int, int]]] = []
        short: dict[int, tuple[int, int]] = {}
        for face in result.faces:
            x, y, w, h = face.box
            box = Rect(round(image.x() + x * sx), round(image.y() + y * sy), round(w * sx),
                       round(h * sy))
            boxes[face.face_id] = box
            if options.show_labels:
                text, _ = label_text(face, result.class_names, options)
                chip_sizes.append((face.face_id, box, self._chip_size(text)))
                short[face.face_id] = self._chip_size(id_text(face))
        chips = place_chips(chip_sizes, size, self.memory, short)
        widths = {fid: size[0] for fid, _, size in chip_sizes}
        marks = {fid: FaceMarks(fid, box, chip, chip is not None and chip.w < widths[fid])
                 for fid, box in boxes.items() for chip in [chips.get(fid)]}
        panels: dict[int, Placement] = {}
        if options.show_bars and result.class_names and marks:
            panels = place_panels(list(marks.values()), self._sizes(result.class_names), size,
                                  self.memory)
        self.layout = OverlayLayout(marks, panels, size)
        return self.layout

    def paint(self, p: QPainter, result: FrameResult, options: OverlayOptions, image: QRect,
              canvas: QRect) -> None:
        layout = self.plan(result, options, image, canvas)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        names = result.class_names
        for face in result.faces:
            place = layout.panels.get(face.face_id)
            if place is not None and place.rect is not None:
                self._panel(p, place, names, face.probs.tolist(), face.top_index)
                bgr = label_text(face, names, options)[1]
                p.setPen(QPen(QColor(bgr[2], bgr[1], bgr[0]), 2))
                for a, b in tie(place, layout.marks[face.face_id].area):
                    p.drawLine(QPointF(*a), QPointF(*b))
        # Boxes and labels last, so no panel ever hides who a face is.
        for face in result.faces:
            mark = layout.marks[face.face_id]
            text, bgr = label_text(face, names, options)
            text = id_text(face) if mark.short else text
            color = QColor(bgr[2], bgr[1], bgr[0])
            if options.show_boxes:
                p.setPen(QPen(color, 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(_rect(mark.box))
            if options.show_landmarks:
                sx = image.width() / max(1, result.frame.image.shape[1])
                sy = image.height() / max(1, result.frame.image.shape[0])
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(255, 255, 0))
                for kx, ky in face.keypoints:
                    p.drawEllipse(QPointF(image.x() + kx * sx, image.y() + ky * sy), 2.5, 2.5)
            if mark.chip is not None:
                p.fillRect(_rect(mark.chip), color)
                p.setFont(self.font)
                p.setPen(QColor(0, 0, 0))
                p.drawText(_rect(mark.chip), Qt.AlignmentFlag.AlignCenter, text)
        p.restore()

    def _panel(self, p: QPainter, place: Placement, names: tuple[str, ...],
               probs: list[float], top: int) -> None:
        assert place.rect is not None
        r = _rect(place.rect)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(PANEL_BG)
        p.drawRoundedRect(QRectF(r), 4, 4)
        bold = QFontMetrics(self.bold)
        name_w = max(bold.horizontalAdvance(n) for n in names)
        pct_w = bold.horizontalAdvance("100%")
        bar_x = r.x() + 2 * _PAD + name_w
        for row, i in enumerate(panel_order(probs, place.rows)):
            y = r.y() + _PAD + row * self.row_h
            p.setFont(self.bold if i == top else self.font)
            p.setPen(QColor(255, 255, 255) if i == top else QColor(215, 215, 215))
            left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            p.drawText(QRect(r.x() + _PAD, y, name_w, self.row_h), left, names[i])
            track = QRectF(bar_x, y + self.row_h * 0.25, self.bar_w, self.row_h * 0.5)
            p.fillRect(track, QColor(70, 70, 76))
            value = min(1.0, max(0.0, probs[i]))
            p.fillRect(QRectF(track.x(), track.y(), self.bar_w * value, track.height()),
                       class_color(names[i], i))
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            p.drawText(QRect(int(bar_x + self.bar_w + _PAD), y, pct_w, self.row_h), right,
                       f"{value * 100:.0f}%")
