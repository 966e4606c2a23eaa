"""Status bar fields: source, resolution, fps, latency, detector, provider, options that are
not the defaults, faces, REC and the live feed."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

FIELDS = ("source", "resolution", "fps", "latency", "detector", "provider", "settings", "faces",
          "rec", "stream")
# Free text of any length, shortened with "…" when the bar is short of room instead of being
# cut off mid-word at the window's edge; the narrowest each may become: the file's name keeps
# more room than the note on kept settings.
SHORTENED = {"source": 160, "settings": 60}
# Where the bar cannot show every field whole, these give way first, in this order: what the
# status bar is for (which file, how many faces, whether it keeps up, recording) stays.
# Before, every field was cut at its edge: "latency 1" for 15 ms, "detecto".
GIVE_WAY = ("provider", "resolution", "detector", "latency", "stream", "settings", "fps")
_SPACING = 8  # between two fields, and the bar's own margins and size grip


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


class StatusFields(QObject):
    def __init__(self, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.bar = bar
        self.labels: dict[str, QLabel] = {}
        for name in FIELDS:
            label = (ShortenedLabel(bar, SHORTENED[name]) if name in SHORTENED
                     else QLabel(bar))
            label.setObjectName(f"status_{name}")
            bar.addPermanentWidget(label)
            self.labels[name] = label
        self.labels["rec"].setStyleSheet("color: #e53935; font-weight: bold;")
        self.hidden: set[str] = set()  # fields given way for lack of room
        bar.installEventFilter(self)
        self.clear()

    def set(self, name: str, text: str, tooltip: str = "") -> None:
        label = self.labels[name]
        changed = self.text(name) != text
        if isinstance(label, ShortenedLabel):
            label.set_text(text, tooltip)
        else:
            if changed:
                label.setText(text)
            if tooltip:
                label.setToolTip(tooltip)
        if changed:  # set for every frame, mostly to the same text
            self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.bar and event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        """Show whole every field there is room for, giving way in ``GIVE_WAY``'s order."""
        def width(name: str) -> int:
            label = self.labels[name]
            hint = (label.minimumSizeHint() if isinstance(label, ShortenedLabel)
                    else label.sizeHint())
            return hint.width() + _SPACING

        shown = [n for n in FIELDS if self.text(n)]
        room = self.bar.width() - 2 * _SPACING
        need = sum(width(n) for n in shown)
        hidden = set()
        for name in GIVE_WAY:
            if need <= room:
                break
            if name in shown:
                hidden.add(name)
                need -= width(name)
        for name, label in self.labels.items():
            visible = bool(self.text(name)) and name not in hidden
            if label.isVisibleTo(self.bar) != visible:
                label.setVisible(visible)
        self.hidden = hidden

    def text(self, name: str) -> str:
        """The field's whole text, however much of it the bar has room to show."""
        label = self.labels[name]
        return label.full_text() if isinstance(label, ShortenedLabel) else label.text()

    def clear(self) -> None:
        for name in FIELDS:
            self.set(name, "")
        self.set("source", "No source")
