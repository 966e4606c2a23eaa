"""emocam's own speed measurements: classifier, detector, `emocam process`, per-frame loop,
live-path latency. Each returns plain data; run.py renders it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from timing import Stats, frame_ms, read_frames, repeat

from emocam.classify import EmotionClassifier
from emocam.geometry import iou_matrix
from emocam.outputs import default_output
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.types import Frame

FRAME_MS = 1000.0 / 30.0
CLASSIFIER_BATCHES = (1, 4, 8, 64)


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
    whole, running, startup = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "emocam", "process", str(video), "-o", str(out),
                        "--overwrite", "--quiet", *extra], check=True, capture_output=True)
        wall = time.perf_counter() - t
        summary = json.loads(default_output(video, out, "json").read_text())
        whole.append(frames / wall)
        running.append(summary["fps_achieved"])
        startup.append(wall - summary["elapsed_s"])
    return ProcessResult(Stats.of(whole), Stats.of(running), Stats.of(startup))


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
    """Time Pipeline.process adds to each frame on the live path (camera settings)."""
    rows = []
    pipe = make_pipeline(live=True)
    for name, path in videos.items():
        pipe.reset()
        lat = []
        for i, f in enumerate(read_frames(path, frames)):
            t = time.perf_counter()
            pipe.process(Frame(f, i, i * FRAME_MS))
            lat.append((time.perf_counter() - t) * 1e3)
        lat = lat[min(10, len(lat) // 4):]  # the first frames pay for warm-up
        rows.append(LatencyRow(name, float(np.median(lat)), float(np.percentile(lat, 95))))
    pipe.close()
    return rows
