"""Where the keyboard's focus goes when the source changes: back among the source's controls.

Opening another file (or Camera > Stop) empties the face cards and disables the play button
and the seek bar until the new source opens, and Qt gives the focus of a disabled widget to
nothing: a keyboard or screen-reader user on a card, the seek bar or the play button had to
Tab again from the window's first control. The place is kept while no source plays and given
back once the new one's controls are enabled: to the control it was on if that is there
again, else to the play button, the seek bar, or (a photo has neither) its first face card."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget


def _usable(widget: QWidget) -> bool:
    return widget.isVisible() and widget.isEnabled()


class FocusReturn:
    def __init__(self, window: QWidget, controls: Sequence[QWidget],
                 first_card: Callable[[], bool]) -> None:
        """``controls``: the source's controls that outlive it (the play button, the seek
        bar), in the order the focus goes to them; ``first_card``: gives the focus to the
        first face card, False where there is none."""
        self._window = window
        self._controls = tuple(controls)
        self._first_card = first_card
        self._waiting = False  # the focus was in the window when the source stopped
        self._kept: QWidget | None = None  # the control it was on

    def leaving(self) -> None:
        """The source is about to stop: its controls are disabled, its cards go."""
        if self._waiting:  # kept already (Camera > Stop, then Open): the first place stays
            return
        focus = self._window.focusWidget()
        if focus is None:  # the mouse's user: no focus ring appears unasked
            return
        self._waiting = True
        self._kept = focus if focus in self._controls else None

    def back(self) -> None:
        """The new source's controls are set (it opened) or a frame of it is shown: the focus
        goes back, once, unless it is on a control already (kept, or moved there since)."""
        if not self._waiting:
            return
        focus = self._window.focusWidget()
        if focus is not None and _usable(focus):
            self._waiting, self._kept = False, None
            return
        kept = [self._kept] if self._kept is not None else []
        target = next((w for w in (*kept, *self._controls) if _usable(w)), None)
        if target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)
        elif not self._first_card():
            return  # a photo whose faces are not found yet
        self._waiting, self._kept = False, None
