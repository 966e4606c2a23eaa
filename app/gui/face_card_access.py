"""What a screen reader is told a face card is: a toggle button (pressed: the face the
timeline follows) named "Face N", described by its label and percentage as shown.

Qt gave the card a frame's role ("border"), which a reader announces as nothing it can act
on, and no state; a widget's role can only be changed by an interface of its own."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible, QAccessibleActionInterface, QAccessibleInterface
from PySide6.QtWidgets import QAccessibleWidget

from emocam.gui.face_panel import FaceCard

_installed = False


class FaceCardAccess(QAccessibleWidget):
    def __init__(self, card: FaceCard) -> None:
        super().__init__(card, QAccessible.Role.Button)
        self._card = card

    def state(self) -> QAccessible.State:
        state = super().state()
        state.checkable = True
        state.checked = self._card.selected
        return state

    def text(self, kind: QAccessible.Text) -> str:
        if kind == QAccessible.Text.Description:
            return self._card.description()  # as shown now, however seldom it was told
        return super().text(kind)

    def actionNames(self) -> list[str]:
        return [QAccessibleActionInterface.pressAction(), *super().actionNames()]

    def doAction(self, name: str) -> None:
        if name == QAccessibleActionInterface.pressAction():
            self._card.clicked.emit(self._card.face_id)  # as a click or Enter
            return
        super().doAction(name)


def _factory(key: str, obj: QObject) -> QAccessibleInterface | None:
    return FaceCardAccess(obj) if isinstance(obj, FaceCard) else None


def install() -> None:
    """Give face cards their interface (once; before a screen reader asks for one)."""
    global _installed
    if not _installed:
        QAccessible.installFactory(_factory)
        _installed = True
