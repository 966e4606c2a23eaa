"""GUI soak: the real emocam window on an endless live source, memory, threads and file
handles sampled as the frames go by.

The "camera" loops a short 720p real-face clip (4 faces) at a webcam's 30 fps, newest frame
wins, so a long run needs no long video: 10,000 frames take about six minutes.

    python benchmarks/gui_soak.py --frames 10000

Runs offscreen unless a display is set (``QT_QPA_PLATFORM``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GLOG_minloglevel", "2")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import Scene, write_scene
from timing import read_frames

from emocam.gui import settings as gui_settings
from emocam.gui.main_window import MainWindow
from emocam.source_base import Source
from emocam.sources import open_source
from emocam.types import Frame


class LoopingCamera(Source):
    """A live source that repeats a decoded clip for ever, at a camera's frame rate."""

    is_live = True

    def __init__(self, frames: list[np.ndarray], fps: float = 30.0):
        self._frames = frames
        self.fps = fps
        self.name = "looping camera"
        h, w = frames[0].shape[:2]
        self.size = (w, h)
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[Frame]:
        i, t0 = 0, time.perf_counter()
        while not self._closed.is_set():
            due = t0 + i / self.fps
            self._closed.wait(max(0.0, due - time.perf_counter()))
            yield Frame(self._frames[i % len(self._frames)], i, i * 1000.0 / self.fps,
                        self.name)
            i += 1

    def close(self) -> None:
        self._closed.set()


@dataclass
class Sample:
    frames_shown: int
    seconds: float
    rss_mb: float
    threads: int
    open_files: int


def _wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _sample(window: MainWindow, proc: psutil.Process, t0: float) -> Sample:
    return Sample(window.view.frames_shown, time.perf_counter() - t0,
                  proc.memory_info().rss / 2**20, proc.num_threads(), len(proc.open_files()))


def soak(clip: list[np.ndarray], frames: int, every: int) -> list[Sample]:
    QApplication.instance() or QApplication([])

    def open_fn(spec: str | int) -> Source:
        return LoopingCamera(clip) if isinstance(spec, int) else open_source(spec)

    window = MainWindow(gui_settings.load_settings(), open_fn=open_fn)
    window.show()
    proc, t0 = psutil.Process(), time.perf_counter()
    samples: list[Sample] = []
    try:
        window.start_camera(0)
        next_at = 0
        while window.view.frames_shown < frames:
            _wait(250)
            if window.view.frames_shown >= next_at:
                samples.append(_sample(window, proc, t0))
                print(samples[-1], flush=True)
                next_at += every
        samples.append(_sample(window, proc, t0))
    finally:
        window.shutdown()
        window.close()
    return samples


def report(samples: list[Sample], warmup: int) -> list[str]:
    settled = [s for s in samples if s.frames_shown >= warmup] or samples
    first, last = settled[0], samples[-1]
    peak = max(s.rss_mb for s in samples)
    return [
        f"frames shown: {last.frames_shown} in {last.seconds:.0f} s "
        f"({last.frames_shown / last.seconds:.1f} fps)",
        f"RSS after {first.frames_shown} frames: {first.rss_mb:.0f} MiB; at the end: "
        f"{last.rss_mb:.0f} MiB (growth {last.rss_mb - first.rss_mb:+.0f} MiB); "
        f"peak {peak:.0f} MiB",
        f"threads: {first.threads} -> {last.threads}; open files: {first.open_files} -> "
        f"{last.open_files}",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=10_000)
    p.add_argument("--every", type=int, default=1000, help="sample every N frames shown")
    p.add_argument("--warmup", type=int, default=1000, help="frames before growth counts")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gui_settings.settings_file_override = str(Path(tmp) / "settings.ini")
        clip_path = write_scene(Path(tmp) / "clip.mp4", Scene(1280, 720, 4, 150, 90))
        samples = soak(read_frames(clip_path, None), args.frames, args.every)
    print("\n".join(report(samples, args.warmup)))


if __name__ == "__main__":
    main()
