"""The app for a user who uses the keyboard alone, a large font, a dark theme or who does
not tell some colours apart: driven as that user would, with the real pipeline (offscreen)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from gui_helpers import assert_panels_clear, export_under_way, wait_frames
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from benchmarks.media import Placement, render

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_settings")]

LONG_FPS = 10


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two and a half minutes at 10 fps of one real face, drifting across the frame."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), LONG_FPS, (320, 240))
    frames = [render((320, 240), [Placement("astronaut", 120 + x, 120, 110)], seed=7)
              for x in range(0, 80, 4)]
    for i in range(150 * LONG_FPS):
        writer.write(frames[(i // 10) % len(frames)])
    writer.release()
    return path


def _press(qtbot, window, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(QApplication.focusWidget() or window, key, modifier)


def _active(qtbot, window) -> None:
    window.activateWindow()
    # Keys go to the active window only (the activation can come late on a loaded machine).
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


def _shows(qtbot, window, text: str) -> None:
    qtbot.waitUntil(lambda: window.playback.position.text().endswith(text)
                    or f"{text}:" in window.playback.position.text(), timeout=20_000)


def test_the_keyboard_reaches_far_into_a_long_clip_in_a_few_presses(qtbot, make_window,
                                                                     long_clip):
    # Right went one frame on and nothing went further: 2 minutes in took 1200 presses.
    window = make_window()
    window.open_file(long_clip)
    wait_frames(qtbot, window, 2)
    _active(qtbot, window)
    _press(qtbot, window, Qt.Key.Key_Space)  # paused: each place shows its frame number
    _press(qtbot, window, Qt.Key.Key_Home)
    _shows(qtbot, window, "frame 0")
    _press(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    # pressed before the first seek is shown
    _press(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    _shows(qtbot, window, "frame 1200")
    assert window.playback.position.text().startswith("2:00 / 2:30")
    for _ in range(3):
        _press(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    _shows(qtbot, window, "frame 1350")
    _press(qtbot, window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    _shows(qtbot, window, "frame 1300")
    _press(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    _shows(qtbot, window, "frame 1499")  # past the end: the last frame, as End
    _press(qtbot, window, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    _shows(qtbot, window, "frame 899")
    assert window.playback.button.isChecked()  # still paused where the keys left it
    # The keys are in the Playback menu, where a user finds them.
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Playback")
    titles = [a.text() for a in menu.actions()]
    assert "&Forward 5 Seconds" in titles and "Back 1 M&inute" in titles


def test_a_folders_coarse_jumps_go_ten_photos_at_a_time(qtbot, make_window, image_one_face,
                                                       tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image = cv2.imread(str(image_one_face))
    for k in range(12):
        cv2.imwrite(str(folder / f"p{k:02d}.jpg"), image)
    window = make_window()
    window.open_file(folder)
    wait_frames(qtbot, window, 1)
    _active(qtbot, window)
    _press(qtbot, window, Qt.Key.Key_Space)
    _press(qtbot, window, Qt.Key.Key_Home)
    _shows(qtbot, window, "photo 1 of 12")
    assert window.qactions["playback.forward"].text() == "&Forward 10 Photos"
    _press(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    _shows(qtbot, window, "photo 11 of 12")
    _press(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    _shows(qtbot, window, "photo 12 of 12")
    _press(qtbot, window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    _shows(qtbot, window, "photo 2 of 12")


def _rgb(image, x: int, y: int) -> tuple[int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def _palette(window_rgb: tuple[int, int, int], highlight_rgb: tuple[int, int, int]):
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    text = (20, 20, 20) if sum(window_rgb) > 380 else (235, 235, 235)
    for role, rgb in ((QPalette.ColorRole.Window, window_rgb),
                      (QPalette.ColorRole.Base, window_rgb),
                      (QPalette.ColorRole.Button, window_rgb),
                      (QPalette.ColorRole.WindowText, text), (QPalette.ColorRole.Text, text),
                      (QPalette.ColorRole.ButtonText, text),
                      (QPalette.ColorRole.Highlight, highlight_rgb)):
        palette.setColor(role, QColor(*rgb))
    return palette


# Qt's default light palette, and a dark theme whose highlight stood 1.7:1 from its window.
THEMES = {"light": ((239, 239, 239), (48, 140, 198)), "dark": ((53, 53, 53), (42, 95, 140))}


def _themed(make_window, theme: str, path):
    """A window in ``theme``'s colours playing ``path``, and its window colour."""
    window_rgb, highlight = THEMES[theme]
    window = make_window()
    window.setPalette(_palette(window_rgb, highlight))
    window.open_file(path)
    return window, window_rgb


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_a_face_card_chosen_with_the_keyboard_shows_its_focus_and_its_choice(
        qtbot, make_window, video_four_faces, theme):
    # Enter chose the card and nothing showed it: the focus style replaced the selection's
    # edge, and on a dark theme the edge stood 1.7:1 from the window and the focus not at all.
    from emocam.contrast import MIN_CONTRAST, contrast

    window, window_rgb = _themed(make_window, theme, video_four_faces.path)
    qtbot.waitUntil(lambda: len(window.faces.cards) >= 2, timeout=20_000)
    _active(qtbot, window)
    window.set_paused(True)
    card = window.faces.cards[min(window.faces.cards)]
    card.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(card.hasFocus, timeout=5_000)
    QTest.keyClick(card, Qt.Key.Key_Return)
    assert card.selected
    image = card.grab().toImage()
    ratio = card.devicePixelRatioF()
    mid_x = int(image.width() * 0.5)
    edge = _rgb(image, mid_x, int(1 * ratio))  # the chosen card's edge
    ring = [_rgb(image, x, int(4 * ratio)) for x in range(8, image.width() - 8)]
    assert contrast(edge, window_rgb) >= MIN_CONTRAST, (theme, edge)
    # The focus: a dashed ring inside the edge, its dashes as plain as the edge.
    dashes = [c for c in ring if contrast(c, window_rgb) >= MIN_CONTRAST and c != edge]
    assert len(dashes) > len(ring) // 4, theme
    # Another card, chosen by neither, has neither.
    other = window.faces.cards[max(window.faces.cards)]
    plain = other.grab().toImage()
    assert all(contrast(_rgb(plain, x, int(y * ratio)), window_rgb) < MIN_CONTRAST
               for x in range(8, plain.width() - 8, 7) for y in (1, 4))


