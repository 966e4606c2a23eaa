"""Where the time goes: the measurements behind docs/PROFILE.md.

Six subcommands; CPU figures are ``time.process_time`` (every thread of this process) or
``getrusage`` of the child process, which stay steady on a loaded machine where wall-clock
figures do not.

    python benchmarks/profile_stages.py stages [--video V]          # CPU ms per stage
    python benchmarks/profile_stages.py e2e LABEL [--repeats 5] [-- EMOCAM_ARGS...]
    python benchmarks/profile_stages.py latency [--video V] [--video-1face V]
    python benchmarks/profile_stages.py session-options [--model M]
    python benchmarks/profile_stages.py encoders [--video V]         # video encoders
    python benchmarks/profile_stages.py threads [--video V] [-- EMOCAM_ARGS...]

``stages``: decode, BGR->RGB/gray, the redetect mosaic, each detector pass, the whole
``Pipeline.process``, align, classify, draw and mp4v encode. ``e2e``: ``emocam process`` on the
video (loop fps from its JSON summary, CPU ms per frame with start-up removed by subtracting
a run on a cut of the first ``--short-frames`` frames); e.g. ``e2e after -- --no-video``.
``latency``: the live path as benchmarks/run.py measures it (``PipelineConfig(live=True)``).
``session-options``: onnxruntime session options for the classifier, 1 intra-op thread.
``encoders``: OpenCV's mp4v writer against FFmpeg's encoders through PyAV (test extra).
``threads``: ``emocam process`` in this process, with the CPU time of each of its threads
(Python's names; MediaPipe's own threads are "drishti", FFmpeg's "av:..."; Linux only).

Videos not given are made with benchmarks/media.py in ``--work`` (default: a temporary
folder), 1280x720: 4 faces of 150 px and 1 face of 260 px, ``--frames`` long (default 300).
GLOG_minloglevel=2 in the environment quiets MediaPipe's start-up logging.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
from media import Scene, write_scene
from timing import load, read_frames

from emocam.outputs import default_output
from emocam.overlay import OverlayOptions, draw
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.preprocess import crop_faces
from emocam.resources import default_model_path
from emocam.types import Frame

T = TypeVar("T")

FOUR_FACES = Scene(1280, 720, faces=4, face_px=150)
ONE_FACE = Scene(1280, 720, faces=1, face_px=260)
WARMUP_FRAMES = 10  # live latency: model and schedule start-up, not steady state


# --- media -------------------------------------------------------------------------------


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


# --- stages ------------------------------------------------------------------------------


def cpu_ms(fn: Callable[[T], object], items: Sequence[T]) -> float:
    """CPU ms (all threads) per call of ``fn`` over ``items``."""
    t = time.process_time()
    for x in items:
        fn(x)
    return (time.process_time() - t) / len(items) * 1e3


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
        results = [pipe.process(Frame(f.copy(), i, i * 1000 / 30)) for i, f in enumerate(frames)]
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
    with Pipeline(PipelineConfig(provider="cpu")) as pipe:
        detector_stages(pipe, frames)
        results = pipeline_runs(pipe, frames)
        face_stages(pipe, frames, results)


# Encoders the annotated video could use: OpenCV's (what emocam writes) and, through PyAV
# (the test extra), FFmpeg's MPEG-4 Part 2 and H.264 at its fastest presets.
ENCODERS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("PyAV mpeg4, qscale 5", "mpeg4", {"qscale": "5"}),
    ("PyAV libx264 ultrafast crf 23", "libx264", {"preset": "ultrafast", "crf": "23"}),
    ("PyAV libx264 superfast crf 23", "libx264", {"preset": "superfast", "crf": "23"}),
    ("PyAV libx264 veryfast crf 23", "libx264", {"preset": "veryfast", "crf": "23"}),
)


def pyav_encode_ms(frames: Sequence[np.ndarray], out: Path, codec: str,
                   options: dict[str, str]) -> float:
    import av

    h, w = frames[0].shape[:2]
    t = time.process_time()
    with av.open(str(out), "w") as container:
        stream = container.add_stream(codec, rate=30, options=options)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.thread_count = 1  # one core, as OpenCV's writer uses
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="bgr24")))
        container.mux(stream.encode())
    return (time.process_time() - t) / len(frames) * 1e3


def cmd_encoders(a: argparse.Namespace, work: Path) -> None:
    video = video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames))
    frames = read_frames(video, 120)
    print(f"{video}: {len(frames)} frames; CPU ms per frame (BGR in, file out); load {load()}")
    out = work / "enc_opencv.mp4"
    ms = encode_ms(frames, out)
    print(f"OpenCV mp4v (emocam's writer): {ms:.2f} ms, "
          f"{out.stat().st_size / len(frames) / 1024:.1f} KiB/frame")
    for i, (name, codec, options) in enumerate(ENCODERS):
        out = work / f"enc_{i}.mp4"
        ms = pyav_encode_ms(frames, out, codec, options)
        print(f"{name}: {ms:.2f} ms, {out.stat().st_size / len(frames) / 1024:.1f} KiB/frame")


# --- e2e ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessRun:
    fps: float  # the frame loop's, from the JSON summary
    cpu_s: float  # the child's user + system time, start-up included
    frames: int
    timings: dict[str, float]


def emocam_process(video: Path, out: Path, extra: Sequence[str]) -> ProcessRun:
    env = {**os.environ, "GLOG_minloglevel": "2"}  # MediaPipe's start-up chatter
    cmd = [sys.executable, "-m", "emocam", "process", str(video), "-o", str(out),
           "--overwrite", "-q", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(default_output(video, out, "json").read_text())
    return ProcessRun(summary["fps_achieved"], cpu, summary["frames"],
                      summary["mean_timings_ms"])


def cmd_e2e(a: argparse.Namespace, work: Path) -> None:
    video = video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames))
    short = a.short_video or cut(video, work / f"{video.stem}_{a.short_frames}.mp4",
                                 a.short_frames)
    out = work / f"out_{a.label}"
    fps, cpu_pf, loads = [], [], []
    for i in range(a.repeats):
        full = emocam_process(video, out, a.emocam_args)
        start = emocam_process(short, out, a.emocam_args)
        fps.append(full.fps)
        cpu_pf.append((full.cpu_s - start.cpu_s) / (full.frames - start.frames) * 1e3)
        loads.append(os.getloadavg()[0])
        print(f"{a.label} run{i}: {full.fps:.1f} fps, {cpu_pf[-1]:.1f} CPU ms/frame, "
              f"load {loads[-1]:.1f}, timings {full.timings}", flush=True)
    print(f"{a.label}: median {statistics.median(fps):.1f} fps "
          f"(range {min(fps):.1f}-{max(fps):.1f}), CPU {statistics.median(cpu_pf):.1f} ms/frame, "
          f"load {min(loads):.1f}-{max(loads):.1f}")


# --- threads -----------------------------------------------------------------------------


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
    the Python name of each thread it saw (native threads keep the kernel's name)."""

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


