"""Speed (and, with --data, accuracy) of emocam beside the `fer` package; writes docs/BENCHMARKS.md.

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
import statistics
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
from soak import SoakResult
from timing import Stats, load, machine

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
SOAK_VIDEO = "720p, 4 faces"
# The peer runs inside "e2e" (same videos, same invocation) and inside "accuracy".
PARTS = ("classifier", "detector", "e2e", "governed", "latency", "memory", "accuracy")


@dataclass
class Settings:
    repeats: int = 5
    video_frames: int = 300  # 10 s at 30 fps
    soak_frames: int = 10000
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
            res.soak = run_soak(videos[SOAK_VIDEO], s.soak_frames)
        if s.data and "accuracy" in s.parts:
            section(res, "accuracy")
            res.accuracy, res.accuracy_notes = accuracy.run(s.data, model, py, tmp)
        res.loads["end"] = load()
    return res


# ---------------------------------------------------------------------------------------------
# Report


def _ratio(a: Stats, b: float) -> str:
    return f"{a.median / b:.1f}x" if b > 0 else "n/a"


NOT_RUN = "Not run (see `--only`)."


def classifier_md(res: Results) -> str:
    if not res.classifier:
        return NOT_RUN
    f = res.flops
    q = {r.batch: r for r in res.classifier_int8}
    q2 = {r.batch: r for r in res.classifier_int8_2t}
    lines = ["| batch | ms per call | faces/s | int8 variant: ms per call | int8 faces/s | "
             "int8 on both cores: ms per call |",
             "|---|---|---|---|---|---|"]
    for r in res.classifier:
        i8, i8_2 = q.get(r.batch), q2.get(r.batch)
        both = i8_2.ms_per_call.fmt(2) if i8_2 else "as before" if r.batch >= WIDE_BATCH else "-"
        lines.append(f"| {r.batch} | {r.ms_per_call.fmt(2)} | {r.faces_per_s.fmt(0)} | "
                     f"{i8.ms_per_call.fmt(2) if i8 else '-'} | "
                     f"{i8.faces_per_s.fmt(0) if i8 else '-'} | {both} |")
    if f is not None:
        top = max(res.classifier, key=lambda r: r.faces_per_s.median)
        where = "one thread" if top.batch < WIDE_BATCH else "all cores"
        lines += ["", f"Per face: {f.macs / 1e6:.1f} M multiply-adds = {f.flops / 1e6:.1f} M "
                  f"FLOPs (Conv/Gemm/MatMul MACs x 2, counted from the ONNX graph by "
                  f"`benchmarks/flops.py`), {f.parameters:,} stored parameters. At the best "
                  f"batch ({top.batch}, {where}) the float model runs "
                  f"{top.faces_per_s.median * f.flops / 1e9:.1f} GFLOP/s."]
    return "\n".join(lines)


def detector_md(res: Results) -> str:
    if not res.detector:
        return NOT_RUN
    lines = ["| detector | video | ms/frame | faces found per frame |", "|---|---|---|---|"]
    lines += [f"| {r.detector} | {r.video} | {r.ms_per_frame.fmt()} | "
              f"{r.faces_found:.2f} of {r.faces_present} |" for r in res.detector]
    return "\n".join(lines)


def e2e_md(res: Results) -> str:
    if not res.e2e:
        return NOT_RUN
    lines = ["| video | frames | fps (whole command) | fps once running | start-up + close, s | "
             "`Pipeline.process` loop fps | loop CPU ms/frame | faces reported per frame |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.video} | {r.frames} | {r.process.whole_fps.fmt()} | "
              f"{r.process.running_fps.fmt()} | {r.process.startup_s.fmt(2)} | "
              f"{r.loop.fps.fmt()} | {r.loop.cpu_ms_per_frame.fmt()} | "
              f"{r.loop.faces_per_frame:.2f} of {r.faces_present} |" for r in res.e2e]
    return "\n".join(lines)


def peer_md(res: Results) -> str:
    rows = [r for r in res.e2e if r.peer is not None]
    if not rows:
        return "Not run (`--skip-peer`)." if res.e2e else NOT_RUN
    v = res.peer_versions
    lines = [
        f"fer {v.get('fer')} (TensorFlow {v.get('tensorflow')}, OpenCV {v.get('opencv')}) "
        "in its own venv, `FER(mtcnn=False)` (Haar cascade detector, the quantized .tflite "
        "classifier it uses by default), on the same videos in the same invocation.",
        "",
        "| video | emocam process fps | fer `Video.analyze` fps | emocam/fer | emocam loop "
        "fps | fer `detect_emotions` loop fps | emocam/fer | faces reported per frame emocam "
        "/ fer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r.peer
        if p is None:
            continue
        # Both whole-command figures include start-up: fer's is paid once per command.
        analyze = Stats.of([p.frames / (s + t) for s, t in zip(p.startup_s, p.analyze_s,
                                                                 strict=True)])
        loop = Stats.of([p.frames / t for t in p.loop_s])
        lines.append(
            f"| {r.video} | {r.process.whole_fps.fmt()} | {analyze.fmt()} | "
            f"{_ratio(r.process.whole_fps, analyze.median)} | {r.loop.fps.fmt()} | {loop.fmt()} | "
            f"{_ratio(r.loop.fps, loop.median)} | {r.loop.faces_per_frame:.2f} / "
            f"{p.faces_per_frame:.2f} of {r.faces_present} |")
    startups = ", ".join(f"{statistics.median(r.peer.startup_s):.1f}" for r in rows if r.peer)
    lines += [
        "",
        "`Video.analyze` fps = frames / (fer's start-up + analyze), the same footing as the "
        "whole `emocam process` command; it writes the annotated video and CSV, with "
        "`save_frames=False` (fer's default also writes and zips a JPEG per frame, which "
        f"emocam does not). fer start-up (TensorFlow import, FER(), first call; median per "
        f"video): {startups} s. The loops run on frames decoded beforehand: `Pipeline.process` "
        "(emocam's file settings) against `FER.detect_emotions`. The two tools take turns, "
        "one run each (emocam's command, emocam's loop, then fer's worker), so a slow stretch "
        "of the machine falls on both rather than on one; each emocam run follows a fer run, "
        "and on this shared machine a run right after a minute of full load was up to 15% "
        "slower.",
    ]
    return "\n".join(lines)


def governed_md(res: Results) -> str:
    if not res.governed:
        return NOT_RUN
    fer = {r.video: r.peer for r in res.e2e if r.peer is not None}
    lines = ["| video | default: whole command fps | once running | `--target-fps` whole "
             "command fps | once running | against `fer` `Video.analyze` | faces kept | "
             "same top label | box IoU with the default's | face ids (default) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res.governed:
        p = fer.get(r.video)
        peer = "n/a"
        if p is not None:
            analyze = statistics.median(
                p.frames / (s + t) for s, t in zip(p.startup_s, p.analyze_s, strict=True))
            peer = _ratio(r.governed.whole_fps, analyze)
        lines.append(
            f"| {r.video} | {r.default.whole_fps.fmt()} | {r.default.running_fps.fmt()} | "
            f"{r.governed.whole_fps.fmt()} | {r.governed.running_fps.fmt()} | {peer} | "
            f"{_pct(r.faces_kept)} | {_pct(r.label_agreement)} | {r.box_iou.fmt(3)} | "
            f"{r.face_ids} ({r.default_face_ids}) |")
    return "\n".join(lines)


def _pct(s: Stats) -> str:
    return Stats(s.median * 100, s.lo * 100, s.hi * 100, s.n).fmt(1) + "%"


def latency_md(res: Results) -> str:
    if not res.latency:
        return NOT_RUN
    lines = ["| video | median ms | 95th percentile ms |", "|---|---|---|"]
    lines += [f"| {r.video} | {r.median_ms:.1f} | {r.p95_ms:.1f} |" for r in res.latency]
    return "\n".join(lines)


def memory_md(res: Results) -> str:
    s = res.soak
    if s is None:
        return NOT_RUN
    (wf, wm), (ef, em) = s.warm, s.rss_mib[-1]
    return (f"{s.frames} frames of the {SOAK_VIDEO} video (its first {s.clip_frames} frames "
            f"looped, {s.clip_mib:.0f} MiB of decoded frames held by the harness) through "
            f"`Pipeline.process` in a fresh process: resident memory {wm:.0f} MiB at frame "
            f"{wf}, {em:.0f} MiB at frame {ef} (growth {s.growth_mib:+.1f} MiB, "
            f"{s.growth_per_1000:+.2f} MiB per 1000 frames); peak resident (ru_maxrss, "
            f"start-up included) {s.peak_mib:.0f} MiB.")


def accuracy_md(res: Results) -> str:
    if not res.accuracy:
        return "Not run (give `--data` with FER+ and/or FER2013)."
    lines = ["| test set | protocol | model | images | accuracy | macro-F1 |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r.dataset} | {r.protocol} | {r.model} | {r.images} | "
              f"{r.accuracy * 100:.2f}% | {r.macro_f1 * 100:.2f}% |" for r in res.accuracy]
    lines += ["", accuracy.__doc__.split("\n\n", 1)[1].strip()]
    if res.accuracy_notes:
        lines += ["", "Speed of fer's classifier on the test images (one call per 256 images; "
                  "the .tflite path runs one face per interpreter call): "
                  + "; ".join(res.accuracy_notes) + "."]
    return "\n".join(lines)


def _default_model_name() -> str:
    from emocam.classify import default_model_for

    path = default_model_for(None)
    name = next((n for n, p in builtin_models().items() if p == path), path.name)
    return f"`{name}` ({path.name})"


def render(res: Results) -> str:
    s = res.settings
    loads = "; ".join(f"{k} {v}" for k, v in res.loads.items())
    runs = (f"Figures are medians of {s.repeats} runs with the min-max range in brackets."
            if s.repeats > 1 else "Figures are single runs (no spread).")
    return f"""# Benchmarks