def test_the_message_bars_buttons_show_the_keyboards_focus_plainly(qtbot, make_window):
    from emocam.contrast import MIN_CONTRAST, contrast

    window = make_window()
    window.banner.show_message("Something went wrong.", "error", {"Retry": lambda: None})
    _active(qtbot, window)
    dismiss = window.banner.buttons["Dismiss"]
    window.banner.buttons["Retry"].setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: window.banner.buttons["Retry"].hasFocus(), timeout=5_000)
    banner = window.banner
    before = banner.grab().toImage()
    QTest.keyClick(window.banner.buttons["Retry"], Qt.Key.Key_Tab)
    assert dismiss.hasFocus()
    after = banner.grab().toImage()
    ratio = banner.devicePixelRatioF()
    box = dismiss.geometry()
    y = int((box.top() + box.height() // 2) * ratio)
    xs = [int((box.left() + dx) * ratio) for dx in (0, 1)]
    # The edge of the focused button against the same place unfocused (WCAG 2.4.13's
    # "change of contrast") and against the bar's colour around it.
    changed = max(contrast(_rgb(after, x, y), _rgb(before, x, y)) for x in xs)
    assert changed >= MIN_CONTRAST
    bar = _rgb(after, int((box.left() - 3) * ratio), y)
    assert max(contrast(_rgb(after, x, y), bar) for x in xs) >= MIN_CONTRAST


def test_ctrl_e_during_an_export_brings_its_window_forward_where_escape_cancels(
        qtbot, make_window, video_four_faces, tmp_path):
    # The export's window opened without the keyboard and its Cancel took no focus: Ctrl+E
    # in the main window said only "cancel it in its window", which no key could reach.
    from PySide6.QtWidgets import QPushButton

    window = make_window()
    progress = export_under_way(qtbot, window, video_four_faces.path, tmp_path / "part.mp4")
    _active(qtbot, window)
    QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is progress, timeout=5_000)
    (cancel,) = progress.findChildren(QPushButton)
    assert QApplication.focusWidget() is cancel
    with qtbot.waitSignal(window.exports.finished, timeout=60_000) as done:
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not done.args[0].completed
    assert "cancelled" in window.banner.text()


def _ink_rows(image, rect, row: int, row_h: int) -> int:
    """Rows of light (text) pixels in one row of a dark panel."""
    import numpy as np
    from PySide6.QtGui import QImage

    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    pixels = np.frombuffer(gray.constBits(), np.uint8).reshape(gray.height(),
                                                              gray.bytesPerLine())
    y0 = rect.y + 5 + row * row_h
    rows = np.nonzero((pixels[y0:y0 + row_h, rect.x + 5:rect.x + 75] > 120).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1) if len(rows) else 0


def test_the_labels_over_the_video_follow_a_large_desktop_font(qtbot, make_window,
                                                               video_four_faces):
    # A 16-point desktop font gave 21 px menus and still 12 px labels over the faces.
    from PySide6.QtGui import QFont, QFontInfo

    window = make_window()
    big = QFont(window.font())
    big.setPointSize(16)
    window.setFont(big)
    assert QFontInfo(window.menuBar().font()).pixelSize() >= 20  # the menus' letters
    window.resize(1280, 720)
    window.open_file(video_four_faces.path)
    wait_frames(qtbot, window, 3)
    window.set_paused(True)
    wait_frames(qtbot, window, 0)
    view = window.view
    image = view.grab().toImage()
    layout = view.overlay.layout
    names = window.last_packet.result.class_names
    heights = [_ink_rows(image, p.rect, 0, view.overlay.row_h)
               for p in layout.panels.values() if p.rect is not None]
    assert heights, "no panel was shown"
    # The first row's text (the likeliest emotion's name and percentage) as tall as the
    # menus' letters: more than the 12 px it was.
    assert min(heights) >= 15, heights
    assert_panels_clear(layout)  # the larger panels still cover no face, label or panel
    assert len(names) == 8


def test_about_details_on_a_small_screen_keep_the_close_button_on_it(qtbot, make_window):
    # The dialog grew downwards from where it stood: on a 1024x600 screen at 1.25x its
    # lower part, Close included, was below the screen's edge.
    from PySide6.QtWidgets import QDialogButtonBox

    from emocam.gui.dialogs import AboutDialog

    window = make_window()
    window.qactions["help.about"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(w, AboutDialog) and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=20_000)
    about = next(w for w in QApplication.topLevelWidgets() if isinstance(w, AboutDialog))
    area = about.screen().availableGeometry()
    about.move(about.x(), area.bottom() - about.frameGeometry().height() - 10)  # low down
    QTest.keyClick(about.details_button, Qt.Key.Key_Space)  # Details...
    assert about.details.isVisible()
    close = about.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close)
    shown = close.rect().translated(close.mapToGlobal(close.rect().topLeft()))
    assert area.contains(shown), (area, shown)
    assert area.contains(about.geometry())
    about.close()


