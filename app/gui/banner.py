"""An in-window message bar (never modal): a sentence and a few action buttons."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

# The buttons on the bar's dark colours: a faint edge, and a solid white one (and a lighter
# face) for the keyboard's focus. The style's own focus mark stood out from the bar by 2:1.
_BUTTONS = (
    "QPushButton { color: white; background: rgba(255,255,255,30); padding: 3px 12px;"
    " border: 2px solid rgba(255,255,255,80); border-radius: 3px; }"
    " QPushButton:hover { background: rgba(255,255,255,55); }"
    " QPushButton:pressed { background: rgba(255,255,255,90); }"
    " QPushButton:focus { border: 2px solid #ffffff; background: rgba(255,255,255,70); }"
)
_STYLES = {
    "error": "background:#5c1f1f; color:#ffffff;",
    "warning": "background:#5c4a12; color:#ffffff;",
    "info": "background:#1f3d5c; color:#ffffff;",
}


class MessageBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 6, 6)
        self._layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error",
                     actions: dict[str, Callable[[], object]] | None = None) -> None:
        """Show ``text`` with one button per action (plus Dismiss)."""
        for button in self.buttons.values():
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = {}
        button_before: QWidget = self.label
        for title, callback in {**(actions or {}), "Dismiss": self.hide}.items():
            button = QPushButton(title, self)
            # Reached with Tab and pressed with Enter (Space stays play/pause, a window
            # shortcut); a click leaves the keyboard's focus where it was.
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.setAutoDefault(True)
            button.clicked.connect(lambda _=False, cb=callback: self._run(cb))
            self._layout.addWidget(button)
            # Tab reaches them first, as they are seen (above the video and its controls);
            # made now, they came last, after the face cards.
            QWidget.setTabOrder(button_before, button)
            button_before = button
            self.buttons[title] = button
        self.level = level
        self.setStyleSheet(f"#messageBanner {{{_STYLES.get(level, _STYLES['info'])}}}"
                           " QLabel { color: white; } " + _BUTTONS)
        self.label.setText(text)
        self.show()
        self._fit_text()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_text()

    def _fit_text(self) -> None:
        # A wrapped sentence's height follows the width, which Qt's minimum sizes do not: in
        # a narrow window the sentence was cut off and the playback bar drawn over the video.
        need = self.label.heightForWidth(max(1, self.label.width()))
        if need > 0 and need != self.label.minimumHeight():
            self.label.setMinimumHeight(need)

    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()

    def _run(self, callback: Callable[[], object]) -> None:
        self.hide()
        callback()
