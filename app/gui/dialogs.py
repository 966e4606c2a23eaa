"""Small dialogs: About (with the model card figures) and the export progress dialog.

Both are shown with ``show()``, never ``exec()``, so no dialog blocks the event loop (or a
test).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import onnxruntime as ort
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressDialog,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from emocam import __version__
from emocam.gui.screen_fit import fit_geometry
from emocam.modelinfo import ModelInfo

# Figures that are fractions, shown as percentages; every other number is shown as it is
# (a temperature of 0.7155 is not "71.5%").
_FRACTIONS = re.compile(r"(accuracy|ece|fraction|recall|f1|uncertain_below)")
# Left out of the details: where and how a developer built the file, not what it does.
_PRIVATE_KEYS = {"command", "commit", "hardware", "wall_seconds", "parity_max_abs_diff"}
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(/[\w.+-]+){2,}|[A-Za-z]:\\\S+")

LICENCE = ("emocam is MIT-licensed. The built-in emotion models were trained on the FER2013 "
           "images, released for research use only: check that before any commercial use "
           "(see the model cards). Face detection: MediaPipe BlazeFace, Apache-2.0.")


_ACRONYMS = {"ece": "ECE", "macs": "MACs", "f1": "F1", "nll": "NLL", "fer2013": "FER2013"}


def readable_key(key: str) -> str:
    """``test_macro_f1`` -> ``Test macro F1``."""
    words = [_ACRONYMS.get(w, w) for w in key.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _fmt(key: str, value: Any) -> str:
    if isinstance(value, float):
        if _FRACTIONS.search(key) and 0.0 <= value <= 1.0:
            return f"{value:.1%}"
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{readable_key(str(k))}: {_fmt(str(k), v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(key, v) for v in value)
    return _ABSOLUTE_PATH.sub("…", str(value))


def adjustment_text(record: dict[str, Any]) -> str:
    """A model's post-hoc logit adjustment (``fer-train adjust``'s record) in words; its
    class prior and shift, numbers only a tool needs, stay in the file."""
    tau = record.get("tau")
    offsets = record.get("offsets") or {}
    parts = []
    if isinstance(tau, (int, float)) and tau:
        parts.append(f"each emotion's score raised by {tau:g} x log(1 / its share of the "
                     "training labels), so that rarer emotions are named more often")
    parts += [f"{name} {value:+g}" for name, value in offsets.items()
              if isinstance(value, (int, float)) and value]
    text = "; ".join(parts) or "none"
    rule = record.get("rule")
    return text + (f" ({rule})" if isinstance(rule, str) and rule else "")


def accuracy_line(info: ModelInfo) -> str:
    """'85.4% correct on its test images (FER+ majority vote, 3,137 images)': the headline
    figure and how it was measured, from the model's metadata."""
    acc = info.metrics.get("test_accuracy")
    if not isinstance(acc, (int, float)):
        return "not recorded in the model"
    scored_on = info.accuracy["test_set"]
    if scored_on and scored_on != info.training.get("data"):
        # Scored on other data than it was trained on (a built-in quantized on your photos):
        # its training's protocol is not the one its figure is of.
        protocol = f"{scored_on}, {info.metrics.get('test_protocol') or ''}".rstrip(", ")
    else:
        protocol = str(info.training.get("protocol") or info.metrics.get("test_protocol") or "")
        protocol = protocol.split(" (")[0]  # the name, not the definition in brackets
    images = info.metrics.get("test_images")
    how = ", ".join(x for x in (protocol, f"{images:,} images" if isinstance(images, int)
                                else "") if x)
    return f"{acc:.1%} correct on its test images" + (f" ({how})" if how else "")


def summary_rows(info: ModelInfo | None, path: str, provider: str = "") -> list[tuple[str, str]]:
    """What a user wants to know first: the model, how accurate, what licence, what version."""
    model = Path(path).name if path else "not loaded"
    rows: list[tuple[str, str]] = []
    if info is None:
        rows.append(("Emotion model", model))
    else:
        rows.append(("Emotion model", info.name))
        rows.append(("Emotions", f"{info.num_classes}: {', '.join(info.class_names)}"))
        rows.append(("Accuracy", accuracy_line(info)))
    running = provider.removesuffix("ExecutionProvider") if provider else ""
    rows.append(("Runs on", f"{running or 'the CPU'}, with onnxruntime {ort.__version__}"))
    rows.append(("Licence", LICENCE))
    rows.append(("Version", f"emocam {__version__}, Qt for Python {pyside_version}"))
    return rows


def _value_text(key: str, value: Any) -> str:
    if key == "logit_adjustment" and isinstance(value, dict):
        return adjustment_text(value)
    return _fmt(key, value)