def test_a_colour_blind_reader_tells_the_timelines_lines_apart_by_their_dashes(
        qtbot, make_window, video_one_face):
    # Under deuteranopia happiness, surprise, anger and disgust are one olive, sadness and
    # fear one blue, neutral and contempt one grey: the lines carried no other cue.
    window = make_window()
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 10)
    timeline = window.timeline
    image = timeline.grab().toImage()
    background = timeline.palette().window().color()

    def pattern(sample) -> tuple[bool, ...]:
        """Along the middle of a legend entry's line sample: where its line is drawn."""
        y = round(sample.center().y())
        return tuple(
            max(abs(image.pixelColor(x, y).red() - background.red()),
                abs(image.pixelColor(x, y).green() - background.green()),
                abs(image.pixelColor(x, y).blue() - background.blue())) > 40
            for x in range(round(sample.left()) + 1, round(sample.right()) - 1))

    names = timeline.class_names
    drawn = {names[c]: pattern(sample) for c, sample, _ in timeline.legend_samples()}
    assert set(drawn) == set(names)  # every class in the legend
    for alike in (("happiness", "surprise", "anger", "disgust"), ("sadness", "fear"),
                  ("neutral", "contempt")):
        assert len({drawn[n] for n in alike}) == len(alike), alike


def _tab(qtbot, window, backwards: bool = False):
    QTest.keyClick(QApplication.focusWidget() or window,
                   Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab)
    return QApplication.focusWidget()


