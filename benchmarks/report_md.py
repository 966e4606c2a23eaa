"""docs/BENCHMARKS.md from benchmarks/run.py's ``Results``: one function per section, each a
Markdown table (or "Not run") with the text that says how to read it."""

from __future__ import annotations

import re
import statistics
import time
from typing import TYPE_CHECKING

import accuracy
from timing import Stats, machine

from emocam.classify import WIDE_BATCH
from emocam.resources import builtin_models

if TYPE_CHECKING:  # run.py imports this module to render its results
    from run import Results


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
    return (f"{s.frames} frames of the {res.settings.soak_video} video (its first "
            f"{s.clip_frames} frames looped, {s.clip_mib:.0f} MiB of decoded frames held by the "
            f"harness) through "
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


HAND_MARK = "(added by hand"


def hand_sections(old: str) -> str:
    """The sections of an earlier BENCHMARKS.md whose heading says they were added by hand
    (figures from other commands), so that a new run keeps them instead of dropping them."""
    parts = re.split(r"(?m)^(?=## )", old)
    kept = [part.rstrip("\n") for part in parts if part.startswith("## ")
            and HAND_MARK in part.splitlines()[0]]
    return "".join(f"\n{part}\n" for part in kept)
