"""emocam's own speed: the figures benchmarks/run.py puts in docs/BENCHMARKS.md, and where the
time goes (docs/PROFILE.md).

Imported, each ``bench_*`` function returns plain data; run.py runs them and report_md.py
renders them. Run as a script, four subcommands print what docs/PROFILE.md cites:

    python benchmarks/speed.py stages [--video V]          # CPU ms per stage
    python benchmarks/speed.py e2e LABEL [--repeats 5] [-- EMOCAM_ARGS...]
    python benchmarks/speed.py latency [--video V] [--video-1face V]
    python benchmarks/speed.py threads [--video V] [-- EMOCAM_ARGS...]

``stages``: decode, BGR->RGB/gray, the redetect mosaic, each detector pass, the whole
``Pipeline.process``, align, classify, draw and mp4v encode. ``e2e``: ``emocam process`` on the
video (loop fps from its JSON summary, CPU ms per frame with start-up removed by subtracting
a run on a cut of the first ``--short-frames`` frames); e.g. ``e2e after -- --no-video``.
``latency``: the live path (``PipelineConfig(live=True)``), as run.py measures it, with its CPU
time. ``threads``: ``emocam process`` in this process, with the CPU time of each of its
threads (Python's names; MediaPipe's own threads are "drishti", FFmpeg's "av:..."; Linux only).
CPU figures are ``time.process_time`` (every thread of this process) or ``getrusage`` of the
child process, which stay steady on a loaded machine where wall-clock figures do not.

Videos not given are made with benchmarks/media.py in ``--work`` (default: a temporary
folder), 1280x720: 4 faces of 150 px and 1 face of 260 px, ``--frames`` long (default 300).

Two settled investigations were dropped from here: onnxruntime's session options for the
classifier and the video encoders within reach (docs/PROFILE.md has their results; the code
is ``git show bcfaee9:benchmarks/profile_stages.py``, subcommands ``session-options`` and
``encoders``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from media import Scene, write_scene
from timing import Stats, ThreadSampler, cpu_ms, frame_ms, load, read_frames, repeat

from emocam.classify import EmotionClassifier
from emocam.geometry import iou_matrix
from emocam.outputs import default_output
from emocam.overlay import OverlayOptions, draw
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.preprocess import crop_faces
from emocam.types import Frame

FRAME_MS = 1000.0 / 30.0
CLASSIFIER_BATCHES = (1, 4, 8, 64)
LIVE_WARMUP_FRAMES = 10  # live latency: model and schedule start-up, not steady state
FOUR_FACES = Scene(1280, 720, faces=4, face_px=150)
ONE_FACE = Scene(1280, 720, faces=1, face_px=260)


# --- what run.py measures --------------------------------------------------------------


@dataclass
class ClassifierRow:
    batch: int
    ms_per_call: Stats
    faces_per_s: Stats


@dataclass
class DetectorRow:
    detector: str
    video: str
    ms_per_frame: Stats
    faces_found: float  # per frame, capped at the faces present
    faces_present: int


@dataclass
class LoopResult:
    """Pipeline.process over decoded frames: detection, crops, classifier, tracker."""

    fps: Stats
    cpu_ms_per_frame: Stats  # process CPU time, all threads; less sensitive to other load
    faces_per_frame: float

    @classmethod
    def merge(cls, runs: list[LoopResult]) -> LoopResult:
        """Single runs taken apart (interleaved with the peer's) as one result."""
        assert all(r.fps.n == 1 for r in runs)
        return cls(Stats.of([r.fps.median for r in runs]),
                   Stats.of([r.cpu_ms_per_frame.median for r in runs]),
                   float(np.mean([r.faces_per_frame for r in runs])))


@dataclass
class LatencyRow:
    video: str
    median_ms: float
    p95_ms: float
    cpu_median_ms: float  # this process's CPU time, all threads: steadier under load


def make_pipeline(live: bool = False) -> Pipeline:
    # CPU on purpose: the figures describe the laptop case every user has.
    return Pipeline(PipelineConfig(live=live, provider="cpu"))


def bench_classifier(
    model: Path, repeats: int, calls: int, threads: int = 1, batches: Sequence[int] = ()
) -> list[ClassifierRow]:
    """``calls``: about how many faces each timed run pushes through (divided by batch).
    ``threads``: for batches under 16 (larger ones use every core either way)."""
    clf = EmotionClassifier(model, provider="cpu", threads=threads)
    rng = np.random.default_rng(0)
    rows = []
    s = clf.info.input_size
    for batch in batches or CLASSIFIER_BATCHES:
        crops = rng.integers(0, 255, (batch, s, s), dtype=np.uint8)
        for _ in range(5):  # warm-up: the first calls allocate
            clf.predict(crops)

        def once(crops: np.ndarray = crops, batch: int = batch) -> float:
            n = max(3, calls // batch)
            t = time.perf_counter()
            for _ in range(n):
                clf.predict(crops)
            return (time.perf_counter() - t) / n * 1e3

        ms = repeat(once, repeats)
        rows.append(ClassifierRow(batch, Stats.of(ms), Stats.of([batch / (m / 1e3) for m in ms])))
    clf.close()
    return rows


def bench_detector(videos: dict[str, tuple[Path, int]], repeats: int) -> list[DetectorRow]:
    """``videos``: name -> (path, faces present in every frame)."""
    from emocam.detect import create_detector

    rows = []
    for name in ("mediapipe", "opencv"):
        det = create_detector(name)
        for vname, (path, n_true) in videos.items():
            frames = read_frames(path, 60)

            def once(frames: list[np.ndarray] = frames, det=det) -> float:
                t = time.perf_counter()
                for i, f in enumerate(frames):
                    det.detect(f, i * FRAME_MS)
                return (time.perf_counter() - t) / len(frames) * 1e3

            ms = repeat(once, repeats)
            found = [min(len(det.detect(f, i * FRAME_MS)), n_true) for i, f in enumerate(frames)]
            rows.append(DetectorRow(name, vname, Stats.of(ms), float(np.mean(found)), n_true))
        det.close()
    return rows


@dataclass(frozen=True)
class ProcessRun:
    """One ``emocam process`` in its own process, timed from outside."""

    wall_s: float  # the whole command, start-up included
    cpu_s: float  # the child's user + system time, start-up included
    summary: dict[str, Any]  # its JSON summary: frames, fps_achieved, elapsed_s, timings


def emocam_process(video: Path, out: Path, extra: Sequence[str] = ()) -> ProcessRun:
    """``emocam process VIDEO -o OUT --overwrite -q EXTRA`` as a user runs it."""
    env = {**os.environ, "GLOG_minloglevel": "2"}  # MediaPipe's start-up chatter
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emocam", "process", str(video), "-o", str(out),
                    "--overwrite", "-q", *extra], check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ProcessRun(wall, cpu, json.loads(default_output(video, out, "json").read_text()))


@dataclass
class ProcessResult:
    whole_fps: Stats  # frames / wall time of the whole command, start-up included
    running_fps: Stats  # the command's own figure: frames / time from first frame to last
    startup_s: Stats  # the rest: interpreter, imports, models, closing the files

    @classmethod
    def merge(cls, runs: list[ProcessResult]) -> ProcessResult:
        """Single runs taken apart (interleaved with the peer's) as one result."""
        assert all(r.whole_fps.n == 1 for r in runs)
        return cls(Stats.of([r.whole_fps.median for r in runs]),
                   Stats.of([r.running_fps.median for r in runs]),
                   Stats.of([r.startup_s.median for r in runs]))


def bench_process(
    video: Path, frames: int, repeats: int, out: Path, extra: Sequence[str] = ()
) -> ProcessResult:
    """The whole `emocam process` command (start-up, decode, detect, classify, draw,
    encode, CSV and JSON), and the frame rate it reports once running. ``extra``: more
    options for the command."""
    runs = [emocam_process(video, out, extra) for _ in range(repeats)]
    return ProcessResult(Stats.of([frames / r.wall_s for r in runs]),
                         Stats.of([r.summary["fps_achieved"] for r in runs]),
                         Stats.of([r.wall_s - r.summary["elapsed_s"] for r in runs]))


@dataclass
class GovernedRow:
    """`emocam process --target-fps T` beside the default command, on one video: the speed
    it buys and what the default's every-frame detection would have reported instead."""

    video: str
    target_fps: float
    default: ProcessResult
    governed: ProcessResult
    label_agreement: Stats  # per run: share of the default's faces given the same top label
    box_iou: Stats  # per run: median IoU of a face's box with the default's
    faces_kept: Stats  # per run: share of the default's faces reported at all
    face_ids: int  # most distinct face ids in one governed run
    default_face_ids: int


def bench_governed(
    name: str, video: Path, frames: int, repeats: int, out: Path, target_fps: float
) -> GovernedRow:
    """The default command and ``--target-fps``, taking turns; every governed run's CSV is
    compared with the (deterministic) default run's, face by face."""
    plain, governed, agree, ious, kept, ids = [], [], [], [], [], []
    extra = ("--target-fps", f"{target_fps:g}")
    for _ in range(repeats):
        plain.append(bench_process(video, frames, 1, out / "default"))
        governed.append(bench_process(video, frames, 1, out / "governed", extra))
        ref = _csv_faces(default_output(video, out / "default", "csv"))
        got = _csv_faces(out / "governed" / f"{video.stem}.emocam.csv")
        a, i, k = _compare_faces(ref, got)
        agree.append(a)
        ious.append(i)
        kept.append(k)
        ids.append(len({fid for faces in got.values() for fid, _, _ in faces}))
    default_ids = len({fid for faces in ref.values() for fid, _, _ in faces})
    return GovernedRow(name, target_fps, ProcessResult.merge(plain),
                       ProcessResult.merge(governed), Stats.of(agree), Stats.of(ious),
                       Stats.of(kept), max(ids), default_ids)


_Face = tuple[str, tuple[float, float, float, float], str]  # face id, box, top label


def _csv_faces(path: Path) -> dict[str, list[_Face]]:
    """frame -> its faces, from an `emocam process` CSV."""
    out: dict[str, list[_Face]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if not row["face_id"]:
                continue
            box = (float(row["x"]), float(row["y"]), float(row["w"]), float(row["h"]))
            out.setdefault(row["frame"], []).append((row["face_id"], box, row["top_label"]))
    return out


def _compare_faces(
    ref: dict[str, list[_Face]], got: dict[str, list[_Face]]
) -> tuple[float, float, float]:
    """Each reference face matched to the other run's most overlapping box in its frame:
    (share with the same top label, median IoU of the matched, share matched)."""
    same, ious, total = 0, [], 0
    for frame, faces in ref.items():
        theirs = got.get(frame, [])
        for _, box, label in faces:
            total += 1
            if not theirs:
                continue
            iou = iou_matrix(np.array([box]), np.array([b for _, b, _ in theirs]))[0]
            j = int(np.argmax(iou))
            if iou[j] < 0.3:
                continue
            ious.append(float(iou[j]))
            same += theirs[j][2] == label
    if total == 0:
        return 1.0, 1.0, 1.0
    return same / total, float(np.median(ious)) if ious else 0.0, len(ious) / total


class LoopBench:
    """Pipeline.process on frames decoded beforehand: the counterpart of a detect_emotions
    loop. The frames and the warmed-up pipeline stay ready between runs."""

    def __init__(self, video: Path):
        self.frames = read_frames(video)
        # The frames' own times: the scan for new faces is paced in seconds of video.
        self.frame_ms = frame_ms(video)
        self.pipe = make_pipeline()
        self.pipe.process(Frame(self.frames[0], 0, 0.0))  # warm-up

    def run(self) -> LoopResult:
        """One timed pass over every frame."""
        self.pipe.reset()
        t, c = time.perf_counter(), time.process_time()
        n = [len(self.pipe.process(Frame(f, i, i * self.frame_ms)).faces)
             for i, f in enumerate(self.frames)]
        wall, cpu_s = time.perf_counter() - t, time.process_time() - c
        return LoopResult(Stats.of([len(self.frames) / wall]),
                          Stats.of([cpu_s / len(self.frames) * 1e3]), float(np.mean(n)))

    def __enter__(self) -> LoopBench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pipe.close()


def bench_loop(video: Path, repeats: int) -> LoopResult:
    with LoopBench(video) as bench:
        return LoopResult.merge([bench.run() for _ in range(repeats)])


def bench_latency(videos: dict[str, Path], frames: int) -> list[LatencyRow]:
    """Time Pipeline.process adds to each frame on the live path (camera settings), after
    the first frames' warm-up."""
    rows = []
    pipe = make_pipeline(live=True)
    for name, path in videos.items():
        pipe.reset()
        lat, cpu = [], []
        for i, f in enumerate(read_frames(path, frames)):
            t, c = time.perf_counter(), time.process_time()
            pipe.process(Frame(f, i, i * FRAME_MS))
            lat.append((time.perf_counter() - t) * 1e3)
            cpu.append((time.process_time() - c) * 1e3)
        skip = min(LIVE_WARMUP_FRAMES, len(lat) // 4)
        lat, cpu = lat[skip:], cpu[skip:]
        rows.append(LatencyRow(name, float(np.median(lat)), float(np.percentile(lat, 95)),
                               float(np.median(cpu))))
    pipe.close()
    return rows


# --- where the time goes (docs/PROFILE.md) ----------------------------------------------


def generated(work: Path, scene: Scene) -> Path:
    """A benchmarks/media.py video for ``scene`` in ``work``, made once and then reused."""
    path = work / f"v{scene.width}x{scene.height}_{scene.faces}f_{scene.frames}.mp4"
    if not path.exists():
        print(f"writing {path}", flush=True)
        write_scene(path, scene)
    return path


def video_or_generated(given: Path | None, work: Path, scene: Scene) -> Path:
    return given if given is not None else generated(work, scene)


def cut(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src`` as an mp4v video (the same pictures, unlike a
    shorter media.py scene, whose motion depends on its length)."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    images = read_frames(src, frames)
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    try:
        for image in images:
            writer.write(image)
    finally:
        writer.release()
    return dst


@contextmanager
def work_dir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="emocam-prof-") as tmp:
        yield Path(tmp)


# --- stages ----------------------------------------------------------------------------


def decode_ms(path: Path) -> tuple[float, float, list[np.ndarray]]:
    """CPU ms per frame to read (decode + convert) and to grab (decode only), and the frames."""
    t = time.process_time()
    frames = read_frames(path)
    read = (time.process_time() - t) / len(frames) * 1e3
    cap = cv2.VideoCapture(str(path))
    t = time.process_time()
    while cap.grab():
        pass
    grab = (time.process_time() - t) / len(frames) * 1e3
    cap.release()
    return read, grab, frames


def encode_ms(frames: Sequence[np.ndarray], out: Path) -> float:
    h, w = frames[0].shape[:2]
    t = time.process_time()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return (time.process_time() - t) / len(frames) * 1e3


def detector_stages(pipe: Pipeline, frames: Sequence[np.ndarray]) -> None:
    """The redetect mosaic on the first frame's faces and each pass of a full scan."""
    det = pipe.detector
    if not hasattr(det, "redetect"):
        print(f"detector {det.name}: no mosaic or passes to time")
        return
    rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames[:60]]
    boxes = [d.box for d in det.detect(frames[0])]
    print(f"redetect {len(boxes)} faces {cpu_ms(lambda r: det.redetect(r, boxes), rgb):.2f}")
    h, w = frames[0].shape[:2]
    for p in det.passes(w, h):
        ms = cpu_ms(lambda r, p=p: det.run_passes(r, [p]), rgb)
        print(f"pass {p.model} x {p.tile.x0}-{p.tile.x1} y {p.tile.y0}-{p.tile.y1} {ms:.2f}")


def pipeline_runs(pipe: Pipeline, frames: Sequence[np.ndarray], runs: int = 2) -> list[Any]:
    """CPU ms per frame of ``Pipeline.process``, each run from a reset; the last run's results."""
    results: list[Any] = []
    for _ in range(runs):
        pipe.reset()
        t = time.process_time()
        # Copies: draw() below paints into the frames of these results.
        results = [pipe.process(Frame(f.copy(), i, i * FRAME_MS)) for i, f in enumerate(frames)]
        ms = (time.process_time() - t) / len(frames) * 1e3
        print(f"pipeline.process {ms:.2f} CPU ms/frame (incl. first-frame full scan)")
    return results


def face_stages(pipe: Pipeline, frames: Sequence[np.ndarray], results: Sequence[Any]) -> None:
    """Align (gray frame and crops, as the pipeline does), classify and draw."""
    dets = pipe.detector.detect(frames[min(5, len(frames) - 1)])
    boxes, eyes = [d.box for d in dets], [d.eyes for d in dets]
    spec = pipe.model_info.crop

    def align(f: np.ndarray) -> np.ndarray:
        return crop_faces(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), boxes, spec, eyes)

    print(f"align {len(dets)} faces (gray frame + crops) {cpu_ms(align, frames[:60]):.2f}")
    crops = align(frames[min(5, len(frames) - 1)])
    ms = cpu_ms(lambda _: pipe.classifier.predict(crops), range(200))
    print(f"classify {len(dets)} {ms:.2f}")
    opts = OverlayOptions()
    print(f"draw {cpu_ms(lambda r: draw(r.frame.image, r, opts), results[:100]):.2f}")


def cmd_stages(a: argparse.Namespace, work: Path) -> None:
    video = video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames))
    read, grab, frames = decode_ms(video)
    print(f"{video}: {len(frames)} frames; CPU ms per frame, all threads; load {load()}")
    print(f"decode read {read:.2f}  grab {grab:.2f}")
    print(f"encode mp4v {encode_ms(frames, work / 'encoded.mp4'):.2f}")
    rgb = cpu_ms(lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB), frames)
    gray = cpu_ms(lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), frames)
    print(f"BGR2RGB {rgb:.2f}  BGR2GRAY {gray:.2f}")
    with make_pipeline() as pipe:
        detector_stages(pipe, frames)
        results = pipeline_runs(pipe, frames)
        face_stages(pipe, frames, results)