def _on_frame(qtbot, window, index: int) -> None:
    """Frame ``index`` shown, and the seek bar there too."""
    _shows(qtbot, window, f"frame {index}")
    assert window.playback.slider.value() == index


def test_tab_reaches_the_play_button_and_the_seek_bar_before_the_cards_and_their_keys_work(
        qtbot, make_window, long_clip):
    # Tab went to the face cards alone: the seek bar and the play button took no focus.
    window = make_window()
    window.open_file(long_clip)
    qtbot.waitUntil(lambda: bool(window.faces.cards), timeout=20_000)
    _active(qtbot, window)
    play, bar = window.playback.button, window.playback.slider
    assert _tab(qtbot, window) is play
    QTest.keyClick(play, Qt.Key.Key_Return)  # Enter presses it, as Space does anywhere
    assert play.isChecked() and window.qactions["playback.pause"].isChecked()
    QTest.keyClick(play, Qt.Key.Key_Space)  # once: the window's key, not the button's too
    assert not play.isChecked() and not window.qactions["playback.pause"].isChecked()
    QTest.keyClick(play, Qt.Key.Key_Enter)
    assert play.isChecked()
    assert _tab(qtbot, window) is bar
    QTest.keyClick(bar, Qt.Key.Key_Home)
    _on_frame(qtbot, window, 0)
    # A screen reader's slider keys: Up and Down as Right and Left, PageUp a coarse jump,
    # each a seek of the Playback menu's (its own were a page of 10 frames, or no seek).
    QTest.keyClick(bar, Qt.Key.Key_Up)
    _on_frame(qtbot, window, 1)
    QTest.keyClick(bar, Qt.Key.Key_PageUp)
    _on_frame(qtbot, window, 51)
    QTest.keyClick(bar, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    _on_frame(qtbot, window, 651)
    QTest.keyClick(bar, Qt.Key.Key_Down)
    _on_frame(qtbot, window, 650)
    QTest.keyClick(bar, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    _on_frame(qtbot, window, 700)
    assert play.isChecked()  # still paused where the keys left it
    # Then the cards, by face id, each followed by its button; Shift+Tab goes back.
    cards = [window.faces.cards[i] for i in sorted(window.faces.cards)]
    for card in cards:
        assert _tab(qtbot, window) is card
        assert _tab(qtbot, window) is card.more
    assert _tab(qtbot, window, backwards=True) is cards[-1]


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_the_play_button_seek_bar_and_cards_arrow_show_the_keyboards_focus_plainly(
        qtbot, make_window, video_one_face, theme):
    from emocam.contrast import MIN_CONTRAST, contrast

    window, _ = _themed(make_window, theme, video_one_face.path)
    wait_frames(qtbot, window, 2)
    window.set_paused(True)
    _active(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.faces.cards), timeout=20_000)
    arrow = next(iter(window.faces.cards.values())).more  # a face card's "show every emotion"
    for control in (window.playback.button, window.playback.slider, arrow):
        window.faces.setFocus()
        before = control.grab().toImage()
        control.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(control.hasFocus, timeout=5_000)
        after = control.grab().toImage()
        background = control.palette().color(control.backgroundRole()).getRgb()[:3]
        y = int(1 * control.devicePixelRatioF())
        row = range(4, after.width() - 4)
        # The ring along the top edge: a change of 3:1 where it is drawn (WCAG 2.4.13),
        # each dash 3:1 from what it is drawn on.
        dashes = [x for x in row
                  if contrast(_rgb(after, x, y), _rgb(before, x, y)) >= MIN_CONTRAST
                  and contrast(_rgb(after, x, y), background) >= MIN_CONTRAST]
        assert len(dashes) > len(row) // 4, (theme, control.accessibleName())


def test_a_screen_reader_hears_a_face_card_as_a_toggle_button_told_of_real_changes_only(
        qtbot, make_window, monkeypatch):
    # A card was a "border" with no state, and its name (with the percentage) changed at 13
    # a second as the sample played: a reader on it would have read each one.
    from PySide6.QtGui import QAccessible, QAccessibleActionInterface

    from emocam.gui.face_panel import FaceCard

    told: dict[int, list[str]] = {}
    send = QAccessible.updateAccessibility

    def listen(event) -> None:
        card = event.object()
        if isinstance(card, FaceCard):
            told.setdefault(card.face_id, []).append(event.type().name)
        send(event)

    monkeypatch.setattr(QAccessible, "updateAccessibility", staticmethod(listen))
    window = make_window()
    window.open_sample()  # its first face's share of neutral moves by a point or two a frame
    qtbot.waitUntil(lambda: bool(window.faces.cards), timeout=20_000)
    names: dict[int, set[str]] = {}
    shown: dict[int, set[str]] = {}
    start = window.view.frames_shown
    while window.view.frames_shown < start + 60:
        for face_id, card in window.faces.cards.items():
            names.setdefault(face_id, set()).add(card.accessibleName())
            shown.setdefault(face_id, set()).add(card.description())
        qtbot.wait(10)
    for face_id, seen in names.items():
        assert seen == {f"Face {face_id}"}  # the name never changes
    # Told of a change far less often than the card's text changed (each time, before).
    changes = sum(len(s) for s in shown.values())
    described = sum(kinds.count("DescriptionChanged") for kinds in told.values())
    assert changes > 2 * len(shown), shown  # the shares did move
    assert 1 <= described <= changes // 2, (told, shown)
    card = window.faces.cards[min(window.faces.cards)]
    reader = QAccessible.queryAccessibleInterface(card)
    assert reader.role() == QAccessible.Role.Button
    assert reader.state().checkable and not reader.state().checked
    assert reader.text(QAccessible.Text.Name) == f"Face {card.face_id}"
    # What it reads is the card as shown now: its label and percentage.
    assert reader.text(QAccessible.Text.Description) == card.description()
    assert card.description().startswith(f"{card.top_label} ")
    # Pressed as Enter or a click: the timeline follows the face, and the reader hears it.
    reader.actionInterface().doAction(QAccessibleActionInterface.pressAction())
    assert window.faces.selected == card.face_id and reader.state().checked
    assert told[card.face_id][-1] == "StateChanged"
    assert window.timeline.heading().startswith(f"Face {card.face_id} - ")
    # Pressed again, as a toggle is (Enter on the chosen card, or a click on it): no face is
    # chosen, and the timeline is back to all faces.
    _focus_on(qtbot, window, card)
    QTest.keyClick(card, Qt.Key.Key_Return)
    assert window.faces.selected is None and not reader.state().checked
    assert window.timeline.heading().startswith("All faces (mean) - ")
    QTest.keyClick(card, Qt.Key.Key_Enter)  # the keypad's Enter chooses it again
    assert window.faces.selected == card.face_id and reader.state().checked
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert window.faces.selected is None and window.timeline.face_id is None


def test_tab_goes_through_the_face_cards_by_number_whichever_came_first(
        qtbot, make_window, video_one_face):
    # Cards joined the keyboard's round as they were made: a face 5 seen after faces 7 and 8
    # came last, below them on the screen.
    from dataclasses import replace

    from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

    from emocam.gui.face_panel import FacePanel

    window = make_window()
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 2)
    result = window.last_packet.result
    face = result.faces[0]
    # A panel of the test's own (the window's follows its video), after a control of its own.
    side = QWidget()
    qtbot.addWidget(side)
    before = QPushButton("before", side)
    panel = FacePanel(side, tab_after=before)
    layout = QVBoxLayout(side)
    layout.addWidget(before)
    layout.addWidget(panel)
    side.show()
    for ids in ((7, 8), (5, 7, 8)):  # the real face, numbered as later frames may number it
        panel.update_result(replace(result, faces=[replace(face, face_id=i) for i in ids]))
        # Shown once the event loop has run.
        qtbot.waitUntil(lambda: all(c.isVisible() for c in panel.cards.values()),
                        timeout=5_000)
    side.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is side, timeout=5_000)
    before.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(before.hasFocus, timeout=5_000)
    order = [_tab(qtbot, side) for _ in range(6)]
    cards = panel.cards
    assert order == [cards[5], cards[5].more, cards[7], cards[7].more, cards[8], cards[8].more]


