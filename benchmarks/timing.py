"""Small measuring helpers shared by the benchmark modules: repeats, summaries, the machine."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Stats:
    """Median with the min-max range of repeated measurements."""

    median: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, digits: int = 1) -> str:
        if self.n == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.lo:.{digits}f}-{self.hi:.{digits}f})"


def repeat(fn: Callable[[], float], n: int) -> list[float]:
    return [fn() for _ in range(n)]


def frame_ms(path: Path) -> float:
    """Milliseconds between the video's frames, from its container (30 fps if it says none)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return 1000.0 / fps if fps > 0 else 1000.0 / 30.0


def read_frames(path: Path, n: int | None = None) -> list[np.ndarray]:
    """The first ``n`` decoded frames (all of them for None)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while n is None or len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def load() -> str:
    """The 1/5/15-minute load averages, as `uptime` prints them."""
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # not on every platform
        return "n/a"


def cpu_name() -> str:
    """The CPU's name and its vector extensions: the int8 classifier's lead over the float
    one was 2.0-2.4x on earlier machines and 1.3-1.4x on one with AVX2 alone."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), platform.machine())
    flags = next((set(line.split(":", 1)[1].split()) for line in info.splitlines()
                  if line.startswith("flags")), set())
    simd = [label for label, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f"),
                                      ("AVX-512 VNNI", "avx512_vnni"), ("AVX-VNNI", "avx_vnni"))
            if flag in flags]
    return f"{name} ({', '.join(simd) or 'no AVX2'})"


def machine() -> str:
    import mediapipe
    import onnxruntime

    from emocam import __version__

    return (f"{cpu_name()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, emocam {__version__}, onnxruntime "
            f"{onnxruntime.__version__}, mediapipe {mediapipe.__version__}, OpenCV "
            f"{cv2.__version__}, numpy {np.__version__}")