def cmd_e2e(a: argparse.Namespace, work: Path) -> None:
    video = video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames))
    short = a.short_video or cut(video, work / f"{video.stem}_{a.short_frames}.mp4",
                                 a.short_frames)
    out = work / f"out_{a.label}"
    fps, cpu_pf, loads = [], [], []
    for i in range(a.repeats):
        full = emocam_process(video, out, a.emocam_args)
        start = emocam_process(short, out, a.emocam_args)
        fps.append(full.summary["fps_achieved"])
        frames = full.summary["frames"] - start.summary["frames"]
        cpu_pf.append((full.cpu_s - start.cpu_s) / frames * 1e3)
        loads.append(os.getloadavg()[0])
        print(f"{a.label} run{i}: {fps[-1]:.1f} fps, {cpu_pf[-1]:.1f} CPU ms/frame, "
              f"load {loads[-1]:.1f}, timings {full.summary['mean_timings_ms']}", flush=True)
    print(f"{a.label}: median {statistics.median(fps):.1f} fps "
          f"(range {min(fps):.1f}-{max(fps):.1f}), CPU {statistics.median(cpu_pf):.1f} ms/frame, "
          f"load {min(loads):.1f}-{max(loads):.1f}")


def cmd_threads(a: argparse.Namespace, work: Path) -> None:
    """CPU per thread of ``emocam process`` run in this process, per frame of the video."""
    if not Path("/proc/self/task").is_dir():
        sys.exit("threads needs Linux's /proc.")
    from emocam.cli import main as emocam_main

    video = video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames))
    out = work / "out_threads"
    t = time.perf_counter()
    with ThreadSampler() as sampler:
        code = emocam_main(["process", str(video), "-o", str(out), "--overwrite", "-q",
                            *a.emocam_args])
    wall = time.perf_counter() - t
    summary = json.loads(default_output(video, out, "json").read_text())
    frames = summary["frames"]
    groups = sampler.by_name()
    print(f"{video}: exit {code}, {frames} frames, {wall:.2f} s wall with start-up, loop "
          f"{summary['fps_achieved']:.1f} fps, load {load()}")
    print(f"{'thread':28s} {'CPU s':>7s} {'ms/frame':>9s}")
    for name, cpu in groups.items():
        print(f"{name:28s} {cpu:7.2f} {cpu / frames * 1e3:9.2f}")
    total = sum(groups.values())
    print(f"{'all (start-up included)':28s} {total:7.2f} {total / frames * 1e3:9.2f}; "
          f"{total / wall:.2f} cores busy on average")


