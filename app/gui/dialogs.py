"""Small dialogs: About (with the model card figures) and the export progress dialog.

Both are shown with ``show()``, never ``exec()``, so no dialog blocks the event loop (or a
test).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressDialog,
    QVBoxLayout,
    QWidget,
)

from emocam import __version__
from emocam.modelinfo import ModelInfo


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _rows(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in items.items()
    )
    return f"<h4>{html.escape(title)}</h4><table cellspacing='4'>{rows}</table>"


def model_card_html(info: ModelInfo | None, path: str, provider: str = "") -> str:
    """The model's own figures, straight from its metadata (nothing hard-coded here)."""
    if info is None:
        return f"<p>Model: {html.escape(path or 'not loaded')}</p>"
    head = (
        f"<h3>{html.escape(info.name)}</h3>"
        f"<p>{html.escape(path)}<br>{info.num_classes} classes: "
        f"{html.escape(', '.join(info.class_names))}<br>"
        f"input {info.input_size}x{info.input_size} gray, {info.layout}"
        + (f", running on {html.escape(provider)}" if provider else "")
        + "</p>"
    )
    return head + _rows("Evaluation", info.metrics) + _rows("Training", info.training)


class AboutDialog(QDialog):
    def __init__(self, info: ModelInfo | None, path: str, provider: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About emocam")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        text = (
            f"<h2>emocam {__version__}</h2><p>Reads the emotions on every face in a webcam "
            "or video, on your own computer. Face detection: MediaPipe BlazeFace or OpenCV "
            "Haar cascade; emotion model run with onnxruntime.</p>"
            + model_card_html(info, path, provider)
        )
        self.label = QLabel(text, self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        self.resize(520, 420)


def export_progress(parent: QWidget, title: str, total: int) -> QProgressDialog:
    dialog = QProgressDialog(title, "Cancel", 0, max(total, 0), parent)
    dialog.setWindowTitle("Export")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return dialog
