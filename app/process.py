"""``emocam process``: run the pipeline over a video, an image or a folder of images and write
an annotated copy, a per-frame CSV and a JSON summary.

A run stopped by Ctrl-C or SIGTERM finishes the current frame, then closes every output so
the CSV is valid, the video plays and the summary says ``completed: false``.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from emocam import __version__
from emocam.encoders import DEFAULT_VIDEO_CODEC
from emocam.errors import OutputError, SourceError, UserError
from emocam.overlay import OverlayOptions, PlacementMemory, draw
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.sidecar import SUFFIX as SIDECAR_SUFFIX
from emocam.sidecar import SidecarWriter
from emocam.sinks import AnnotatedVideoWriter, CsvSink, JsonSummary, check_output
from emocam.sources import ImageFolderSource, ImageSource, Source, open_source
from emocam.types import Frame, FrameAnalyser, FrameResult

log = logging.getLogger(__name__)

SUFFIX = ".emocam"
# A file that gives no frame for this long (a hung network drive) ends the run with an error
# instead of a hang; the results so far are kept.
READ_STALL_TIMEOUT_S = 60.0


class NoFacesFound(UserError):
    """The run finished but no frame had a face (the outputs are kept)."""


@dataclass
class ProcessOptions:
    input: Path
    outdir: Path | None = None
    output_video: Path | None = None  # the annotated video, image or folder of images
    csv: Path | None = None
    json: Path | None = None
    no_video: bool = False
    no_audio: bool = False  # the annotated video without the source's sound
    video_codec: str = DEFAULT_VIDEO_CODEC  # "mp4v" or "h264"
    no_frames: bool = False  # privacy: numbers only (CSV, JSON, sidecar), no image written
    no_sidecar: bool = False  # no NAME.emocam.npz for re-analysis
    overwrite: bool = False
    progress: bool = True
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    overlay: OverlayOptions = field(default_factory=OverlayOptions)
    # Called after each frame with (frames done, total or None); returning True stops the
    # run after that frame, as Ctrl-C does (the GUI's Cancel button).
    on_frame: Callable[[int, int | None], bool] | None = None


@dataclass
class ProcessResult:
    completed: bool
    frames: int
    frames_with_faces: int
    fps: float
    outputs: dict[str, str]


@dataclass
class _Plan:
    kind: str  # "video", "image" or "folder"
    images: list[Path]
    annotated: Path | None
    csv: Path | None
    json: Path
    sidecar: Path | None = None  # the numbers for --reanalyse
    sound: Path | None = None  # the video whose sound the annotated video gets


# --- inputs and outputs ----------------------------------------------------------------


def _input_kind(source: Source, path: Path) -> tuple[str, list[Path]]:
    if isinstance(source, ImageFolderSource):
        return "folder", list(source.files)
    if isinstance(source, ImageSource):
        return "image", [path]
    return "video", []


def plan_outputs(opts: ProcessOptions, source: Source) -> _Plan:
    """Decide every output path and refuse unsafe ones before anything is written."""
    src = opts.input
    kind, images = _input_kind(source, src)
    if opts.outdir is not None:
        if opts.outdir.exists() and not opts.outdir.is_dir():
            raise OutputError(f"The output folder {opts.outdir} is a file; give a folder.")
        try:
            opts.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a parent is a file, read-only media, no permission
            raise OutputError(
                f"The output folder {opts.outdir} cannot be created ({e.strerror or e}); "
                "choose a folder you can write to."
            ) from e
    return plan_for(opts, kind, images, output_base(src, opts.outdir, kind == "folder"), src)


def output_base(src: Path, outdir: Path | None, is_folder: bool) -> Path:
    """``DIR/NAME.emocam``, which every default output of ``src`` extends: beside the input
    or in ``outdir``; a folder is named whole, a file without its extension."""
    stem = src.name if is_folder else src.stem
    return (outdir if outdir is not None else src.parent) / f"{stem}{SUFFIX}"


def plan_for(
    opts: ProcessOptions, kind: str, images: list[Path], base: Path, src: Path,
    annotate: bool = True, sidecar: bool = True,
) -> _Plan:
    """Every output path from a base name (``DIR/NAME.emocam``), checked before anything is
    written. ``annotate=False``: no pixels to draw on (a re-analysis without its video)."""
    if opts.no_frames and opts.output_video is not None:
        raise OutputError("--no-frames writes no image or video; drop --output-video.")
    default_annotated = {
        "video": base.with_name(base.name + ".mp4"),
        "image": base.with_name(base.name + src.suffix.lower()),
        "folder": base,
    }[kind]
    frames_wanted = annotate and not (opts.no_video or opts.no_frames)
    annotated = (opts.output_video or default_annotated) if frames_wanted else None
    csv_path = opts.csv or (base.with_name(base.name + ".csv") if kind != "image" else None)
    json_path = opts.json or base.with_name(base.name + ".json")
    keep_numbers = sidecar and not opts.no_sidecar
    sidecar_path = base.with_name(base.name + SIDECAR_SUFFIX) if keep_numbers else None
    plan = _Plan(kind, images, annotated, csv_path, json_path, sidecar_path)
    if kind == "video" and annotated is not None and sound_wanted(opts):
        plan.sound = src
    _check_plan(plan, src, opts.overwrite)
    return plan


def sound_wanted(opts: ProcessOptions) -> bool:
    """Whether a video's annotated copy gets the source's sound under these options."""
    # Blurring faces or hiding the picture is for privacy, and a voice identifies as a face does.
    return not (opts.no_audio or opts.overlay.blur_faces or opts.overlay.boxes_only)


def _check_plan(plan: _Plan, src: Path, overwrite: bool) -> None:
    inputs = [src, *plan.images]
    files = [p for p in (plan.csv, plan.json, plan.sidecar) if p is not None]
    if plan.annotated is not None:
        if plan.kind == "folder":
            if plan.annotated.resolve() == src.resolve():
                raise OutputError(
                    f"The output folder {plan.annotated} is the input folder; annotated images "
                    "would replace the originals, so choose another folder."
                )
            if plan.annotated.exists() and not plan.annotated.is_dir():
                raise OutputError(f"The output folder {plan.annotated} is a file.")
            files += [plan.annotated / p.name for p in plan.images]
        else:
            files.append(plan.annotated)
    resolved = [p.resolve() for p in files]
    if len(set(resolved)) != len(resolved):
        raise OutputError("Two outputs have the same file name; give each output its own name.")
    for p in files:
        if plan.kind == "folder" and p.parent == plan.annotated and not p.parent.exists():
            continue  # the annotated-images folder is created when the run starts
        check_output(p, inputs, overwrite)


# --- interruption -----------------------------------------------------------------------


class _Stop:
    requested = False


@contextmanager
def _graceful_stop() -> Iterator[_Stop]:
    """While inside, the first Ctrl-C or SIGTERM asks the loop to stop after this frame; a
    second one interrupts at once."""
    stop = _Stop()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        log.warning("stopping after this frame (%s)", signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread; a worker stops via on_frame
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --- running ----------------------------------------------------------------------------


def _write_image(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"The image {path} cannot be encoded; use a .jpg or .png name.")
    buf.tofile(path)


def _prefetch(frames: Iterator[Frame], name: str = "The input", depth: int = 3
              ) -> Iterator[Frame]:
    """Decode ahead on a thread: OpenCV releases the GIL while decoding, so on two cores
    decoding overlaps with detection. The source must hand out a new array per frame."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    done = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not done.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for f in frames:
                if not put(("frame", f)):
                    return
            put(("end", None))
        except BaseException as e:  # handed to the consumer, which raises it
            put(("error", e))

    thread = threading.Thread(target=reader, name="video-reader", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, item = q.get(timeout=READ_STALL_TIMEOUT_S)
            except queue.Empty:
                raise SourceError(
                    f"{name} gave no frame for {READ_STALL_TIMEOUT_S:g} s; check that the "
                    "drive it is on is still connected."
                ) from None
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        done.set()
        thread.join(timeout=2.0)  # a reader stuck in a hung read is a daemon; let it be


def _frames(source: Source, plan: _Plan, stack: ExitStack) -> Iterator[Frame]:
    if plan.kind != "video":
        return iter(source)  # photos: nothing to gain from reading ahead
    frames = _prefetch(iter(source), str(getattr(source, "path", source.name)))
    stack.callback(frames.close)  # stop the reader before the source closes
    return frames


def _outputs(plan: _Plan) -> dict[str, str]:
    out = {"json": str(plan.json)}
    if plan.csv is not None:
        out["csv"] = str(plan.csv)
    if plan.sidecar is not None:
        out["sidecar"] = str(plan.sidecar)
    if plan.annotated is not None:
        out[{"video": "video", "image": "image", "folder": "images"}[plan.kind]] = str(
            plan.annotated
        )
    return out


@dataclass
class _Sinks:
    """Everything one processed frame is written to."""

    plan: _Plan
    summary: JsonSummary
    overlay: OverlayOptions
    csv: CsvSink | None = None
    video: AnnotatedVideoWriter | None = None
    sidecar: SidecarWriter | None = None
    panels: PlacementMemory = field(default_factory=PlacementMemory)  # panels stay put

    def write(self, frame: Frame, result: FrameResult) -> None:
        name = Path(frame.source).name
        if self.csv is not None:
            self.csv.write(result, file=name)
        self.summary.add(result)
        if self.sidecar is not None:
            self.sidecar.add(result, file=name if self.plan.kind == "folder" else "")
        if self.plan.annotated is None:
            return
        if self.video is not None:
            # The frame is ours and done with: the writer paints and encodes it on its thread.
            paint = partial(draw, result=result, options=self.overlay, memory=self.panels)
            self.video.write(frame.image, frame.time_ms, render=paint, owned=True)
            return
        draw(frame.image, result, self.overlay, self.panels)  # in place: the frame is ours
        if self.plan.kind == "folder":
            _write_image(self.plan.annotated / name, frame.image)
        else:
            _write_image(self.plan.annotated, frame.image)


def _sidecar_header(
    opts: ProcessOptions, run_info: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """What a re-analysis needs to know besides the numbers: the settings of this run."""
    quality = asdict(opts.pipeline.quality)
    quality.pop("uncertain_below")  # the resolved value is in run_info
    keep = ("input_kind", "model", "model_path", "provider", "detector", "class_names",
            "smoothing_tau_s", "uncertain_below")
    return {
        **{k: run_info.get(k) for k in keep},
        "source": str(opts.input.resolve()), "fps": facts["fps"],
        "frame_size": list(facts["size"]) if facts.get("size") else None,
        "min_score": opts.pipeline.min_score, "quality": quality,
        "emocam_version": __version__,
    }


def _open_sinks(
    plan: _Plan, opts: ProcessOptions, pipeline: FrameAnalyser, facts: dict[str, Any],
    stack: ExitStack,
) -> _Sinks:
    names = pipeline.class_names
    run_info = {
        "input": str(opts.input), "input_kind": plan.kind, "outputs": _outputs(plan),
        **pipeline.info, "source_fps": facts["fps"],
        "privacy": {
            "frames_written": plan.annotated is not None,
            "blur_faces": opts.overlay.blur_faces, "boxes_only": opts.overlay.boxes_only,
        },
    }
    if plan.kind == "video":
        run_info["privacy"]["source_sound_kept"] = plan.sound is not None
        if plan.annotated is not None:
            run_info["video_codec"] = opts.video_codec
    sinks = _Sinks(plan, JsonSummary(plan.json, names, run_info), opts.overlay)
    if plan.sidecar is not None:
        sinks.sidecar = SidecarWriter(plan.sidecar, _sidecar_header(opts, run_info, facts))
    if plan.annotated is not None and plan.kind == "video":
        sinks.video = stack.enter_context(
            AnnotatedVideoWriter(
                plan.annotated, facts["fps"] or 30.0, facts["size"], sound_from=plan.sound,
                codec=opts.video_codec,
            )
        )
    if plan.annotated is not None and plan.kind == "folder":
        plan.annotated.mkdir(parents=True, exist_ok=True)
    if plan.csv is not None:
        sinks.csv = stack.enter_context(CsvSink(plan.csv, names, with_file=plan.kind == "folder"))
    return sinks


def _loop(
    frames: Iterator[Frame], pipeline: FrameAnalyser, sinks: _Sinks, opts: ProcessOptions,
    total: int | None, bar: tqdm,
) -> bool:
    """Process every frame; False when stopped early (signal, Cancel)."""
    with _graceful_stop() as stop:
        for frame in frames:
            if sinks.plan.kind == "folder":
                pipeline.reset()  # separate photos share no tracks or smoothing
            sinks.write(frame, pipeline.process(frame))
            bar.update(1)
            if opts.on_frame is not None and opts.on_frame(sinks.summary.frames, total):
                stop.requested = True
            if stop.requested:
                return False
    return True


def run_process(opts: ProcessOptions) -> ProcessResult:
    """Process one input; raises UserError subclasses for problems the user can fix."""
    src = opts.input
    with ExitStack() as stack:
        # Path, not str: a file named "0" is a file, not camera 0.
        source = stack.enter_context(open_source(Path(src)))
        if source.is_live:
            raise SourceError(f"{src} is a camera; `emocam process` takes files and folders.")
        plan = plan_outputs(opts, source)
        frames = _frames(source, plan, stack)
        facts = {"fps": source.fps, "frame_count": source.frame_count, "size": source.size}
        if plan.kind != "video":
            facts["fps"] = None
        pipeline = stack.enter_context(Pipeline(opts.pipeline))
        return run_frames(opts, plan, frames, facts, pipeline, stack)


def run_frames(
    opts: ProcessOptions, plan: _Plan, frames: Iterator[Frame], facts: dict[str, Any],
    pipeline: FrameAnalyser, stack: ExitStack,
) -> ProcessResult:
    """Write every frame's results to the planned outputs (a run or a re-analysis); the
    caller's ``stack`` closes them."""
    src = opts.input
    sinks = _open_sinks(plan, opts, pipeline, facts, stack)
    summary = sinks.summary
    bar = stack.enter_context(
        tqdm(
            total=facts["frame_count"], unit="frame", file=sys.stderr,
            disable=not opts.progress, dynamic_ncols=True, smoothing=0.1,
            desc=src.name[:30],
        )
    )
    completed = False
    t0 = time.perf_counter()
    try:
        completed = _loop(frames, pipeline, sinks, opts, facts["frame_count"], bar)
    except KeyboardInterrupt:
        completed = False
    except SourceError as e:
        # The input broke mid-way: say so, and that nothing processed was lost.
        raise SourceError(
            f"{str(e).rstrip('.')} (the results of the {summary.frames} frame(s) before "
            "it were saved)."
        ) from e
    finally:
        elapsed = time.perf_counter() - t0
        fps = summary.frames / elapsed if elapsed > 0 else 0.0
        if completed and bar.total is not None and bar.n < bar.total:
            # The count was the container's estimate (Matroska, damage already warned of):
            # a run that read its source to the end shows as done.
            bar.total = bar.n
            bar.refresh()
        bar.close()
        summary.write(completed, fps_achieved=round(fps, 2), elapsed_s=round(elapsed, 3))
        if sinks.sidecar is not None:
            sinks.sidecar.close(completed)
    result = ProcessResult(
        completed, summary.frames, summary.frames_with_faces, fps, _outputs(plan)
    )
    if completed and summary.frames == 0:
        raise SourceError(f"The input {src} has no frame that could be decoded; it may be corrupt.")
    if completed and summary.frames_with_faces == 0:
        raise NoFacesFound(
            f"No face was found in any of the {summary.frames} frame(s) of {src} (the outputs "
            "were still written); try --detector opencv or an input where faces are visible."
        )
    return result
