"""The report in a real headless browser (Debian's chromium): it renders, the timelines and
the shares are drawn, and the browser reports no error. Skipped where chromium is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import NAMES

from benchmarks.browser import BROWSER
from emocam.report_plots import class_colors

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium to render the report")


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1000, 1600)) -> str:
    """Render ``page`` headless into ``png``; the browser's log (console messages too)."""
    r = subprocess.run(
        [str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={png.parent / 'profile'}", f"--window-size={size[0]},{size[1]}",
         f"--screenshot={png}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert png.is_file(), r.stderr[-2000:]
    return r.stderr


def test_the_report_renders_in_a_browser_with_its_timelines_and_no_errors(
    plain_run: Path, tmp_path: Path
) -> None:
    log = screenshot(plain_run / "interview.emocam.html", tmp_path / "report.png")
    # Nothing was to be fetched, and the page has no script to fail.
    for bad in ("Failed to load resource", "Page load failed", "Uncaught", "CONSOLE"):
        assert bad not in log, [ln for ln in log.splitlines() if bad in ln]
    image = cv2.imread(str(tmp_path / "report.png"))
    assert image is not None
    # The timelines and the shares are drawn in the classes' colours: the first two faces'
    # top labels fill whole bands of the picture.
    drawn = 0
    for hex_colour in class_colors(NAMES):
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        drawn += int((np.abs(image[..., ::-1].astype(int) - rgb).sum(axis=2) < 30).sum())
    assert drawn > 50_000, drawn  # two full-width bars and at least one filled timeline
