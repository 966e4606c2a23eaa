"""Status bar fields: source, resolution, fps, latency, detector, provider, options that are
not the defaults, faces, REC and the live feed."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

FIELDS = ("source", "resolution", "fps", "latency", "detector", "provider", "settings", "faces",
          "rec", "stream")
# Free text of any length, shortened with "…" when the bar is short of room instead of being
# cut off mid-word at the window's edge; the narrowest each may become: the file's name keeps
# more room than the note on kept settings.
SHORTENED = {"source": 160, "settings": 60}


class ShortenedLabel(QLabel):
    """A label that takes its whole text's width when there is room, and otherwise shows the
    text's two ends with "…" between them, the whole text in its tooltip."""

    def __init__(self, parent: QWidget | None = None, min_width: int = 60) -> None:
        super().__init__(parent)
        self.min_width = min_width
        self._text = ""
        self._tip = ""

    def set_text(self, text: str, tooltip: str = "") -> None:
        self._text, self._tip = text, tooltip
        self.updateGeometry()
        self._shorten()

    def full_text(self) -> str:
        return self._text

    def sizeHint(self) -> QSize:
        margin = self.contentsMargins().left() + self.contentsMargins().right() + 2
        return QSize(self.fontMetrics().horizontalAdvance(self._text) + margin,
                     super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(self.sizeHint().width(), self.min_width),
                     super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._shorten()

    def _shorten(self) -> None:
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideMiddle,
                                              self.contentsRect().width())
        if shown != self.text():
            self.setText(shown)
        whole = "\n".join(t for t in (self._text if shown != self._text else "", self._tip) if t)
        if whole != self.toolTip():
            self.setToolTip(whole)


class StatusFields:
    def __init__(self, bar: QStatusBar) -> None:
        self.labels: dict[str, QLabel] = {}
        for name in FIELDS:
            label = (ShortenedLabel(bar, SHORTENED[name]) if name in SHORTENED
                     else QLabel(bar))
            label.setObjectName(f"status_{name}")
            bar.addPermanentWidget(label)
            self.labels[name] = label
        self.labels["rec"].setStyleSheet("color: #e53935; font-weight: bold;")
        self.clear()

    def set(self, name: str, text: str, tooltip: str = "") -> None:
        label = self.labels[name]
        if isinstance(label, ShortenedLabel):
            label.set_text(text, tooltip)
            return
        if label.text() != text:
            label.setText(text)
        if tooltip:
            label.setToolTip(tooltip)

    def text(self, name: str) -> str:
        """The field's whole text, however much of it the bar has room to show."""
        label = self.labels[name]
        return label.full_text() if isinstance(label, ShortenedLabel) else label.text()

    def clear(self) -> None:
        for name in FIELDS:
            self.set(name, "")
        self.set("source", "No source")
