"""GUI live path: capture-to-screen latency and displayed fps of the real emocam window.

The window runs as a user runs it, with a 30 fps (``--camera-fps``) "camera" that is
emocam's own CameraSource reading a 720p real-face video at the camera's pace (newest frame
wins, stale ones dropped), so the figures include capture, detection, classification,
drawing and painting.

    python benchmarks/gui_live.py --faces 1 4 --seconds 20

Runs offscreen unless a display is set (``QT_QPA_PLATFORM``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GLOG_minloglevel", "2")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import Scene, write_scene

from emocam.camera_source import CameraSource
from emocam.gui import settings as gui_settings
from emocam.gui.main_window import MainWindow
from emocam.resources import resolve_model
from emocam.sources import open_source

CAMERA_FPS = 30.0


@dataclass
class LiveFigures:
    faces: int
    seconds: float
    frames_shown: int
    latency_ms: list[float]
    camera_fps: float = CAMERA_FPS

    @property
    def fps(self) -> float:
        return self.frames_shown / self.seconds

    def row(self) -> str:
        lat = sorted(self.latency_ms)
        p90 = lat[int(0.9 * (len(lat) - 1))] if lat else float("nan")
        med = statistics.median(lat) if lat else float("nan")
        return (f"| 1280x720 at {self.camera_fps:g} fps, {self.faces} "
                f"face{'s' if self.faces > 1 else ''} | "
                f"{self.fps:.1f} | {med:.1f} | {p90:.1f} | {len(lat)} |")


def _wait(app: QApplication, ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _camera_opener(video: Path, fps: float):
    def open_fn(spec: str | int):
        if isinstance(spec, int):
            cap = cv2.VideoCapture(str(video))
            return CameraSource(cap, "720p camera stand-in", pace_fps=fps,
                                stall_timeout_s=60.0)
        return open_source(spec)

    return open_fn


def measure(video: Path, faces: int, seconds: float, model: str | None = None,
            warmup_s: float = 3.0, target_fps: float = 0.0,
            camera_fps: float = CAMERA_FPS) -> LiveFigures:
    app = QApplication.instance() or QApplication([])
    settings = gui_settings.load_settings()
    settings.target_fps = target_fps  # View > Target Frame Rate; 0: detect in full every frame
    window = MainWindow(settings, open_fn=_camera_opener(video, camera_fps))
    if model:
        window.models.override = str(resolve_model(model))
    window.resize(1600, 900)
    window.show()
    try:
        window.start_camera(0)
        _wait(app, int(warmup_s * 1000))
        if window.view.frames_shown == 0:
            raise RuntimeError("the window showed no frame during the warm-up")
        window.latency_samples_ms.clear()
        start_frames, t0 = window.view.frames_shown, time.perf_counter()
        _wait(app, int(seconds * 1000))
        elapsed = time.perf_counter() - t0
        shown = window.view.frames_shown - start_frames
        return LiveFigures(faces, elapsed, shown, list(window.latency_samples_ms), camera_fps)
    finally:
        window.shutdown()
        window.close()


def run(faces: list[int], seconds: float, workdir: Path, model: str | None = None,
        target_fps: float = 0.0, camera_fps: float = CAMERA_FPS) -> list[LiveFigures]:
    results = []
    frames = int((seconds + 8) * camera_fps)  # the clip must outlast warm-up and measurement
    for n in faces:
        video = workdir / f"live_{n}_{camera_fps:g}.mp4"
        if not video.exists():
            write_scene(video, Scene(1280, 720, faces=n, face_px=150.0, frames=frames,
                                     fps=camera_fps))
        results.append(measure(video, n, seconds, model, target_fps=target_fps,
                               camera_fps=camera_fps))
    return results


def table(results: list[LiveFigures]) -> list[str]:
    return [
        "| camera | displayed fps | latency median (ms) | latency p90 (ms) | frames timed |",
        "|---|---|---|---|---|",
        *(r.row() for r in results),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", type=int, nargs="+", default=[1, 4])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--model", help="a built-in model name or .onnx path (default: the app's)")
    p.add_argument("--target-fps", type=float, default=0.0,
                   help="the app's View > Target Frame Rate (default 0: off)")
    p.add_argument("--camera-fps", type=float, default=CAMERA_FPS,
                   help="the camera stand-in's frame rate (default 30)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gui_settings.settings_file_override = str(Path(tmp) / "settings.ini")
        results = run(args.faces, args.seconds, Path(tmp), args.model, args.target_fps,
                      args.camera_fps)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
