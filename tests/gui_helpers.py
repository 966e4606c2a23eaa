"""Helpers of the desktop app's tests (fixtures: conftest.py)."""

from __future__ import annotations

from pathlib import Path

from emocam.gui.main_window import MainWindow


def wait_frames(qtbot, window: MainWindow, n: int = 3, timeout: int = 20_000) -> None:
    """Wait until the view has painted ``n`` more frames."""
    start = window.view.frames_shown
    qtbot.waitUntil(lambda: window.view.frames_shown >= start + n, timeout=timeout)


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
