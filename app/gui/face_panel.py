"""Side-panel cards: one per tracked face, with its top emotion and its likeliest emotions.

Cards are compact (the top three emotions) so several faces fit beside the video; the arrow
on a card shows all of its classes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAccessible,
    QAccessibleEvent,
    QAccessibleStateChangeEvent,
    QColor,
    QFocusEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from emocam.contrast import readable_on
from emocam.detect import MIN_FACE_PX
from emocam.gui.keyboard_focus import (
    ENTER,
    FOCUS_PX,
    RingedToolButton,
    click_on_enter,
    paint_focus_ring,
)
from emocam.gui.palette import class_color, class_color_on
from emocam.overlay import panel_order
from emocam.types import FaceResult, FrameResult

COMPACT_ROWS = 3


def percents(probs: np.ndarray) -> np.ndarray:
    """Whole percentages as a card shows them; its header and its rows use these alone."""
    return np.rint(np.asarray(probs, np.float64) * 100).astype(np.int32)


class EmotionBars(QWidget):
    """Horizontal bars labelled with the class name and percentage: the likeliest
    ``COMPACT_ROWS`` classes when compact, else one per class in the model's order.

    Rows and columns are measured in the window's font: in pixels fixed for Qt's 9-point
    default, a desktop's 11-point font (Ubuntu's) ran the names into their bars and cut
    "100%"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.compact = True
        self._names: tuple[str, ...] = ()
        self._probs = np.zeros(0, np.float32)
        self._shown = np.zeros(0, np.int32)
        self._measured: tuple[object, tuple[int, int]] = (None, (0, 0))

    def set_probs(self, names: tuple[str, ...], probs: np.ndarray) -> None:
        probs = np.asarray(probs, np.float32)
        # Smoothed probabilities move slowly: most frames change no percentage shown, and
        # repainting every card for them cost the GUI thread more than the video itself.
        # Keyed on the shown percentages themselves, so the rows never lag the card's header.
        shown = percents(probs)
        if names == self._names and np.array_equal(shown, self._shown):
            return
        if names != self._names:
            self._names = names
            self.updateGeometry()
        self._probs, self._shown = probs, shown
        self.update()

    def set_compact(self, compact: bool) -> None:
        self.compact = compact
        self.updateGeometry()
        self.update()

    def rows(self) -> int:
        n = len(self._names)
        return min(n, COMPACT_ROWS) if self.compact else n

    def _row(self) -> int:
        return self.fontMetrics().height() + 4

    def _columns(self) -> tuple[int, int]:
        """The widths of the names' column and the percentages' (measured once per model
        and font, not at every repaint)."""
        key = (self._names, self.font().key())
        if self._measured[0] != key:
            fm = self.fontMetrics()
            names = max((fm.horizontalAdvance(n) for n in self._names), default=0)
            self._measured = (key, (names + fm.averageCharWidth(),
                                    fm.horizontalAdvance("100%") + 2))
        return self._measured[1]

    def sizeHint(self) -> QSize:
        label_w, pct_w = self._columns()
        return QSize(label_w + pct_w + 100, self._row() * max(self.rows(), 1))

    def minimumSizeHint(self) -> QSize:
        label_w, pct_w = self._columns()
        return QSize(label_w + pct_w + 40, self._row() * max(self.rows(), 1))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_w, pct_w = self._columns()
        row_h = self._row()
        bar_w = max(self.width() - label_w - pct_w - 8, 10)
        text = self.palette().windowText().color()
        background = self.palette().window().color()
        probs = self._probs.tolist()
        for row, i in enumerate(panel_order(probs, self.rows())):
            name, prob = self._names[i], probs[i]
            y = row * row_h
            p.setPen(text)
            p.drawText(QRectF(0, y, label_w, row_h),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
            track = QRectF(label_w, y + row_h * 0.2, bar_w, row_h * 0.6)
            p.fillRect(track, QColor(128, 128, 128, 40))
            p.fillRect(QRectF(track.x(), track.y(), bar_w * float(prob), track.height()),
                       class_color_on(name, i, background))
            p.drawText(QRectF(label_w + bar_w + 4, y, pct_w, row_h),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       f"{self._shown[i]}%")
        p.end()

    def row_texts(self) -> list[str]:
        """The rows as painted: "name NN%", likeliest first."""
        order = panel_order(self._probs.tolist(), self.rows())
        return [f"{self._names[i]} {self._shown[i]}%" for i in order]


# The card chosen has a solid edge in the theme's highlight; the keyboard's focus the app's
# ring just inside it, so both show at once (a focus style that replaced the edge hid the
# choice Enter had just made). The edge sits outside the contents' margins, the ring within.
SELECTED_PX = 3
# A screen reader is told the card changed when its label or doubt changes, or its share by
# this many points since last told: told of each percentage, it heard 13 a second while the
# sample video played (what it reads when it asks is always the card's own, as shown).
TELL_STEP = 10


def _rgb(c: QColor) -> tuple[int, int, int]:
    return c.red(), c.green(), c.blue()


def selection_color(palette: QPalette) -> QColor:
    """The highlight, made to stand out from the window by 3:1 (WCAG 1.4.11): a dark
    theme's highlight was 1.7:1 on its window."""
    return QColor(*readable_on(_rgb(palette.color(QPalette.ColorRole.Highlight)),
                               _rgb(palette.color(QPalette.ColorRole.Window))))


class FaceCard(QFrame):
    clicked = Signal(int)

    def __init__(self, face_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face_id = face_id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.bars = EmotionBars(self)
        self.more = RingedToolButton(self)
        self.more.setAutoRaise(True)
        self.more.setCheckable(True)
        # Reached with Tab and pressed with Enter, as the card itself is (Space stays
        # play/pause, a window shortcut); a click leaves the keyboard's focus where it was.
        self.more.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        click_on_enter(self.more)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.more.toggled.connect(self.show_all)
        self.show_all(False)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.more)
        layout = QVBoxLayout(self)
        edge = SELECTED_PX + FOCUS_PX + 1
        layout.setContentsMargins(edge + 1, edge, edge + 1, edge)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.bars)
        self.top_label = ""
        self.selected = False
        # Its name stays; what it reads changes (description(), emocam.gui.face_card_access).
        self.setAccessibleName(f"Face {face_id}")
        self._spoken = ""
        self._told: tuple[str, int, str] | None = None  # label, percentage, doubt

    def description(self) -> str:
        """What a screen reader says of the card after its name and role: its label and
        percentage, and its doubt, as the card shows them."""
        return self._spoken

    def update_face(self, face: FaceResult, names: tuple[str, ...]) -> None:
        top = face.top_index
        self.top_label = names[top]
        shown = int(percents(face.probs)[top])
        color = class_color(self.top_label, top).name()
        # The doubt the video's label shows ("uncertain (low confidence)") is said here too,
        # on a line of its own: beside the label it was cut off at the panel's usual width.
        doubt = (f"<br><span style='color:gray'>uncertain ({face.uncertain})</span>"
                 if face.uncertain else "")
        self.title.setText(
            f"<b>Face {face.face_id}</b> &nbsp; <span style='background:{color}; color:#111'>"
            f"<b>&nbsp;{self.top_label}&nbsp;</b></span> {shown}%"
            f"{doubt}"
        )
        self.bars.set_probs(names, face.probs)
        # What a screen reader says of the card (its bars are painted, not text): its label
        # and the likeliest rows, as the card shows them.
        self._spoken = (f"{self.top_label} {shown}%"
                        + (f", uncertain ({face.uncertain})" if face.uncertain else ""))
        told = self._told
        if (told is None or told[0] != self.top_label or told[2] != face.uncertain
                or abs(told[1] - shown) >= TELL_STEP):
            self._told = (self.top_label, shown, face.uncertain)
            self.bars.setAccessibleName(", ".join(self.bars.row_texts()))
            QAccessible.updateAccessibility(
                QAccessibleEvent(self, QAccessible.Event.DescriptionChanged))

    def show_all(self, on: bool) -> None:
        """All classes (the arrow pressed) or the likeliest three."""
        self.more.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.more.setToolTip("Show fewer emotions" if on else "Show every emotion")
        self.more.setAccessibleName(self.more.toolTip())
        self.bars.set_compact(not on)

    def set_selected(self, selected: bool) -> None:
        if selected == self.selected:
            return  # repainting every frame would cost the GUI thread for nothing
        self.selected = selected
        self.update()
        changed = QAccessible.State()
        changed.checked = True
        QAccessible.updateAccessibility(QAccessibleStateChangeEvent(self, changed))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not (self.selected or self.hasFocus()):
            return
        p = QPainter(self)
        try:
            box = self.rect().toRectF()
            if self.selected:
                pen = QPen(selection_color(self.palette()), SELECTED_PX)
                pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
                p.setPen(pen)
                half = SELECTED_PX / 2
                p.drawRect(box.adjusted(half, half, -half, -half))
            if self.hasFocus():
                inset = SELECTED_PX + FOCUS_PX / 2
                paint_focus_ring(p, self, box.adjusted(inset, inset, -inset, -inset))
        finally:
            p.end()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit(self.face_id)
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in ENTER:
            self.clicked.emit(self.face_id)  # as a click: this face's line in the timeline
            return
        super().keyPressEvent(event)


