"""Status bar fields: source, resolution, fps, latency, detector, provider, options that are
not the defaults, faces, REC and the live feed."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

FIELDS = ("source", "resolution", "fps", "latency", "detector", "provider", "settings", "faces",
          "rec", "stream")


class StatusFields:
    def __init__(self, bar: QStatusBar) -> None:
        self.labels: dict[str, QLabel] = {}
        for name in FIELDS:
            label = QLabel(bar)
            label.setObjectName(f"status_{name}")
            bar.addPermanentWidget(label)
            self.labels[name] = label
        self.labels["rec"].setStyleSheet("color: #e53935; font-weight: bold;")
        self.clear()

    def set(self, name: str, text: str, tooltip: str = "") -> None:
        label = self.labels[name]
        if label.text() != text:
            label.setText(text)
        if tooltip:
            label.setToolTip(tooltip)

    def text(self, name: str) -> str:
        return self.labels[name].text()

    def clear(self) -> None:
        for name in FIELDS:
            self.set(name, "")
        self.set("source", "No source")
