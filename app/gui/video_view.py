"""The central video view: paints the newest frame, aspect ratio kept, and its overlay on
top at screen resolution (text the same size whatever the video's)."""

from __future__ import annotations

import time

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from emocam.gui.overlay_painter import OverlayPainter
from emocam.overlay import OverlayOptions, draw_annotations, widened
from emocam.types import FrameResult


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage that owns a copy of a BGR uint8 frame (the worker may reuse its buffer).

    Colour frames become 32-bit images: Qt converts a 24-bit image on every smooth paint,
    which cost 8.2 ms of CPU for a 720p frame against 1.4 to convert once and 2.3 to paint
    (offscreen Qt 6.11 on 2 cores).
    """
    h, w = image.shape[:2]
    if image.ndim == 2:
        image = np.ascontiguousarray(image)
        return QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    q = QImage(w, h, QImage.Format.Format_RGB32)  # 0xffRRGGBB: B, G, R, 255 in memory
    rows = np.frombuffer(q.bits(), np.uint8).reshape(h, q.bytesPerLine())
    dst = rows[:, : 4 * w].reshape(h, w, 4)
    out = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA, dst=dst)
    if out is not dst:  # OpenCV wrote elsewhere (a layout it could not fill in place)
        dst[...] = out
    return q


def fit_rect(image: QSize, area: QRect) -> QRect:
    """The largest rectangle with the image's aspect ratio centred in ``area``."""
    if image.isEmpty() or area.isEmpty():
        return QRect()
    scaled = image.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    x = area.x() + (area.width() - scaled.width()) // 2
    y = area.y() + (area.height() - scaled.height()) // 2
    return QRect(x, y, scaled.width(), scaled.height())


class VideoView(QWidget):
    """Shows frames; emits ``painted`` after a frame reaches the screen (for latency)."""

    painted = Signal()
    double_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage()
        self._frame: np.ndarray | None = None  # the picture under the overlay, BGR
        self._result: FrameResult | None = None
        self._options = OverlayOptions()
        self.overlay = OverlayPainter(self.font())
        self._placeholder = "Open a video, an image or a camera to start."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.frames_shown = 0
        self.paint_ms = 0.0  # the last paint: the picture scaled, its overlay drawn
        self._pixel_aspect = 1.0

    def set_pixel_aspect(self, aspect: float) -> None:
        """Show pixels ``aspect`` times as wide as tall, as players show an anamorphic video
        (a DVD's 16:9 picture stored 720x480 was shown squeezed to 3:2, people too narrow)."""
        self._pixel_aspect = aspect if aspect > 0 else 1.0
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def set_frame(self, image: np.ndarray, result: FrameResult | None = None,
                  options: OverlayOptions | None = None) -> None:
        """Show ``image``; with ``result`` its faces' overlay is painted over it."""
        self._image = bgr_to_qimage(image)
        self._frame, self._result = image, result
        if options is not None:
            self._options = options
        self.frames_shown += 1
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        self._image = QImage()
        self._frame = self._result = None
        self.overlay.reset()
        if placeholder is not None:
            self._placeholder = placeholder
        self.update()

    def has_frame(self) -> bool:
        return not self._image.isNull()

    def current_image(self) -> QImage:
        """The frame shown, with its overlay drawn at the frame's own resolution (as an
        export draws it), as wide as it is shown: what a snapshot saves."""
        image = self._image
        if self._frame is not None and self._result is not None:
            # Widened first, the overlay then drawn on it: its letters are not stretched.
            annotated, result = (widened(self._frame, self._result, self._pixel_aspect)
                                 if self._pixel_aspect != 1.0
                                 else (self._frame.copy(), self._result))
            draw_annotations(annotated, result, self._options)
            return bgr_to_qimage(annotated)
        if self._pixel_aspect != 1.0 and not image.isNull():  # a PNG's pixels are square
            image = image.scaled(round(image.width() * self._pixel_aspect), image.height(),
                                 Qt.AspectRatioMode.IgnoreAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        return image

    def image_rect(self) -> QRect:
        size = self._image.size()
        if self._pixel_aspect != 1.0:
            size = QSize(round(size.width() * self._pixel_aspect), size.height())
        return fit_rect(size, self.rect())

    def paintEvent(self, event: QPaintEvent) -> None:
        started = time.perf_counter()
        p = QPainter(self)
        try:
            p.fillRect(self.rect(), QColor(20, 20, 24))
            if self._image.isNull():
                p.setPen(QColor(170, 170, 180))
                p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            else:
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                shown = self.image_rect()
                p.drawImage(shown, self._image)
                if self._result is not None:
                    self.overlay.paint(p, self._result, self._options, shown, self.rect())
        finally:
            p.end()  # even if drawing failed, or every later paint of the window fails
        self.paint_ms = (time.perf_counter() - started) * 1e3
        if not self._image.isNull():
            self.painted.emit()

    def changeEvent(self, event: QEvent) -> None:
        # The desktop's font made larger while the app runs: the labels follow it.
        if event.type() == QEvent.Type.FontChange:
            self.overlay.follow_font(self.font())
            self.update()
        super().changeEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.double_clicked.emit()
        super().mouseDoubleClickEvent(event)
