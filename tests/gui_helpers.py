"""Helpers of the desktop app's tests (fixtures: conftest.py)."""

from __future__ import annotations

from emocam.gui.main_window import MainWindow


def wait_frames(qtbot, window: MainWindow, n: int = 3, timeout: int = 20_000) -> None:
    """Wait until the view has painted ``n`` more frames."""
    start = window.view.frames_shown
    qtbot.waitUntil(lambda: window.view.frames_shown >= start + n, timeout=timeout)
