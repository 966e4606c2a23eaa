"""Throughput of a batch: frames per second over the whole batch of 8 real-face videos, one
input at a time (the default), on ``--jobs N`` worker processes and on a Dask LocalCluster.

    python benchmarks/batch.py                         # 8 videos of 150 frames, 1 repeat
    python benchmarks/batch.py --frames 300 --repeats 3 --out /tmp/batch.md

Each configuration is the whole command (``emocam process VIDEOS... -o OUT -q``), start-up
included, run as a subprocess and timed from outside; throughput is the batch's frames over
its wall time. The configurations take turns in each repeat, so a load that comes and goes
on the machine is spread over all of them. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import Scene, write_scene

# Eight interviews-like clips: 1 to 4 faces at 720p and 480p.
SCENES = [
    (1280, 720, 1), (1280, 720, 2), (1280, 720, 4), (1280, 720, 3),
    (854, 480, 1), (854, 480, 2), (854, 480, 4), (854, 480, 1),
]


@dataclass
class Config:
    label: str
    args: list[str]


def configs(with_dask: bool) -> list[Config]:
    out = [
        Config("default (one input at a time, every core)", []),
        Config("`--jobs 1`", ["--jobs", "1"]),
        Config("`--jobs 2`", ["--jobs", "2"]),
        Config("`--jobs 4`", ["--jobs", "4"]),
    ]
    if with_dask:
        out.append(Config("`--dask local` (LocalCluster, 2 workers)", ["--dask", "local"]))
    return out


def make_videos(folder: Path, frames: int) -> list[Path]:
    paths = []
    for i, (w, h, faces) in enumerate(SCENES):
        path = folder / f"clip{i + 1}_{h}p_{faces}faces.mp4"
        if not path.exists():
            write_scene(path, Scene(w, h, faces, face_px=h / 5, frames=frames))
        paths.append(path)
    return paths


def run_once(videos: list[Path], cfg: Config, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "emocam", "process", *map(str, videos), "-o", str(out), "-q",
           *cfg.args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=150, help="frames per video (30 fps)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--videos", type=Path, help="folder for the videos (kept between runs)")
    p.add_argument("--out", type=Path, help="write the Markdown table here too")
    p.add_argument("--skip-dask", action="store_true")
    a = p.parse_args()
    with_dask = not a.skip_dask and importlib.util.find_spec("distributed") is not None
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.videos or Path(tmp) / "videos"
        folder.mkdir(parents=True, exist_ok=True)
        videos = make_videos(folder, a.frames)
        total = a.frames * len(videos)
        cfgs = configs(with_dask)
        times: dict[str, list[float]] = {c.label: [] for c in cfgs}
        for r in range(a.repeats):
            for cfg in cfgs:  # in turns: a passing load falls on every configuration
                t = run_once(videos, cfg, Path(tmp) / "out")
                times[cfg.label].append(t)
                print(f"repeat {r + 1}: {cfg.label}: {t:.1f} s, {total / t:.1f} frames/s",
                      file=sys.stderr)
    base = statistics.median(times[cfgs[0].label])
    lines = [
        f"8 videos x {a.frames} frames ({total} frames; 720p and 480p, 1-4 faces), "
        f"`emocam process VIDEOS -o OUT -q` as a whole; median of {a.repeats} run(s); "
        f"{os.cpu_count()} logical cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}.",
        "",
        "| configuration | wall time | frames/s over the batch | against the default |",
        "|---|---|---|---|",
    ]
    for cfg in cfgs:
        t = statistics.median(times[cfg.label])
        lines.append(f"| {cfg.label} | {t:.1f} s | {total / t:.1f} | {base / t:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
