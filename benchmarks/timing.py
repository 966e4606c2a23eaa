"""Small measuring helpers shared by the benchmark modules: repeats, summaries, CPU time of
calls and of threads, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

T = TypeVar("T")


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


def cpu_ms(fn: Callable[[T], object], items: Sequence[T]) -> float:
    """CPU ms (all threads of this process) per call of ``fn`` over ``items``: steadier than
    wall time on a loaded machine."""
    t = time.process_time()
    for x in items:
        fn(x)
    return (time.process_time() - t) / len(items) * 1e3


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each thread of this process, with the kernel's thread name
    (Linux /proc; MediaPipe's threads are "drishti", FFmpeg's "av:...")."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue  # ended between listing and reading
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


class ThreadSampler:
    """Keeps the last CPU figure of every thread, including threads that end mid-run, and
    the Python name of each thread it saw (native threads keep the kernel's name). Linux."""

    def __init__(self, every_s: float = 0.02):
        self.every_s = every_s
        self.cpu: dict[int, tuple[str, float]] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.every_s)

    def sample(self) -> None:
        self.names.update({t.native_id: t.name for t in threading.enumerate()
                           if t.native_id is not None})
        self.cpu.update(_thread_cpu())

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def by_name(self) -> dict[str, float]:
        groups: dict[str, float] = {}
        for tid, (kernel_name, cpu) in self.cpu.items():
            name = self.names.get(tid, kernel_name)
            # Pools number their threads (face-scan_0, ThreadPoolExecutor-3_0): one row each.
            name = name.rstrip("0123456789").rstrip("_-") or name
            groups[name] = groups.get(name, 0.0) + cpu
        return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


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