def details_html(info: ModelInfo | None, path: str) -> str:
    """Everything else the model's metadata says, readable, without private build details."""
    if info is None:
        return "<p>The model's metadata could not be read.</p>"
    parts = [f"<p><b>File:</b> {html.escape(Path(path).name)}; input {info.input_size}x"
             f"{info.input_size} gray; calibration temperature {info.temperature:.4g}</p>"]
    fitted = info.metrics.get("temperature")
    if isinstance(fitted, (int, float)) and abs(fitted - info.temperature) > 1e-6:
        # `fer-train calibrate` sets a temperature chosen after export (for faces from other
        # sources); the recorded figures are still those of the validation fit.
        parts.append(f"<p>The calibration figures below were measured at the temperature "
                     f"fitted on validation ({fitted:.4g}); this model now uses "
                     f"{info.temperature:.4g}, chosen afterwards: its model card says why "
                     f"and what that measures.</p>")
    for title, items in (("Evaluation", info.metrics), ("Training", info.training)):
        shown = {k: v for k, v in items.items() if k not in _PRIVATE_KEYS}
        if not shown:
            continue
        rows = "".join(f"<tr><td><b>{html.escape(readable_key(k))}</b></td>"
                       f"<td>{html.escape(_value_text(k, v))}</td></tr>"
                       for k, v in shown.items())
        parts.append(f"<h4>{title}</h4><table cellspacing='3'>{rows}</table>")
    return "".join(parts)


def model_card_html(info: ModelInfo | None, path: str, provider: str = "") -> str:
    """The summary as a table (what the About dialog shows first)."""
    rows = "".join(f"<tr><td valign='top'><b>{html.escape(k)}</b>&nbsp;</td>"
                   f"<td>{html.escape(v)}</td></tr>" for k, v in summary_rows(info, path, provider))
    return f"<table cellspacing='4'>{rows}</table>"


class AboutDialog(QDialog):
    """A short summary; the model's full figures behind Details."""

    def __init__(self, info: ModelInfo | None, path: str, provider: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About emocam")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        text = (
            f"<h3>emocam {__version__}</h3><p>Reads the emotions on every face in a webcam, "
            "a video, a photo or a folder of photos, on your own computer; nothing is sent "
            "anywhere.</p>"
            + model_card_html(info, path, provider)
        )
        self.label = QLabel(text, self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QTextBrowser(self)
        self.details.setHtml(details_html(info, path))
        self.details.setMinimumHeight(220)
        self.details.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.details_button = QPushButton("Details...", self)
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle_details)
        buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        self.resize(560, self.sizeHint().height())

    def _toggle_details(self, on: bool) -> None:
        self.details.setVisible(on)
        self.details_button.setText("Hide Details" if on else "Details...")
        # Never taller than the screen's free room, Close button included: at 1.5x on a
        # 1366x768 screen the details' fixed minimum pushed Close off the bottom edge.
        screen = self.screen() or QGuiApplication.primaryScreen()
        room = screen.availableGeometry().height() - 60 if screen is not None else 640
        others = self.sizeHint().height() - self.details.sizeHint().height()
        self.details.setMinimumHeight(max(80, min(220, room - others)))
        height = (min(room, 640, self.sizeHint().height()) if on
                  else self.minimumSizeHint().height())
        self.resize(self.width(), height)
        if screen is not None:
            self._move_onto(screen.availableGeometry(), QSize(self.width(), height))

    def _move_onto(self, area: QRect, size: QSize) -> None:
        # Grown downwards from where it was, its lower part (Close too) was off the bottom
        # of a 1024x600 screen at 1.25x: moved up as far as the free room needs.
        frame, inner = self.frameGeometry(), self.geometry()
        decoration = frame.size() - inner.size()
        size, corner = fit_geometry(QRect(frame.topLeft(), size + decoration),
                                    QRect(inner.topLeft(), size), area,
                                    self.minimumSizeHint())
        if size != self.size():
            self.resize(size)
        if corner != frame.topLeft():
            self.move(corner)  # move() places the frame's corner


def export_progress(parent: QWidget, title: str, total: int) -> QProgressDialog:
    dialog = QProgressDialog(title, "", 0, max(total, 0), parent)
    dialog.setWindowTitle("Export")
    # Not modal: the window stays usable (another file, the close button) while it runs.
    dialog.setWindowModality(Qt.WindowModality.NonModal)
    # Nor does it take the keyboard as it shows: Space meant for the video pressed its
    # Cancel button. Brought forward (File > Export again, a click on it), its Cancel takes
    # the keyboard's focus as any dialog's button does.
    dialog.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    cancel = QPushButton("Cancel", dialog)
    cancel.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    dialog.setCancelButton(cancel)
    # Once the user brings it forward, Escape cancels as in any dialog. Qt made an Escape
    # shortcut for the constructor's button and another for this one: two shortcuts on one
    # key are ambiguous and neither fires, so only a click could cancel. Theirs are left
    # off (not deleted: Qt keeps a pointer to the last) for one of ours.
    for made_by_qt in dialog.findChildren(QShortcut):
        made_by_qt.setEnabled(False)
    escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), dialog)
    escape.activated.connect(lambda: cancel.isEnabled() and cancel.click())
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    # In the window's lower right corner, not over the middle of the video, where it hid
    # the faces the export is of for as long as it ran.
    window, hint = parent.window().geometry(), dialog.sizeHint()
    dialog.move(max(window.left(), window.right() - hint.width() - 24),
                max(window.top(), window.bottom() - hint.height() - 48))
    return dialog
