"""Speed (and, with --data, accuracy) of emocam beside the `fer` package; writes docs/BENCHMARKS.md.

This module runs the measurements and collects them in ``Results``; report_md.py turns those
into the Markdown page.

    python benchmarks/run.py                          # everything, 5 repeats (long: run it on
                                                      # a quiet machine)
    python benchmarks/run.py --data /path/to/ferplus --data /path/to/fer2013
    python benchmarks/run.py --quick --out /tmp/bench.md   # smoke run: 1 repeat, short
                                                      # videos, 300-frame soak
    python benchmarks/run.py --skip-peer              # emocam only

Not part of the test suite: these are measurements, not pass/fail checks. Videos are made
from real faces by benchmarks/media.py into a temporary folder. The peer (`fer`, with its
Haar detector, FER(mtcnn=False)) runs from its own venv, benchmarks/.peer-venv, which the
first run builds (peer_fer.py). Datasets (folders or their .zip) are read at run time and
never copied into the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy
import peer_fer
import speed
from flops import FlopCount, count_flops
from media import Scene, write_scene
from report_md import hand_sections, render
from soak import SoakResult
from timing import load

from emocam.classify import WIDE_BATCH
from emocam.resources import builtin_models, default_model_path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

VIDEOS = {
    "480p, 1 face": Scene(854, 480, 1, 200, 150),
    "480p, 4 faces": Scene(854, 480, 4, 100, 150),
    "720p, 1 face": Scene(1280, 720, 1, 260, 150),
    "720p, 4 faces": Scene(1280, 720, 4, 150, 150),
    "1080p, 6 small faces": Scene(1920, 1080, 6, 90, 150),
    "720p, 4 faces, 60 fps": Scene(1280, 720, 4, 150, 150, fps=60.0),
}
# End to end and against the peer: 480p and 720p with 1 and 4 faces, 1080p with small ones,
# and 60 fps footage (the scan for new faces is paced in seconds of video, not frames).
E2E_VIDEOS = ("480p, 1 face", "480p, 4 faces", "720p, 1 face", "720p, 4 faces",
              "1080p, 6 small faces", "720p, 4 faces, 60 fps")
# The detector's cost does not depend on the frame rate.
DETECTOR_VIDEOS = tuple(n for n in VIDEOS if VIDEOS[n].fps == 30.0)
# The peer runs at ~3 fps: only on the three cases issue 5 names, to keep the run under an hour.
PEER_VIDEOS = ("720p, 1 face", "720p, 4 faces", "1080p, 6 small faces")
LATENCY_VIDEOS = ("720p, 1 face", "720p, 4 faces")
# `--target-fps 60` against the default command: issue 5's 60 fps case and the costliest one.
GOVERNED_VIDEOS = ("720p, 4 faces", "1080p, 6 small faces")
GOVERNED_FPS = 60.0
# The peer runs inside "e2e" (same videos, same invocation) and inside "accuracy".
PARTS = ("classifier", "detector", "e2e", "governed", "latency", "memory", "accuracy")


@dataclass
class Settings:
    repeats: int = 5
    video_frames: int = 300  # 10 s at 30 fps
    soak_frames: int = 10000
    soak_video: str = "720p, 4 faces"
    classifier_faces: int = 2000  # faces per timed classifier run
    peer: bool = True
    peer_venv: Path = peer_fer.DEFAULT_VENV
    data: list[Path] = field(default_factory=list)
    parts: tuple[str, ...] = PARTS


@dataclass
class E2ERow:
    video: str
    frames: int
    faces_present: int
    process: speed.ProcessResult
    loop: speed.LoopResult
    peer: peer_fer.PeerSpeed | None = None


@dataclass
class Results:
    settings: Settings
    command: str
    loads: dict[str, str] = field(default_factory=dict)  # section -> load at its start
    flops: FlopCount | None = None
    classifier: list[speed.ClassifierRow] = field(default_factory=list)
    classifier_int8: list[speed.ClassifierRow] = field(default_factory=list)
    classifier_int8_2t: list[speed.ClassifierRow] = field(default_factory=list)  # both cores
    detector: list[speed.DetectorRow] = field(default_factory=list)
    e2e: list[E2ERow] = field(default_factory=list)
    governed: list[speed.GovernedRow] = field(default_factory=list)
    latency: list[speed.LatencyRow] = field(default_factory=list)
    soak: SoakResult | None = None
    accuracy: list[accuracy.AccuracyRow] = field(default_factory=list)
    accuracy_notes: list[str] = field(default_factory=list)
    peer_versions: dict[str, str] = field(default_factory=dict)


def section(res: Results, name: str) -> None:
    res.loads[name] = load()
    print(f"[{time.strftime('%H:%M:%S')}] {name} (load {res.loads[name]})...", file=sys.stderr,
          flush=True)


def peer_python(s: Settings) -> Path | None:
    return peer_fer.ensure_venv(s.peer_venv) if s.peer else None


def run_soak(video: Path, frames: int) -> SoakResult:
    r = subprocess.run([sys.executable, str(HERE / "soak.py"), str(video), "--frames",
                        str(frames)], check=True, capture_output=True, text=True)
    return SoakResult(**json.loads(r.stdout.strip().splitlines()[-1]))


def run_e2e(res: Results, videos: dict[str, Path], tmp: Path, py: Path | None) -> None:
    s = res.settings
    for name in E2E_VIDEOS:
        scene = VIDEOS[name]
        if py is not None and name in PEER_VIDEOS:
            section(res, f"end to end, emocam and fer taking turns: {name}")
            row = _interleaved(name, videos[name], s.repeats, tmp, py)
            assert row.peer is not None
            res.peer_versions = row.peer.versions
        else:
            section(res, f"end to end: {name}")
            row = E2ERow(name, scene.frames, scene.faces,
                         speed.bench_process(videos[name], scene.frames, s.repeats, tmp / "out"),
                         speed.bench_loop(videos[name], s.repeats))
        res.e2e.append(row)


def _interleaved(name: str, video: Path, repeats: int, tmp: Path, py: Path) -> E2ERow:
    """emocam's command, emocam's loop and a fer worker, one run each, ``repeats`` times."""
    scene = VIDEOS[name]
    processes, loops, peers = [], [], []
    with speed.LoopBench(video) as loop:
        for _ in range(repeats):
            processes.append(speed.bench_process(video, scene.frames, 1, tmp / "out"))
            loops.append(loop.run())
            peers.append(peer_fer.speed(py, video, 1, tmp / "fer-out"))
    row = E2ERow(name, scene.frames, scene.faces, speed.ProcessResult.merge(processes),
                 speed.LoopResult.merge(loops))
    row.peer = peer_fer.PeerSpeed.merge(peers)
    return row


def run_all(s: Settings, command: str) -> Results:
    res = Results(s, command)
    model = default_model_path()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # The peer venv first: a broken install should fail the run before the long part.
        py = peer_python(s)
        videos = {n: write_scene(tmp / f"v{i}.mp4", sc) for i, (n, sc) in enumerate(VIDEOS.items())}
        if "classifier" in s.parts:
            section(res, "classifier")
            res.flops = count_flops(model)
            res.classifier = speed.bench_classifier(model, s.repeats, s.classifier_faces)
            int8 = builtin_models().get("ferplus-int8")
            if int8 is not None:
                res.classifier_int8 = speed.bench_classifier(int8, s.repeats,
                                                             s.classifier_faces)
                small = [b for b in speed.CLASSIFIER_BATCHES if b < WIDE_BATCH]
                res.classifier_int8_2t = speed.bench_classifier(
                    int8, s.repeats, s.classifier_faces, threads=2, batches=small)
        if "detector" in s.parts:
            section(res, "detector")
            res.detector = speed.bench_detector(
                {n: (videos[n], VIDEOS[n].faces) for n in DETECTOR_VIDEOS}, s.repeats)
        if "e2e" in s.parts:
            run_e2e(res, videos, tmp, py)
        if "governed" in s.parts:
            for name in GOVERNED_VIDEOS:
                section(res, f"--target-fps {GOVERNED_FPS:g} and the default, taking turns: "
                             f"{name}")
                res.governed.append(speed.bench_governed(
                    name, videos[name], VIDEOS[name].frames, s.repeats, tmp / "governed",
                    GOVERNED_FPS))
        if "latency" in s.parts:
            section(res, "live latency")
            res.latency = speed.bench_latency({n: videos[n] for n in LATENCY_VIDEOS},
                                              s.video_frames)
        if "memory" in s.parts:
            section(res, "memory")
            res.soak = run_soak(videos[s.soak_video], s.soak_frames)
        if s.data and "accuracy" in s.parts:
            section(res, "accuracy")
            res.accuracy, res.accuracy_notes = accuracy.run(s.data, model, py, tmp)
        res.loads["end"] = load()
    return res


def settings_from_args(argv: list[str] | None = None) -> tuple[Settings, Path]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, help="runs per figure (default 5; 1 with --quick)")
    p.add_argument("--soak-frames", type=int,
                   help="frames for the memory run (default 10000; 300 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 repeat, 30-frame videos, 300-frame soak")
    p.add_argument("--skip-peer", action="store_true", help="do not run the fer package")
    p.add_argument("--peer-venv", type=Path, default=peer_fer.DEFAULT_VENV,
                   help="where the fer venv lives (built on first use)")
    p.add_argument("--data", type=Path, action="append", default=[],
                   help="FER+ or FER2013 folder (or its .zip) for the accuracy part; repeatable")
    p.add_argument("--only", action="append", choices=PARTS,
                   help="run only this part (repeatable); default: all")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    a = p.parse_args(argv)
    s = Settings(peer=not a.skip_peer, peer_venv=a.peer_venv, data=a.data,
                 parts=tuple(a.only or PARTS))
    if a.quick:
        s = dataclasses.replace(s, repeats=1, video_frames=30, soak_frames=300,
                                classifier_faces=200)
    if a.repeats is not None:
        s.repeats = a.repeats
    if a.soak_frames is not None:
        s.soak_frames = a.soak_frames
    return s, a.out


def main() -> None:
    s, out = settings_from_args()
    for name, scene in VIDEOS.items():
        VIDEOS[name] = dataclasses.replace(scene, frames=s.video_frames)
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    text = render(run_all(s, command))
    if out.is_file():  # figures other commands measured stay
        text = text.rstrip("\n") + "\n" + hand_sections(out.read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