def cmd_latency(a: argparse.Namespace, work: Path) -> None:
    print(f"load {load()}")
    videos = {
        "1 face": video_or_generated(a.video_1face, work, replace(ONE_FACE, frames=a.frames)),
        "4 faces": video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames)),
    }
    for r in bench_latency(videos, a.latency_frames):
        print(f"{r.video}: median {r.median_ms:.1f} ms, p95 {r.p95_ms:.1f} ms; "
              f"CPU median {r.cpu_median_ms:.1f} ms")


# --- command line ------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    media = argparse.ArgumentParser(add_help=False)
    media.add_argument("--work", type=Path, metavar="DIR",
                       help="folder for generated videos and outputs (default: a temporary one)")
    media.add_argument("--frames", type=int, default=300, help="length of generated videos")
    media.add_argument("--video", type=Path, help="the 4-face video (default: generated)")

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stages", parents=[media], help="CPU ms per stage")
    s.set_defaults(run=cmd_stages)

    s = sub.add_parser("e2e", parents=[media], help="emocam process: fps and CPU per frame",
                       epilog="Arguments after -- go to emocam process, e.g. -- --no-video.")
    s.add_argument("label", help="name of this configuration in the output")
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument("--short-video", type=Path,
                   help="start-up run's video (default: the first --short-frames of --video)")
    s.add_argument("--short-frames", type=int, default=30)
    s.set_defaults(run=cmd_e2e)

    s = sub.add_parser("threads", parents=[media], help="emocam process: CPU per thread",
                       epilog="Arguments after -- go to emocam process, e.g. -- --no-video.")
    s.set_defaults(run=cmd_threads)

    s = sub.add_parser("latency", parents=[media], help="live-path latency per frame")
    s.add_argument("--video-1face", type=Path, help="the 1-face video (default: generated)")
    s.add_argument("--latency-frames", type=int, default=150, help="frames timed per video")
    s.set_defaults(run=cmd_latency)

    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # Split by hand: argparse does not hand "--" and what follows through a subcommand.
    cut_at = args.index("--") if "--" in args else len(args)
    p = parser()
    a = p.parse_args(args[:cut_at])
    a.emocam_args = args[cut_at + 1 :]
    if a.emocam_args and a.command not in ("e2e", "threads"):
        p.error("arguments after -- are for e2e and threads only")
    with work_dir(getattr(a, "work", None)) as work:
        a.run(a, work)


if __name__ == "__main__":
    main()
