"""The bar under the video: play/pause, seek slider and position."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QKeyCombination, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QIcon,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProxyStyle,
    QSlider,
    QStyle,
    QWidget,
)

from emocam.gui.keyboard_focus import RingedToolButton, click_on_enter, focus_ring_after_paint
from emocam.progress import Count
from emocam.types import DEFAULT_FPS

_Key = Qt.Key
_SHIFT = Qt.KeyboardModifier.ShiftModifier
_HELD = (_SHIFT | Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
         | Qt.KeyboardModifier.MetaModifier)
# The keys a focused seek bar takes, as the window's keys they stand for (what a screen
# reader's user tries on a slider: Up and Down as Right and Left, PageUp and PageDown a
# coarse jump); the Playback menu's shortcuts alone turn them into seeks. Its own handling
# moved the bar without seeking (Up, Down) or by a page of 10 frames, a rule of its own.
_AS_WINDOW_KEY: dict[_Key, tuple[_Key, Qt.KeyboardModifier]] = {
    _Key.Key_Up: (_Key.Key_Right, Qt.KeyboardModifier.NoModifier),
    _Key.Key_Down: (_Key.Key_Left, Qt.KeyboardModifier.NoModifier),
    _Key.Key_PageUp: (_Key.Key_Right, _SHIFT),
    _Key.Key_PageDown: (_Key.Key_Left, _SHIFT),
    **{k: (k, Qt.KeyboardModifier.NoModifier)
       for k in (_Key.Key_Right, _Key.Key_Left, _Key.Key_Home, _Key.Key_End)},
}


def _clock(ms: float) -> str:
    s = max(0, int(ms // 1000))
    return f"{s // 60}:{s % 60:02d}"


class _JumpToClick(QProxyStyle):
    """A click on the seek bar goes to where it was clicked, as in video players; Qt's own
    click moves one page towards it."""

    def styleHint(self, hint: QStyle.StyleHint, *args: Any) -> int:
        if hint == QStyle.StyleHint.SH_Slider_AbsoluteSetButtons:
            return Qt.MouseButton.LeftButton.value
        return super().styleHint(hint, *args)


class _SeekSlider(QSlider):
    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        focus_ring_after_paint(self)


class PlaybackBar(QWidget):
    play_toggled = Signal(bool)  # True = paused
    seek_requested = Signal(int)  # frame index
    # A key pressed on the focused seek bar, as the window's key it stands for: the window
    # runs the Playback menu's action of that shortcut.
    key_pressed = Signal(QKeySequence)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = RingedToolButton(self)
        # Reached with Tab, pressed with Enter (Space is the window's play/pause anywhere);
        # a click leaves the keyboard's focus where it was, as the face cards' buttons do.
        self.button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        click_on_enter(self.button)
        self.button.setCheckable(True)
        self.button.setToolTip("Pause / play (Space)")
        self.button.setAccessibleName("Pause or play")
        self.button.toggled.connect(self._toggled)
        self.slider = _SeekSlider(Qt.Orientation.Horizontal, self)
        self.slider.setAccessibleName("Position in the video")
        self.slider.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.slider.setTracking(True)
        # No base style given: one given would be owned, and deleted, with the proxy (the
        # application's own style, so the app crashed as it closed). Its parent is the bar,
        # which deletes it after the slider, its user (children go in creation order).
        self._style = _JumpToClick()
        self._style.setParent(self)
        self.slider.setStyle(self._style)
        # The wheel would seek on every notch (a trackpad sends dozens), each seek starting
        # the faces' ids again; the bar is for clicks, drags and the keys of _AS_WINDOW_KEY.
        self.slider.installEventFilter(self)
        self.slider.sliderMoved.connect(self.seek_requested)
        self.slider.actionTriggered.connect(self._clicked_track)
        self.position = QLabel("0:00 / 0:00", self)
        # The frame the label describes; None when nothing is open.
        self._shown: tuple[int, float, str] | None = (0, 0.0, "")
        self._paused = False
        self.fps = DEFAULT_FPS
        self._still = False
        self._photos: Count | None = None  # a folder's: what its run counts
        self._total = 0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        self._toggled(False)
        self.set_range(None, DEFAULT_FPS)

    def set_range(self, frame_count: int | None, fps: float, still: bool = False,
                  photos: Count | None = None) -> None:
        """A file gets a slider; a live source does not; a still image (``still``, or a
        source of one frame) has nothing to play, so no button either. A folder's position
        is the photo's place and name, not a clock, counted as its run counts (``photos``:
        ``process.count_of``), every photo of the folder those left out for names too."""
        self.fps = fps or DEFAULT_FPS
        self._photos = photos
        self._still = still or frame_count == 1
        seekable = bool(frame_count and frame_count > 1)
        self.slider.setEnabled(seekable)
        self.slider.setRange(0, max((frame_count or 1) - 1, 0))
        self.slider.setVisible(not self._still)
        self.button.setVisible(not self._still)
        self.button.setEnabled(True)
        self._total = frame_count or 0
        self.position.setMinimumWidth(0)  # the last source's widest text is not this one's
        self._shown = (0, 0.0, "")
        # A folder of one photo is still, but its photo is named as any folder's is.
        self.position.setText("still image" if self._still and photos is None
                              else self._place(0, 0.0))

    def is_photos(self) -> bool:
        """Whether the position is a folder's photo (not a video's frame)."""
        return self._photos is not None

    def reset(self) -> None:
        """Nothing open yet: no position, no previous file's length, nothing to play."""
        self.set_range(None, DEFAULT_FPS)
        self.slider.setValue(0)
        self._shown = None
        self.position.setText("")
        self.button.setEnabled(False)

    def _total_text(self) -> str:
        return _clock(1000 * self._total / self.fps) if self._total > 1 else "live"

    def _place(self, index: int, time_ms: float, name: str = "") -> str:
        if self._photos is not None:
            shown = name if len(name) <= 32 else f"{name[:14]}...{name[-15:]}"
            # The summary's "(2 of 8)" and the bar's 8/8 count every photo of the folder,
            # those left out for their names first: this said "photo 7 of 7" beside them.
            count = self._photos
            left = f" ({count.before} left out)" if count.before else ""
            return (f"photo {count.at(index + 1, index)} of {count.total or self._total}{left}"
                    + (f": {shown}" if shown else ""))
        # The last frame shows the whole length, as players do (it showed 0:05 / 0:06).
        at_end = self._total > 1 and index >= self._total - 1
        clock = f"{self._total_text() if at_end else _clock(time_ms)} / {self._total_text()}"
        # Paused, each step shows: the frame's number is the CSV's "frame" column.
        return f"{clock} · frame {index}" if self._paused and self._total > 1 else clock

    def _show_place(self) -> None:
        if (self._still and self._photos is None) or self._shown is None:
            return
        self.position.setText(self._place(*self._shown))
        # Never narrower within one source: the seek bar jumped with each photo's name.
        wanted = self.position.sizeHint().width()
        if wanted > self.position.minimumWidth():
            self.position.setMinimumWidth(wanted)

    def set_position(self, index: int, time_ms: float, name: str = "") -> None:
        """The frame shown: its index, time and (a folder's photo) file name."""
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self._shown = (index, time_ms, name)
        self._show_place()

    def set_paused(self, paused: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(paused)
        self.button.blockSignals(False)
        self._update_icon(paused)
        self._paused = paused
        self._show_place()

    def _toggled(self, paused: bool) -> None:
        self._update_icon(paused)
        self._paused = paused
        self._show_place()
        self.play_toggled.emit(paused)

    def _update_icon(self, paused: bool) -> None:
        self.button.setIcon(_media_icon(paused, self.palette().color(QPalette.ColorRole.ButtonText),
                                        self.button.iconSize().height(),
                                        self.devicePixelRatioF()))

    def changeEvent(self, event: QEvent) -> None:
        # A desktop switched to a dark theme: the icon follows the button's text colour.
        if event.type() == QEvent.Type.PaletteChange:
            self._update_icon(self.button.isChecked())
        super().changeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self.slider:
            return False
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            as_key = _AS_WINDOW_KEY.get(Qt.Key(event.key()))
            if as_key is None:
                return False
            key, modifier = as_key
            # Right, Left, Home, End reach here only where their menu action is disabled
            # (the window's shortcut goes first): the bar must not move without a seek.
            held = event.modifiers() & _HELD  # not the keypad's arrows' own flag
            self.key_pressed.emit(QKeySequence(QKeyCombination(held | modifier, key)))
            return True
        return event.type() == QEvent.Type.Wheel

    def _clicked_track(self, action: int) -> None:
        # A click on the bar moves the slider before it counts as pressed, so without
        # sliderMoved (a drag then sends sliderMoved itself). The signal carries a plain
        # int, which PySide6's enums do not compare equal to.
        click = (action == QSlider.SliderAction.SliderMove.value
                 and not self.slider.isSliderDown())
        if click or action in (QSlider.SliderAction.SliderPageStepAdd.value,
                               QSlider.SliderAction.SliderPageStepSub.value):
            self.seek_requested.emit(self.slider.sliderPosition())


def _media_icon(play: bool, colour: QColor, size: int, ratio: float) -> QIcon:
    """A play triangle or two pause bars in ``colour``. The style's own media icons are
    black whatever the palette: on a dark theme's button they could hardly be seen (1.8:1)."""
    side = max(8, size)
    pixmap = QPixmap(round(side * ratio), round(side * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        m = side * 0.2
        if play:
            p.drawPolygon(QPolygonF([QPointF(m, m), QPointF(side - m, side / 2),
                                     QPointF(m, side - m)]))
        else:
            bar = (side - 2 * m) / 3
            p.drawRect(QRectF(m, m, bar, side - 2 * m))
            p.drawRect(QRectF(side - m - bar, m, bar, side - 2 * m))
    finally:
        p.end()
    return QIcon(pixmap)