IN_VIEW = "No faces in view."
LOOKING = "Looking for faces..."
NONE_IN_PHOTO = (f"No face found in this image. Faces much smaller than {MIN_FACE_PX:.0f} px, "
                 "turned away or covered may be missed; View > Detector has the other "
                 "detector.")


class FacePanel(QWidget):
    """Keeps one card per face id in view; removes cards of faces that left."""

    selection_changed = Signal(object)  # face id or None

    def __init__(self, parent: QWidget | None = None,
                 tab_after: QWidget | None = None) -> None:
        """``tab_after``: the control Tab goes from to the first card."""
        super().__init__(parent)
        self.tab_after = tab_after
        self.cards: dict[int, FaceCard] = {}
        self.selected: int | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._still = False
        self._empty = QLabel(IN_VIEW, self)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)

    def update_result(self, result: FrameResult) -> None:
        seen = {f.face_id for f in result.faces}
        focused = self._focused_card()
        for face_id in [i for i in self.cards if i not in seen]:
            self.cards.pop(face_id).deleteLater()
        added = False
        for face in sorted(result.faces, key=lambda f: f.face_id):
            card = self.cards.get(face.face_id)
            if card is None:
                card = FaceCard(face.face_id, self)
                card.clicked.connect(self.toggle_selection)
                self.cards[face.face_id] = card
                self._layout.insertWidget(self._insert_index(face.face_id), card)
                added = True
            card.update_face(face, result.class_names)
        if added:
            self._order_tabs()
        if focused is not None and focused not in self.cards:
            self._focus_after_leaving(focused)
        if self._still:
            self._empty.setText(NONE_IN_PHOTO)  # looked, and found none
        self._empty.setVisible(not self.cards)
        self._restyle()

    def set_still(self, still: bool) -> None:
        """A photo has one frame to find faces in: where none is found, say why it may be,
        once it has been looked at (a large photo takes seconds, and "No face found" showed
        over it all the while)."""
        self._still = still
        self._empty.setText(LOOKING if still else IN_VIEW)

    def clear(self) -> None:
        """The source is gone: its faces, and the one chosen among them, whose id would name
        someone else in the next file."""
        focused = self._focused_card()
        for card in self.cards.values():
            card.deleteLater()
        self.cards.clear()
        if focused is not None:
            self._focus_after_leaving(focused)
        self._empty.setVisible(True)
        self.clear_selection()

    def _focused_card(self) -> int | None:
        """The face whose card (or its arrow) has the keyboard's focus in this window, if
        any (asked of the window: it keeps its focus while another application is used)."""
        focus = self.window().focusWidget()
        for face_id, card in self.cards.items():
            if focus is card or card.isAncestorOf(focus):
                return face_id
        return None

    def _focus_after_leaving(self, face_id: int) -> None:
        """The card in focus went with its face: the focus goes to the next card by number,
        else the one before it, else the control Tab reaches the cards from. Left to Qt, it
        went nowhere when the card was deleted: a keyboard or screen-reader user lost their
        place each time a face left."""
        later = [i for i in self.cards if i > face_id]
        earlier = [i for i in self.cards if i < face_id]
        target: QWidget | None = (self.cards[min(later)] if later
                                  else self.cards[max(earlier)] if earlier
                                  else self._before_cards())
        if isinstance(target, FaceCard):
            self._focus(target)
        elif target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)

    def _before_cards(self) -> QWidget | None:
        """The control Shift+Tab reaches from the first card: ``tab_after``, or where it takes
        no focus (a camera's seek bar is there but disabled; Qt gives a disabled widget's
        focus to nothing), the nearest one before it that does (the camera's play button)."""
        widget, seen = self.tab_after, set()
        while widget is not None and widget not in seen:
            # Not a card: those of the faces gone are still there until deleted.
            if (widget.isVisible() and widget.isEnabled() and not self.isAncestorOf(widget)
                    and widget.focusPolicy().value & Qt.FocusPolicy.TabFocus.value):
                return widget
            seen.add(widget)
            widget = widget.previousInFocusChain()
        return None

    def focus_first(self) -> bool:
        """The keyboard's focus to the first card by number; False where no card is shown
        (none, or the panel hidden)."""
        if not self.cards or not self.isVisible():
            return False
        self._focus(self.cards[min(self.cards)])
        return True

    @staticmethod
    def _focus(card: FaceCard) -> None:
        # A card made in this frame (a cut: one face gone, another come; a new file's first
        # face) is shown by the layout only on the event loop's next turn, and a hidden
        # widget takes no focus.
        card.show()
        card.setFocus(Qt.FocusReason.OtherFocusReason)

    def _order_tabs(self) -> None:
        # Tab goes through the cards as they are shown, by face id: a card made later (a face
        # that came, ids restarted by a seek) came after the others, wherever it stood.
        # Qt orders only widgets that take the focus, one at a time (a card's own button
        # stays where it was unless moved with it): the first card after ``tab_after``.
        before = self.tab_after
        for face_id in sorted(self.cards):
            card = self.cards[face_id]
            if before is not None:
                QWidget.setTabOrder(before, card)
            QWidget.setTabOrder(card, card.more)
            before = card.more

    def _insert_index(self, face_id: int) -> int:
        # Cards stay sorted by id so they do not jump around as faces come and go.
        return 1 + sum(1 for i in self.cards if i < face_id)

    def clear_selection(self) -> None:
        if self.selected is not None:
            self.selected = None
            self._restyle()
            self.selection_changed.emit(None)

    def toggle_selection(self, face_id: int) -> None:
        self.selected = None if self.selected == face_id else face_id
        self._restyle()
        self.selection_changed.emit(self.selected)

    def _restyle(self) -> None:
        for face_id, card in self.cards.items():
            card.set_selected(face_id == self.selected)