COMING_AND_GOING = 8  # frames of each step of come_and_go


@pytest.fixture(scope="module")
def come_and_go(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real faces coming one by one: the left one (numbered 1), the right one (2), one
    between them (3); the left one leaves and comes back (numbered 1 again, as the tracker
    gives a face lost for less than a second its number back); then the middle one leaves,
    the right one, the left one. ``COMING_AND_GOING`` frames each, at 30 fps."""
    path = tmp_path_factory.mktemp("come_and_go") / "come_and_go.mp4"
    left, right = Placement("astronaut", 160, 180, 110), Placement("hopper", 800, 180, 110)
    middle = Placement("astronaut", 480, 180, 110, mirror=True)
    steps = ([left], [left, right], [left, right, middle], [right, middle],
             [left, right, middle], [left, right], [left], [])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30, (960, 360))
    for faces in steps:
        frame = render((960, 360), faces, seed=9)
        for _ in range(COMING_AND_GOING):
            writer.write(frame)
    writer.release()
    return path


def _tab_from(qtbot, window, widget):
    """Tab pressed on ``widget``: the window made active first (offscreen, it can lose the
    activation, and a Tab in a window that is not active goes to its first control) and the
    cards shown (a card made in the last frame is shown on the event loop's next turn, and
    Tab passes over a hidden one)."""
    qtbot.waitUntil(lambda: all(c.isVisible() for c in window.faces.cards.values()),
                    timeout=5_000)
    _active(qtbot, window)
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=5_000)
    return _tab(qtbot, window)


def _step_until(qtbot, window, done) -> None:
    """Frame by frame on (paused) until ``done()``."""
    for _ in range(8 * COMING_AND_GOING):
        if done():
            return
        window.step(1)
        wait_frames(qtbot, window, 1)  # shown on the event loop's turn, after this call
    assert done()


def test_the_keyboards_focus_stays_among_the_face_cards_as_faces_come_and_go(
        qtbot, make_window, come_and_go):
    # A card with the keyboard's focus went with its face, and the focus with it: to
    # nothing, and the next Tab started again from the window's first control.
    window = make_window()
    window.open_file(come_and_go)
    wait_frames(qtbot, window, 1)
    window.set_paused(True)
    window.seek(0)  # faces numbered from 1 again, from the first frame, paused there
    _on_frame(qtbot, window, 0)
    cards = window.faces.cards
    first = cards[1]
    assert _tab_from(qtbot, window, window.playback.slider) is first
    # Faces that come do not take the focus from the card it is on.
    _step_until(qtbot, window, lambda: len(cards) == 3)
    assert sorted(cards) == [1, 2, 3] and window.focusWidget() is first
    # The face in focus leaves: its next card by number takes the focus...
    _step_until(qtbot, window, lambda: 1 not in cards)
    qtbot.waitUntil(lambda: window.focusWidget() is cards[2], timeout=5_000)
    # ... and keeps it when the face comes back, its card first again, as Tab goes.
    _step_until(qtbot, window, lambda: 1 in cards)
    assert sorted(cards) == [1, 2, 3] and window.focusWidget() is cards[2]
    assert _tab_from(qtbot, window, cards[1].more) is cards[2]
    assert _tab_from(qtbot, window, cards[2].more) is cards[3]
    # The last by number leaves: the one before it takes the focus...
    _step_until(qtbot, window, lambda: 3 not in cards)
    qtbot.waitUntil(lambda: window.focusWidget() is cards[2], timeout=5_000)
    _step_until(qtbot, window, lambda: 2 not in cards)
    qtbot.waitUntil(lambda: window.focusWidget() is cards[1], timeout=5_000)
    # ... and the last card gone, the control before the cards: the seek bar.
    _step_until(qtbot, window, lambda: not cards)
    qtbot.waitUntil(lambda: window.focusWidget() is window.playback.slider, timeout=5_000)
    _active(qtbot, window)
    assert QApplication.focusWidget() is window.playback.slider


def test_at_a_hard_cut_the_focus_goes_from_the_face_gone_to_the_face_come(
        qtbot, make_window, video_two_shots):
    # The card made in the cut's frame was not shown yet when the focus was given to it, and
    # Qt gave it to nothing.
    window = make_window()
    window.open_file(video_two_shots)
    wait_frames(qtbot, window, 1)
    window.set_paused(True)
    window.seek(0)
    _on_frame(qtbot, window, 0)
    cards = window.faces.cards
    assert _tab_from(qtbot, window, window.playback.slider) is cards[1]
    _step_until(qtbot, window, lambda: 1 not in cards)
    assert list(cards) == [2]
    qtbot.waitUntil(lambda: window.focusWidget() is cards[2], timeout=5_000)


def _focus_on(qtbot, window, widget) -> None:
    _active(qtbot, window)
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=5_000)


def _opened_with_focus_on(qtbot, window, path: Path, widget) -> None:
    """``path`` opened in place of what plays, its first frame shown, the focus on
    ``widget``."""
    window.open_file(path)
    qtbot.waitUntil(lambda: window.last_packet is not None
                    and Path(window.last_packet.result.frame.source).name == path.name,
                    timeout=20_000)
    qtbot.waitUntil(lambda: window.focusWidget() is widget(), timeout=5_000)
    assert QApplication.focusWidget() is widget()


def test_opening_another_file_gives_the_keyboards_focus_back_among_the_controls(
        qtbot, make_window, video_one_face, long_clip, image_one_face):
    # The play button and the seek bar are disabled while the new file opens, and Qt gave
    # the focus to nothing: the keyboard's user had to Tab again from the window's start.
    window = make_window()
    play, bar = window.playback.button, window.playback.slider
    window.open_file(video_one_face.path)
    qtbot.waitUntil(lambda: bool(window.faces.cards), timeout=20_000)
    # On a face card (gone with its file): the play button, the first control after it.
    _focus_on(qtbot, window, next(iter(window.faces.cards.values())))
    _opened_with_focus_on(qtbot, window, long_clip, lambda: play)
    # On the seek bar: the seek bar, there again.
    _focus_on(qtbot, window, bar)
    _opened_with_focus_on(qtbot, window, video_one_face.path, lambda: bar)
    # A photo has no play button nor seek bar: its first face card.
    _opened_with_focus_on(qtbot, window, image_one_face,
                          lambda: window.faces.cards.get(min(window.faces.cards, default=0)))
    # Tab goes on from there, not from the window's first control.
    assert _tab(qtbot, window) is window.faces.cards[min(window.faces.cards)].more


def test_after_stop_the_next_source_gives_the_keyboards_focus_back_to_its_control(
        qtbot, make_window, video_one_face):
    window = make_window()
    play = window.playback.button
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 1)
    _focus_on(qtbot, window, play)
    window.stop()  # Camera > Stop: nothing in the window takes the keyboard while stopped
    qtbot.waitUntil(lambda: window.focusWidget() is None, timeout=5_000)
    assert not play.isEnabled()
    _opened_with_focus_on(qtbot, window, video_one_face.path, lambda: play)
    QTest.keyClick(play, Qt.Key.Key_Return)  # and it works there: Enter pauses
    assert play.isChecked() and window.qactions["playback.pause"].isChecked()


def test_a_cameras_last_face_leaving_gives_the_keyboards_focus_to_the_play_button(
        qtbot, make_window, tmp_path):
    # A camera has no seek bar to go to (it is there, disabled): the focus went to nothing
    # when the card it was on left with the last face, and Tab started again from the top.
    from emocam.camera_source import CameraSource

    clip = tmp_path / "leaves.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 30, (480, 360))
    for faces in ([Placement("astronaut", 240, 180, 140)], []):
        frame = render((480, 360), faces, seed=9)
        for _ in range(120):  # 4 s each
            writer.write(frame)
    writer.release()
    window = make_window(lambda spec: CameraSource(cv2.VideoCapture(str(clip)), "Camera 0",
                                                   pace_fps=30.0))
    window.start_camera(0)
    qtbot.waitUntil(lambda: bool(window.faces.cards), timeout=20_000)
    assert window.source_info is not None and window.source_info.is_live
    _focus_on(qtbot, window, next(iter(window.faces.cards.values())))
    qtbot.waitUntil(lambda: not window.faces.cards, timeout=20_000)
    play = window.playback.button
    qtbot.waitUntil(lambda: window.focusWidget() is play, timeout=5_000)
    assert play.isEnabled() and play.isVisible()
