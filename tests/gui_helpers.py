"""Helpers of the desktop app's tests (fixtures: conftest.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit

from emocam.gui.main_window import MainWindow


def wait_frames(qtbot, window: MainWindow, n: int = 3, timeout: int = 20_000) -> None:
    """Wait until the view has painted ``n`` more frames."""
    start = window.view.frames_shown
    qtbot.waitUntil(lambda: window.view.frames_shown >= start + n, timeout=timeout)


def answer_the_file_dialog(typed: str | None = "", seen: list[Path] | None = None
                           ) -> list[Path]:
    """Answer the next real file dialog (File > Export's save dialog, an Open dialog) as a
    user would, once it shows: what it offers (the folder and name it opened on) is added to
    ``seen``, which is returned; then ``typed`` is typed in its name field (a name or a whole
    path; "" takes what it offers) and Enter pressed, or with None it is closed. A dialog
    still open after the Enter (it took nothing) is closed, or the test would wait forever."""
    seen = [] if seen is None else seen

    def answer() -> None:
        dialog = next((w for w in QApplication.topLevelWidgets()
                       if isinstance(w, QFileDialog) and w.isVisible()), None)
        if dialog is None:
            QTimer.singleShot(100, answer)
            return
        seen.append(Path(dialog.selectedFiles()[0]) if dialog.selectedFiles()
                    else Path(dialog.directory().absolutePath()))
        if typed is None:
            dialog.reject()
            return
        if typed:
            dialog.findChild(QLineEdit, "fileNameEdit").setText(typed)
        QTest.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)
        if dialog.isVisible():
            dialog.reject()

    QTimer.singleShot(100, answer)
    return seen


def export_under_way(qtbot, window: MainWindow, video: Path, out: Path):
    """``video`` open and paused in ``window``, its export to ``out`` started and a few
    frames in; returns the export's progress window."""
    window.open_file(video)
    qtbot.waitUntil(lambda: window.qactions["file.export"].isEnabled(), timeout=10_000)
    window.set_paused(True)
    window.exports.start(out)
    progress = window.exports._progress
    qtbot.waitUntil(lambda: progress.value() >= 2, timeout=30_000)
    return progress


def assert_panels_clear(layout) -> dict:
    """Every emotion panel of an overlay ``layout`` on the picture and over no face, label or
    other panel; returns the panels' rectangles by face id."""
    rects = {i: p.rect for i, p in layout.panels.items() if p.rect is not None}
    for i, r in rects.items():
        assert r.inside(*layout.canvas)
        for m in layout.marks.values():
            assert r.overlap(m.box) == 0 and (m.chip is None or r.overlap(m.chip) == 0)
        assert all(j == i or r.overlap(o) == 0 for j, o in rects.items())
    return rects