# --- latency -----------------------------------------------------------------------------


def live_latency(video: Path, frames: int) -> None:
    """Wall and CPU ms of ``Pipeline.process`` per frame on the live path, after warm-up."""
    images = read_frames(video, frames)
    lat, cpu = [], []
    with Pipeline(PipelineConfig(live=True, provider="cpu")) as pipe:
        for i, image in enumerate(images):
            t, c = time.perf_counter(), time.process_time()
            pipe.process(Frame(image, i, i * 33.3))
            lat.append((time.perf_counter() - t) * 1e3)
            cpu.append((time.process_time() - c) * 1e3)
    lat, cpu = lat[WARMUP_FRAMES:], cpu[WARMUP_FRAMES:]
    print(f"{video}: median {statistics.median(lat):.1f} ms, p95 {np.percentile(lat, 95):.1f} ms;"
          f" CPU median {statistics.median(cpu):.1f} ms")


def cmd_latency(a: argparse.Namespace, work: Path) -> None:
    print(f"load {load()}")
    one = video_or_generated(a.video_1face, work, replace(ONE_FACE, frames=a.frames))
    four = video_or_generated(a.video, work, replace(FOUR_FACES, frames=a.frames))
    for video in (one, four):
        live_latency(video, a.latency_frames)


# --- session options ---------------------------------------------------------------------


@dataclass(frozen=True)
class SessionChoice:
    level: str  # an onnxruntime.GraphOptimizationLevel name
    arena: bool = True
    threads: int = 1
    spin: bool = False


SESSION_CHOICES = (
    SessionChoice("ORT_ENABLE_ALL"),
    SessionChoice("ORT_ENABLE_EXTENDED"),
    SessionChoice("ORT_ENABLE_ALL", arena=False),
)


def session_options(choice: SessionChoice) -> Any:
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = choice.threads
    o.inter_op_num_threads = 1
    o.graph_optimization_level = getattr(ort.GraphOptimizationLevel, choice.level)
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.enable_cpu_mem_arena = choice.arena
    o.add_session_config_entry("session.intra_op.allow_spinning", "1" if choice.spin else "0")
    o.log_severity_level = 3
    return o


def batch_ms(model: Path, opts: Any, batch: int, calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the CPU ms per call of a ``batch``-face input.

    ``thread_time``: with one intra-op thread onnxruntime computes on the calling thread, so
    other processes' load and this process's other threads do not count.
    """
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), sess_options=opts,
                                providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [batch] + [d if isinstance(d, int) else 1 for d in inp.shape[1:]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(10):
        sess.run(None, {inp.name: x})
    out = []
    for _ in range(repeats):
        t = time.thread_time()
        for _ in range(calls):
            sess.run(None, {inp.name: x})
        out.append((time.thread_time() - t) / calls * 1e3)
    return statistics.median(out)


def cmd_session_options(a: argparse.Namespace, work: Path) -> None:
    model = a.model or Path(default_model_path())
    for c in SESSION_CHOICES:
        opts = session_options(c)
        b4 = batch_ms(model, opts, 4, a.calls_4, a.repeats)
        b64 = batch_ms(model, opts, 64, a.calls_64, a.repeats)
        print(f"threads={c.threads} level={c.level} arena={c.arena} spin={int(c.spin)}: "
              f"b4 {b4:.2f} ms, b64 {b64:.1f} ms = {64 / b64 * 1e3:.0f} faces/s")


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

    s = sub.add_parser("encoders", parents=[media], help="video encoders: CPU ms per frame")
    s.set_defaults(run=cmd_encoders)

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

    s = sub.add_parser("session-options", help="onnxruntime session options, classifier")
    s.add_argument("--model", type=Path, help="emotion model .onnx (default: the bundled one)")
    s.add_argument("--repeats", type=int, default=7)
    s.add_argument("--calls-4", type=int, default=200, help="calls per repeat at batch 4")
    s.add_argument("--calls-64", type=int, default=20, help="calls per repeat at batch 64")
    s.set_defaults(run=cmd_session_options)
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
