"""Emotion timeline: one line per class over the last ~30 s, for one face or all faces.

Drawn with QPainter (PySide6-Essentials has no QtCharts). Time is the frame's own time, so
a video seeked backwards starts a fresh timeline instead of drawing lines back in time.
A hard cut in a video (a new shot, new faces) is marked with a dashed line.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from emocam.gui.palette import class_color_on, class_pen_style
from emocam.types import FrameResult

WINDOW_MS = 30_000.0
# A 30 s window on a plot a few hundred pixels wide moves ~10 px a second: repainting it for
# every frame of a 30 fps camera cost the GUI thread more than all else it does, and each
# line needs no more than a point per COLUMN_PX pixels.
REPAINT_S = 0.1
COLUMN_PX = 2.0
LINE_PX = 1.6  # the narrowest line
LINE_WIDTHS = (5.0, 2.2)  # the likeliest two classes' lines, drawn first


class EmotionTimeline(QWidget):
    def __init__(self, parent: QWidget | None = None, window_ms: float = WINDOW_MS) -> None:
        super().__init__(parent)
        self.window_ms = window_ms
        self._clip = False  # the window spans a whole (short) clip
        self._photos: int | None = None  # a folder of this many photos, one a second
        self.face_id: int | None = None  # None: mean over all faces in each frame
        self._names: tuple[str, ...] = ()
        # (time, probabilities by face id, their mean or None when no face was seen)
        self._history: deque[tuple[float, dict[int, np.ndarray], np.ndarray | None]] = deque()
        self._cuts: deque[float] = deque()  # times of the hard cuts in the window
        self._last_t: float | None = None  # the newest frame added since a seek
        self._shot = 0
        self._last_repaint = 0.0
        self._repaint_timer = QTimer(self)
        self._repaint_timer.setSingleShot(True)
        self._repaint_timer.timeout.connect(self._repaint)
        self.setMinimumHeight(max(140, 8 * self.fontMetrics().height()))

    def sizeHint(self) -> QSize:
        return QSize(260, 180)

    def set_span(self, clip_ms: float | None, photos: int | None = None) -> None:
        """Show the whole of a clip shorter than the usual window (the lines then use the
        plot's width instead of a sliver of it); None: the usual last 30 s. ``photos``: a
        folder of that many photos, one a second, titled in photos, not seconds."""
        self.window_ms = min(WINDOW_MS, clip_ms) if clip_ms else WINDOW_MS
        self._clip = clip_ms is not None and clip_ms <= WINDOW_MS
        self._photos = photos
        self.update()

    def clear(self) -> None:
        self._history.clear()
        self._cuts.clear()
        self._last_t = None
        self._shot = 0
        self.update()

    def forget_faces(self) -> None:
        """After a seek, where faces are numbered afresh: no face's line from before goes on
        under its old number. The whole clip's mean over all faces still holds, so it stays
        until playback passes over it again (before, one step back emptied the plot); the
        last 30 s of a long video start afresh."""
        if not self._clip:
            self.clear()
            return
        self._history = deque((t, {}, mean) for t, _, mean in self._history)
        self._last_t = None
        self._shot = 0  # the cut detector counts shots from 0 again
        self.update()

    def set_face(self, face_id: int | None) -> None:
        self.face_id = face_id
        self.update()

    def add(self, result: FrameResult) -> None:
        t = result.frame.time_ms
        if self._history and (result.class_names != self._names
                              or (t < self._history[-1][0] and not self._clip)):
            # A new source, a model with other classes, or a long video seeked backwards:
            # the old lines would not line up with the new ones.
            self.clear()
        replay = bool(self._clip and self._history and t <= self._history[-1][0])
        if (self._history and result.shot > self._shot  # after a seek it counts from 0
                and not any(abs(c - t) < 1.0 for c in self._cuts)):
            self._cuts.append(t)
        self._shot = result.shot
        self._names = result.class_names
        faces = {f.face_id: f.probs.copy() for f in result.faces}
        mean = np.mean(list(faces.values()), axis=0) if faces else None
        if replay:
            # A clip played again over the plot: this frame replaces what the last pass drew
            # since the previous frame, and the plot's later part stays until it is reached.
            lo = self._last_t if self._last_t is not None else t - 0.5
            kept = [h for h in self._history if not lo < h[0] <= t]
            at = sum(1 for h in kept if h[0] < t)
            kept.insert(at, (t, faces, mean))
            self._history = deque(kept)
            self._cuts = deque(sorted(c for c in self._cuts if not (lo < c < t)))
        else:
            self._history.append((t, faces, mean))
        self._last_t = t
        while self._history and self._history[0][0] < t - self.window_ms:
            self._history.popleft()
        while self._cuts and self._cuts[0] < t - self.window_ms:
            self._cuts.popleft()
        wait = self._last_repaint + REPAINT_S - time.monotonic()
        if wait <= 0:
            self._repaint()
        elif not self._repaint_timer.isActive():  # the newest sample is shown even if last
            self._repaint_timer.start(int(wait * 1000) + 1)

    def _repaint(self) -> None:
        self._last_repaint = time.monotonic()
        self.update()

    def cut_times(self) -> list[float]:
        """Times (ms) of the hard cuts shown."""
        return list(self._cuts)

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (ms) and probabilities ``(T, C)`` of the shown face(s); NaN where absent."""
        n = len(self._names)
        times = np.array([t for t, _, _ in self._history], np.float64)
        values = np.full((len(self._history), n), np.nan, np.float32)
        rows = [(row, faces.get(self.face_id) if self.face_id is not None else mean)
                for row, (_, faces, mean) in enumerate(self._history)]
        shown = [(row, v) for row, v in rows if v is not None]
        if shown:
            values[[row for row, _ in shown]] = np.stack([v for _, v in shown])
        return times, values

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        try:
            self._paint(p)
        finally:
            # Ended even if drawing failed: a painter left open makes Qt fail every later
            # paint of the window ("Cannot destroy paint device that is being painted").
            p.end()

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes of the lines shown (the model's)."""
        return self._names

    def heading(self) -> str:
        """Whose lines and over what: "Face 2 - last 30 s", "All faces (mean) - all 8 photos"."""
        who = "All faces (mean)" if self.face_id is None else f"Face {self.face_id}"
        if self._photos is not None:  # "whole clip (8 s)" was eight photos
            span = (f"all {self._photos} photos" if self._clip
                    else f"last {self.window_ms / 1000:.0f} photos")
        else:
            span = (f"whole clip ({self.window_ms / 1000:.0f} s)" if self._clip
                    else f"last {self.window_ms / 1000:.0f} s")
        return f"{who} - {span}"

    def _paint(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().windowText().color()
        background = self.palette().window().color()
        p.setPen(text)
        # Every size from the font: fixed for Qt's 9-point default, a desktop's larger font
        # cut the title and the axis numbers and ran the legend's rows into each other.
        plot, _, axis_w = self._layout()
        p.drawText(QRectF(4, 0, self.width() - 8, plot.top() - 4), Qt.AlignmentFlag.AlignLeft,
                   self.heading())
        self._draw_axes(p, plot, text, axis_w)
        times, values = self.series()
        if len(times) >= 2:
            # Fill from the left until the window is full, then scroll.
            t_end = (max(times[-1], self.window_ms) if self._clip  # the clip's own axis
                     else max(times[-1], times[0] + self.window_ms))
            self._draw_cuts(p, plot, t_end, text)
            # The likeliest classes first and widest, the others narrower on top: two lines
            # that coincide (two faces, one happy and one neutral: both at 50%) still show
            # both colours, one inside the other.
            seen = np.maximum((~np.isnan(values)).sum(axis=0), 1)
            means = np.nansum(values, axis=0) / seen
            for rank, c in enumerate(np.argsort(-means, kind="stable")):
                width = LINE_WIDTHS[rank] if rank < len(LINE_WIDTHS) else LINE_PX
                self._draw_line(p, plot, times, values[:, c], t_end,
                                self._pen(int(c), background, width))
        self._draw_legend(p)

    def _layout(self) -> tuple[QRectF, QRectF, float]:
        """The plot, the legend under it and the axis numbers' width, sized by the font."""
        fm = self.fontMetrics()
        line = fm.height() + 2
        legend_h = self._legend_rows() * line
        axis_w = fm.horizontalAdvance("100") + 4
        plot = QRectF(axis_w + 4, line + 4, max(self.width() - axis_w - 10, 10),
                      max(self.height() - line - 12 - legend_h, 10))
        return plot, QRectF(4, plot.bottom() + 6, self.width() - 8, legend_h), axis_w

    def _draw_axes(self, p: QPainter, plot: QRectF, text: QColor, axis_w: float) -> None:
        half = p.fontMetrics().height() / 2
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - frac * plot.height()
            p.setPen(QPen(QColor(128, 128, 128, 90), 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(text)  # in the grid's faint grey the numbers were hard to read
            p.drawText(QRectF(0, y - half, axis_w, 2 * half), Qt.AlignmentFlag.AlignRight
                       | Qt.AlignmentFlag.AlignVCenter, f"{frac:.0%}".replace("%", ""))

    def _draw_cuts(self, p: QPainter, plot: QRectF, t_end: float, text: QColor) -> None:
        # A dashed line through the plot and a notch above it, where no curve can hide it.
        for t in self._cuts:
            x = plot.right() - (t_end - t) / self.window_ms * plot.width()
            p.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(text)
            p.drawPolygon(QPolygonF([QPointF(x - 4, plot.top() - 6),
                                     QPointF(x + 4, plot.top() - 6), QPointF(x, plot.top())]))
            p.setBrush(Qt.BrushStyle.NoBrush)

    def _pen(self, c: int, background: QColor, width: float) -> QPen:
        """Class ``c``'s line: its colour and its dashes, which a colour-blind reader goes by."""
        pen = QPen(class_color_on(self._names[c], c, background), width)
        pen.setStyle(class_pen_style(self._names[c], c))
        return pen

    def _draw_line(self, p: QPainter, plot: QRectF, times: np.ndarray, vals: np.ndarray,
                   t_end: float, pen: QPen) -> None:
        path = QPainterPath()
        pen_down = False
        for x, v in zip(*_columns(plot, times, vals, t_end, self.window_ms), strict=True):
            if np.isnan(v):
                pen_down = False  # the face was not in view: leave a gap
                continue
            pt = QPointF(x, plot.bottom() - v * plot.height())
            if pen_down:
                path.lineTo(pt)
            else:
                path.moveTo(pt)
                pen_down = True
        p.setPen(pen)
        p.drawPath(path)

    def _legend_rows(self) -> int:
        rows, x, width = 1, 0.0, self.width() - 8
        for name in self._names:
            w = self.fontMetrics().horizontalAdvance(name) + self._sample_w() + 8
            if x + w > width and x > 0:
                rows, x = rows + 1, 0.0
            x += w
        return rows

    def _sample_w(self) -> int:
        """A legend entry's line sample: long enough to show its dashes."""
        return max(22, 2 * self.fontMetrics().ascent())

    def legend_samples(self) -> list[tuple[int, QRectF, QRectF]]:
        """Where each class's line sample and name go in the legend: (class, sample, name)."""
        area = self._layout()[1]
        metrics = self.fontMetrics()
        x, y, row_h = area.left(), area.top(), metrics.height() + 2
        sample = self._sample_w()
        out = []
        for c, name in enumerate(self._names):
            w = metrics.horizontalAdvance(name) + sample + 8
            if x + w > area.right() and x > area.left():
                x, y = area.left(), y + row_h
            if y + row_h > area.bottom() + 1:
                break
            out.append((c, QRectF(x, y, sample, row_h), QRectF(x + sample + 3, y, w, row_h)))
            x += w
        return out

    def _draw_legend(self, p: QPainter) -> None:
        text = self.palette().windowText().color()
        background = self.palette().window().color()
        for c, sample, label in self.legend_samples():
            p.setPen(self._pen(c, background, LINE_WIDTHS[-1]))
            mid = sample.center().y()
            p.drawLine(QPointF(sample.left(), mid), QPointF(sample.right(), mid))
            p.setPen(text)
            p.drawText(label, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       self._names[c])


def _columns(plot: QRectF, times: np.ndarray, vals: np.ndarray, t_end: float,
             window_ms: float) -> tuple[list[float], list[float]]:
    """The line's points, one per ``COLUMN_PX`` pixels of the plot: the mean of the samples
    that fall there, NaN where the face was not in view for the whole column."""
    x = plot.right() - (t_end - times) / window_ms * plot.width()
    col = np.floor((x - plot.left()) / COLUMN_PX).astype(np.int64)
    col -= col.min()
    seen = ~np.isnan(vals)
    n = int(col.max()) + 1
    samples = np.bincount(col, minlength=n)
    count = np.bincount(col[seen], minlength=n)
    total = np.bincount(col[seen], weights=vals[seen].astype(np.float64), minlength=n)
    used = samples > 0
    xs = np.bincount(col, weights=x, minlength=n)[used] / samples[used]
    means = np.where(count > 0, total / np.maximum(count, 1), np.nan)[used]
    return xs.tolist(), means.tolist()
