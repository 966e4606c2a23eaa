"""Speed benchmarks of the emocam pipeline; writes docs/BENCHMARKS.md.

    python benchmarks/run.py                 # everything, 5 repeats (about 10 minutes on 2 cores)
    python benchmarks/run.py --repeats 3 --soak-frames 2000

Not part of the test suite: these are measurements, not pass/fail checks. Videos are made
from real faces by benchmarks/media.py into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import Scene, write_video

from emocam import __version__
from emocam.classify import EmotionClassifier
from emocam.detect import create_detector
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.resources import default_model_path
from emocam.types import Frame

ROOT = Path(__file__).resolve().parents[1]

VIDEOS = {
    "480p, 1 face": Scene(854, 480, 1, 200, 150),
    "720p, 1 face": Scene(1280, 720, 1, 260, 150),
    "720p, 4 faces": Scene(1280, 720, 4, 150, 150),
    "1080p, 6 small faces": Scene(1920, 1080, 6, 90, 150),
}


def stats(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def repeat(fn: Callable[[], float], n: int) -> list[float]:
    return [fn() for _ in range(n)]


def bench_classifier(repeats: int) -> list[str]:
    clf = EmotionClassifier(default_model_path(), provider="cpu")
    rng = np.random.default_rng(0)
    rows = []
    for batch in (1, 4, 8, 64):
        crops = rng.integers(0, 255, (batch, clf.info.input_size, clf.info.input_size),
                             dtype=np.uint8)
        for _ in range(5):
            clf.predict(crops)

        def once(crops=crops, batch=batch) -> float:
            n = max(1, 2000 // batch)
            t = time.perf_counter()
            for _ in range(n):
                clf.predict(crops)
            return (time.perf_counter() - t) / n * 1e3

        ms = repeat(once, repeats)
        fps = [batch / (m / 1e3) for m in ms]
        rows.append(f"| {batch} | {stats(ms)} | {stats(fps)} |")
    return rows


def read_frames(path: Path, n: int = 60) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def bench_detector(videos: dict[str, Path], repeats: int) -> list[str]:
    rows = []
    for detector in ("mediapipe", "opencv"):
        det = create_detector(detector)
        for name, path in videos.items():
            frames = read_frames(path)
            n_true = VIDEOS[name].faces

            def once(frames=frames, det=det) -> float:
                t = time.perf_counter()
                for i, f in enumerate(frames):
                    det.detect(f, i * 33.3)
                return (time.perf_counter() - t) / len(frames) * 1e3

            ms = repeat(once, repeats)
            found = [min(len(det.detect(f, i * 33.3)), n_true) for i, f in enumerate(frames)]
            recall = 100.0 * sum(found) / (n_true * len(frames))
            rows.append(f"| {detector} | {name} | {stats(ms)} | {recall:.1f}% |")
        det.close()
    return rows


def bench_process(videos: dict[str, Path], repeats: int, out: Path) -> list[str]:
    rows = []
    for name, path in videos.items():
        frames = VIDEOS[name].frames

        def once(path=path, frames=frames) -> float:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "emocam", "process", str(path), "-o", str(out),
                 "--overwrite"], check=True, capture_output=True,
            )
            return frames / (time.perf_counter() - t)

        fps = repeat(once, repeats)
        rows.append(f"| {name} | {frames} | {stats(fps)} |")
    return rows


def bench_latency(videos: dict[str, Path]) -> list[str]:
    rows = []
    pipe = Pipeline(PipelineConfig(live=True, provider="cpu"))
    for name in ("720p, 1 face", "720p, 4 faces"):
        frames = read_frames(videos[name], 150)
        pipe.reset()
        lat = []
        for i, f in enumerate(frames):
            t = time.perf_counter()
            pipe.process(Frame(f, i, i * 33.3))
            lat.append((time.perf_counter() - t) * 1e3)
        lat = lat[10:]
        rows.append(f"| {name} | {statistics.median(lat):.1f} | "
                    f"{np.percentile(lat, 95):.1f} |")
    pipe.close()
    return rows


def bench_memory(video: Path, n_frames: int) -> str:
    import psutil

    proc = psutil.Process()
    pipe = Pipeline(PipelineConfig(provider="cpu"))
    frames = read_frames(video, 60)
    rss = []
    for i in range(n_frames):
        pipe.process(Frame(frames[i % len(frames)], i, i * 33.3))
        if i % 500 == 0:
            rss.append(proc.memory_info().rss / 2**20)
    pipe.close()
    growth = rss[-1] - rss[1] if len(rss) > 2 else 0.0
    return (f"{n_frames} frames of the 720p 4-face video through the pipeline: resident memory "
            f"{rss[1]:.0f} MiB after 500 frames, {rss[-1]:.0f} MiB at the end "
            f"(growth {growth:+.0f} MiB), peak {max(rss):.0f} MiB.")


def machine() -> str:
    import mediapipe
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, emocam {__version__}, onnxruntime "
            f"{onnxruntime.__version__}, mediapipe {mediapipe.__version__}, OpenCV "
            f"{cv2.__version__}, numpy {np.__version__}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--soak-frames", type=int, default=10000)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    a = p.parse_args()
    cmd = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = {n: write_video(tmp / f"v{i}.mp4", s) for i, (n, s) in enumerate(VIDEOS.items())}
        print("classifier...", file=sys.stderr)
        clf = bench_classifier(a.repeats)
        print("detector...", file=sys.stderr)
        det = bench_detector(videos, a.repeats)
        print("emocam process...", file=sys.stderr)
        proc = bench_process(videos, a.repeats, tmp / "out")
        print("latency...", file=sys.stderr)
        lat = bench_latency(videos)
        print("memory...", file=sys.stderr)
        mem = bench_memory(videos["720p, 4 faces"], a.soak_frames)
    text = f"""# Benchmarks

Measured with `{cmd.strip()}` on {time.strftime('%Y-%m-%d')}.
Machine: {machine()}.
Figures are medians of {a.repeats} runs with the min-max range in brackets. Videos are made
from real faces by `benchmarks/media.py` (150 frames each). CPU execution provider.

## Classifier (shipped model, onnxruntime)

| batch | ms per call | faces/s |
|---|---|---|
{chr(10).join(clf)}

## Face detector (per frame; recall = faces found / faces present, capped per frame)

| detector | video | ms/frame | recall |
|---|---|---|---|
{chr(10).join(det)}

## End to end: `emocam process VIDEO -o OUT` (decode, detect, classify, draw, encode, CSV)

Wall time of the whole command, start-up included.

| video | frames | fps |
|---|---|---|
{chr(10).join(proc)}

## Live-path added latency (detection + alignment + classification + tracking per frame)

| video | median ms | 95th percentile ms |
|---|---|---|
{chr(10).join(lat)}

## Memory

{mem}
"""
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