Measured with `{res.command}` on {time.strftime('%Y-%m-%d')}.
Machine: {machine()}.
Load average (1/5/15 min, as `uptime` shows it) at the start of each part: {loads}.
{runs} Videos are made
from real faces by `benchmarks/media.py` ({s.video_frames} frames each, at 30 fps unless the
name says otherwise). CPU execution provider.

## Classifier (shipped model and its int8 variant; 1 thread under 16 faces, all cores from 16)

The app classifies fewer than 16 faces on one thread, because in a running pipeline the
detector's scan and the video encoder need the other core. The last column runs the same
small batches on both cores (two onnxruntime threads), the classifier alone on the machine.

{classifier_md(res)}

## Face detector (per frame; faces found capped at the faces present)

{detector_md(res)}

## End to end: `emocam process VIDEO -o OUT` (decode, detect, classify, draw, encode, CSV)

Default model, which on this CPU is {_default_model_name()}.
Whole-command fps = frames / wall time of the command, start-up included. "Once running" is
the command's own figure in its JSON summary (frames / time from the first frame to the
last: decode, detect, classify, draw, encode and CSV, overlapped on threads); start-up + close
is the rest (interpreter, imports, models, finishing the files). The loop runs
`Pipeline.process` on frames decoded beforehand (detect, crop, classify, track), timed in the
harness.

{e2e_md(res)}

## Against the `fer` package

{peer_md(res)}

## Holding 60 fps on request: `emocam process VIDEO --target-fps 60`

The default command detects every face in every frame and scans for new ones 30 times a
second of video, whatever that costs. `--target-fps 60` lets it look for known faces every
2nd to 4th frame (moving their boxes on at their tracked velocity in between) and scan for
new faces less often, as far as it needs to hold 60 fps; the classifier still runs on every
face in every frame. The two commands take turns on the same video; each `--target-fps` run's
CSV is compared, face by face, with the default run's (which is the same every run): the
share of the default's faces it reports, the share given the same top label, and the median
overlap (IoU) of their boxes. The ratio to `fer` uses the `Video.analyze` figure above.

{governed_md(res)}

## Live-path added latency (detection + alignment + classification + tracking per frame)

{latency_md(res)}

## Memory

{memory_md(res)}

## Accuracy

{accuracy_md(res)}
"""


# ---------------------------------------------------------------------------------------------
# Command line


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
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
