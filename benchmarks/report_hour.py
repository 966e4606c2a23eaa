"""The report of a long run: its size, the time to write it and the time a browser takes to
open it, for the issue's bar "a 1-hour, 4-face sidecar must give a report under 5 MB that
opens in under 2 s".

    # 1. an hour of four real faces at 30 fps, 640x360 (5-8 minutes; 525 MB)
    python benchmarks/report_hour.py make /tmp/hour/hour.mp4 --minutes 60
    # 2. the real run (21 minutes on 2 shared cores); keeps the sidecar
    emocam process /tmp/hour/hour.mp4 -o /tmp/hour/out --no-video
    # 3. the measurements, from that run's sidecar
    python benchmarks/report_hour.py measure /tmp/hour/out/hour.emocam.npz --repeats 7

`measure` re-writes the report from the sidecar with `emocam process --reanalyse`, taking
turns with `--no-report`, so the report's own share is the paired difference. Then it opens
the report, each time in a fresh headless chromium driven over its DevTools pipe
(benchmarks/browser.py, which the browser tests use too): the browser's start-up (launch to
its first answer) is timed apart, then an empty page and the report are loaded, each timed
by the wall clock and by the page's own clock (from navigation to the end of `load`, and to
the first frame painted after it). Last, the plainest command anyone can time, `chromium
--headless --dump-dom`, on the empty page and on the report. Not part of the test suite:
these are measurements, not pass/fail checks.

The video is composed with benchmarks/media.py along a path of its own: an hour needs more
than one slow orbit, so the four faces turn, zoom, change light and leave the picture for a
while every few minutes, and the classifier's output moves and the tracker starts new faces,
as in a real hour.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import media
from browser import BROWSER, Browser

log = logging.getLogger("report_hour")

SIZE = (640, 360)
FPS = 30.0


# --- the video ------------------------------------------------------------------------


def _face(k: int, t: float) -> tuple[float, float, float, float, float, bool]:
    """Face k at time t (s): centre x, y (fractions of the frame), face side (px), angle (deg),
    light gain, and whether it is in the picture. Periods are prime-ish seconds so the four
    faces never move in step."""
    ph = 2 * math.pi
    cx = (0.2 + 0.2 * k) + 0.07 * math.sin(ph * t / (23 + 4 * k))
    cy = (0.38 + 0.24 * (k % 2)) + 0.08 * math.sin(ph * t / (31 + 3 * k) + k)
    side = 70 * (1 + 0.18 * math.sin(ph * t / (47 + 5 * k) + 2 * k))
    angle = 14 * math.sin(ph * t / (17 + 2 * k) + k)
    gain = 1 + 0.3 * math.sin(ph * t / (193 + 17 * k) + k)
    # Each face leaves for 8 s at its own times, about every 7-10 minutes.
    period = 420 + 60 * k
    present = (t + 97 * k) % period >= 8
    return cx * SIZE[0], cy * SIZE[1], side, angle, gain, present


def make_video(path: Path, minutes: float, faces: int = 4) -> None:
    """Write ``minutes`` of ``faces`` moving real faces at 30 fps, 640x360, mp4v."""
    # Faces 0 and 1 are the astronaut and her mirror image, 2 and 3 Grace Hopper and hers.
    looks = [("astronaut", False), ("astronaut", True), ("hopper", False), ("hopper", True)]
    n = round(minutes * 60 * FPS)
    started = time.perf_counter()

    def plan() -> Iterator[list[media.Placement]]:
        for i in range(n):
            if i % 18000 == 0:
                log.info("frame %d of %d (%.0f s)", i, n, time.perf_counter() - started)
            places = []
            for k in range(faces):
                cx, cy, side, angle, gain, present = _face(k, i / FPS)
                if present:
                    name, mirror = looks[k % len(looks)]
                    places.append(media.Placement(name, cx, cy, side, angle, mirror, gain))
            yield places

    path.parent.mkdir(parents=True, exist_ok=True)
    media.write_video(path, SIZE, plan(), FPS)


# --- the report: writing it ---------------------------------------------------------------


def emocam_exe() -> str:
    """The emocam command beside this Python (the venv's), else the one on PATH."""
    here = Path(sys.executable).with_name("emocam")
    return str(here) if here.exists() else (shutil.which("emocam") or "emocam")


def time_reanalyse(sidecar: Path, out: Path, report: bool) -> float:
    """Wall time (s) of ``emocam process --reanalyse SIDECAR`` writing CSV, JSON and, with
    ``report``, the report (no annotated video: that would re-encode the hour)."""
    cmd = [emocam_exe(), "process", "--reanalyse", str(sidecar), "-o", str(out), "--no-video",
           "--overwrite", "-q"]
    if not report:
        cmd.append("--no-report")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


# --- the report: opening it ---------------------------------------------------------------

# The page's own clock: from the start of navigation to the end of its load event, and to
# the first frame the browser draws after it (two animation frames: the second runs once
# the first has been painted).
_PAGE_TIMES = """new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  done({load_ms: nav.loadEventEnd, dom_ms: nav.domContentLoadedEventEnd,
        painted_ms: performance.now()});  // since navigation started
})))"""


def open_once(browser_cls: type, page: Path, empty: Path, profile: Path) -> dict[str, float]:
    """A fresh headless chromium: its start-up, then an empty page, then the report; each
    navigation timed by the wall clock and by the page's own clock."""
    t0 = time.perf_counter()
    with browser_cls(profile) as b:
        b.send("Browser.getVersion", browser=True)
        startup = time.perf_counter() - t0
        b.attach()
        row = {"startup_s": startup}
        for name, url in (("empty", empty.as_uri()), ("report", page.as_uri())):
            t = time.perf_counter()
            b.goto(url, timeout=120)
            times = b.evaluate(_PAGE_TIMES, timeout=120)
            row[f"{name}_wall_s"] = time.perf_counter() - t
            row[f"{name}_load_s"] = times["load_ms"] / 1000
            row[f"{name}_painted_s"] = times["painted_ms"] / 1000
        row["problems"] = len(b.problems())
    return row


def dump_dom_s(page: Path, profile: Path) -> float:
    """Wall time of the plainest command: ``chromium --headless --dump-dom PAGE``."""
    t0 = time.perf_counter()
    subprocess.run([str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-first-run", f"--user-data-dir={profile}", "--dump-dom",
                    page.as_uri()], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - t0


def _med(values: list[float]) -> str:
    return (f"{statistics.median(values):.3f} s (min {min(values):.3f}, max "
            f"{max(values):.3f}, n={len(values)})")


def measure_writing(sidecar: Path, repeats: int, work: Path) -> tuple[Path, list[str]]:
    """Re-write the report ``repeats`` times; the last one and the figures."""
    with_report, without = [], []
    for i in range(repeats):  # taking turns, so a busy stretch of the machine hits both
        with_report.append(time_reanalyse(sidecar, work / "r", report=True))
        without.append(time_reanalyse(sidecar, work / "n", report=False))
        log.info("re-analysis %d: %.2f s with the report, %.2f s without", i + 1,
                 with_report[-1], without[-1])
    summary = json.loads(next((work / "r").glob("*.json")).read_text())
    gen = [a - b for a, b in zip(with_report, without, strict=True)]
    return next((work / "r").glob("*.html")), [
        f"sidecar: {sidecar} ({sidecar.stat().st_size / 1e6:.1f} MB); "
        f"{summary['frames']} frames, {len(summary['faces'])} face ids",
        f"re-analysis with the report: {_med(with_report)}",
        f"re-analysis without it (--no-report): {_med(without)}",
        f"the report's share (paired differences): {_med(gen)}",
    ]


def measure_opening(page: Path, repeats: int, work: Path) -> list[str]:
    """Open ``page`` ``repeats`` times in fresh browsers, beside an empty page; the figures."""
    empty = work / "empty.html"
    empty.write_text("<!doctype html><title>empty</title><p>empty</p>\n")
    rows = []
    for i in range(repeats):
        rows.append(open_once(Browser, page, empty, work / f"profile{i}"))
        log.info("open %d: %s", i + 1, {k: round(v, 3) for k, v in rows[-1].items()})
    dumps: dict[str, list[float]] = {"empty": [], "report": []}
    for i in range(repeats):
        for name, p in (("empty", empty), ("report", page)):
            dumps[name].append(dump_dom_s(p, work / f"dump{i}{name}"))
    size = page.stat().st_size
    col = {k: [r[k] for r in rows] for k in rows[0]}
    cold = [a + b for a, b in zip(col["startup_s"], col["report_wall_s"], strict=True)]
    return [
        f"report: {page} {size / 1e6:.2f} MB ({size} bytes), "
        f"{page.read_text().count('<svg')} SVG plots, "
        f"{page.read_text().count('data:image/jpeg')} thumbnails",
        f"chromium start-up (launch to first DevTools answer): {_med(col['startup_s'])}",
        f"empty page: load event {_med(col['empty_load_s'])}; painted "
        f"{_med(col['empty_painted_s'])}; wall {_med(col['empty_wall_s'])}",
        f"report: load event {_med(col['report_load_s'])}; painted "
        f"{_med(col['report_painted_s'])}; wall {_med(col['report_wall_s'])}",
        f"chromium start-up + report painted (a browser not yet running): {_med(cold)}",
        f"console errors / failed loads: {sum(col['problems']):.0f}",
        f"chromium --headless --dump-dom, whole command: empty page "
        f"{_med(dumps['empty'])}; report {_med(dumps['report'])}",
    ]


# --- command line ---------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="write the test video")
    mk.add_argument("out", type=Path)
    mk.add_argument("--minutes", type=float, default=60.0)
    mk.add_argument("--faces", type=int, default=4)
    ms = sub.add_parser("measure", help="write a run's report from its sidecar and open it")
    ms.add_argument("sidecar", type=Path, help="a run's NAME.emocam.npz")
    ms.add_argument("--repeats", type=int, default=5)
    op = sub.add_parser("open", help="open an existing report")
    op.add_argument("page", type=Path, help="a NAME.emocam.html")
    op.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if a.cmd == "make":
        make_video(a.out, a.minutes, a.faces)
        return
    with tempfile.TemporaryDirectory(prefix="emocam-report-hour-") as tmp:
        work = Path(tmp)
        lines = []
        if a.cmd == "measure":
            page, lines = measure_writing(a.sidecar, a.repeats, work)
        else:
            page = a.page
        print("\n".join(lines + measure_opening(page, a.repeats, work)))


if __name__ == "__main__":
    main()
