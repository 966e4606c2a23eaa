"""``emocam process``: the run loop. It reads a video, an image or a folder of images,
runs the pipeline on each frame and hands the results to the run's writers.

What the outputs are called and the checks before a run are ``emocam.outputs``; writing them
as one locked set is ``emocam.output_set``; the writers are ``emocam.run_sinks``.

A run stopped by Ctrl-C, SIGTERM or SIGHUP finishes the current frame, then closes every
output so the CSV is valid, the video plays and the summary says ``completed: false``.
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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm import tqdm

from emocam.encoders import DEFAULT_VIDEO_CODEC
from emocam.errors import STOP_SIGNALS, SourceError, UserError
from emocam.output_set import OutputSet
from emocam.outputs import (
    OutputPlan,
    OutputRequest,
    RunFacts,
    make_folder,
    output_base,
    plan_for,
)
from emocam.overlay import OverlayOptions
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.run_sinks import RunDescription, RunSinks, open_sinks
from emocam.sources import ImageFolderSource, ImageSource, Source, open_source
from emocam.types import Frame, FrameAnalyser

log = logging.getLogger(__name__)


# A file that gives no frame for this long (a hung network drive) ends the run with an error
# instead of a hang; the results so far are kept.
READ_STALL_TIMEOUT_S = 60.0


class NoFacesFound(UserError):
    """The run finished but no frame had a face (the outputs are kept: ``outputs``)."""

    def __init__(self, message: str, outputs: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.outputs = dict(outputs or {})


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
    sidecar: Path | None = None  # the sidecar's name (default: beside the CSV, NAME.emocam.npz)
    overwrite: bool = False
    progress: bool = True
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    overlay: OverlayOptions = field(default_factory=OverlayOptions)
    # Called after each frame with (frames done, total or None); returning True stops the
    # run after that frame, as Ctrl-C does (the GUI's Cancel button).
    on_frame: Callable[[int, int | None], bool] | None = None


    def request(self) -> OutputRequest:
        """The outputs asked for, as ``emocam.outputs`` plans them."""
        return OutputRequest(
            outdir=self.outdir, output_video=self.output_video, csv=self.csv, json=self.json,
            sidecar=self.sidecar, no_video=self.no_video, no_frames=self.no_frames,
            no_sidecar=self.no_sidecar, overwrite=self.overwrite,
        )


@dataclass
class ProcessResult:
    completed: bool
    frames: int
    frames_with_faces: int
    fps: float
    outputs: dict[str, str]


# --- inputs and outputs ----------------------------------------------------------------


def _input_kind(source: Source, path: Path) -> tuple[str, list[Path]]:
    if isinstance(source, ImageFolderSource):
        return "folder", list(source.files)
    if isinstance(source, ImageSource):
        return "image", [path]
    return "video", []


def plan_outputs(opts: ProcessOptions, source: Source) -> OutputPlan:
    """Decide every output path and refuse unsafe ones before anything is written."""
    src = opts.input
    kind, images = _input_kind(source, src)
    if opts.outdir is not None:
        make_folder(opts.outdir)
    base = output_base(src, opts.outdir, kind == "folder")
    return plan_for(opts.request(), kind, images, base, src, sound=sound_wanted(opts))


def sound_wanted(opts: ProcessOptions) -> bool:
    """Whether a video's annotated copy gets the source's sound under these options."""
    # Blurring faces or hiding the picture is for privacy, and a voice identifies as a face does.
    return not (opts.no_audio or opts.overlay.blur_faces or opts.overlay.boxes_only)


def describe_run(opts: ProcessOptions) -> RunDescription:
    return RunDescription(str(opts.input), opts.pipeline, opts.overlay, opts.video_codec,
                          source_path=str(opts.input.resolve()))


# --- interruption -----------------------------------------------------------------------


class _Stop:
    requested = False


@contextmanager
def _graceful_stop() -> Iterator[_Stop]:
    """While inside, the first Ctrl-C, SIGTERM or SIGHUP asks the loop to stop after this
    frame; a second one interrupts at once."""
    stop = _Stop()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        log.warning("stopping after this frame (%s)", signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread; a worker stops via on_frame
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, *STOP_SIGNALS)}
    for s in old:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --- running ----------------------------------------------------------------------------


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


def _frames(source: Source, kind: str, stack: ExitStack) -> Iterator[Frame]:
    if kind != "video":
        return iter(source)  # photos: nothing to gain from reading ahead
    frames = _prefetch(iter(source), str(getattr(source, "path", source.name)))
    stack.callback(frames.close)  # stop the reader before the source closes
    return frames


def _loop(
    frames: Iterator[Frame], pipeline: FrameAnalyser, sinks: RunSinks, opts: ProcessOptions,
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
        outset = stack.enter_context(OutputSet(plan, opts.overwrite))
        frames = _frames(source, plan.kind, stack)
        facts = RunFacts(source.fps if plan.kind == "video" else None, source.frame_count,
                         source.size)
        pipeline = stack.enter_context(Pipeline(opts.pipeline))
        result = run_frames(opts, outset, frames, facts, pipeline, describe_run(opts), stack)
    return check_result(result, src)


def run_frames(
    opts: ProcessOptions, outset: OutputSet, frames: Iterator[Frame], facts: RunFacts,
    pipeline: FrameAnalyser, desc: RunDescription, stack: ExitStack,
) -> ProcessResult:
    """Write every frame's results to the planned outputs (a run or a re-analysis); the
    caller's ``stack`` closes them, and ``outset`` puts the set in place when it completed."""
    sinks = open_sinks(outset.plan, outset.writing, desc, pipeline, facts, stack)
    summary = sinks.summary
    bar = stack.enter_context(
        tqdm(
            total=facts.frame_count, unit="frame", file=sys.stderr,
            disable=not opts.progress, dynamic_ncols=True, smoothing=0.1,
            desc=opts.input.name[:30],
        )
    )
    completed = False
    t0 = time.perf_counter()
    try:
        completed = _loop(frames, pipeline, sinks, opts, facts.frame_count, bar)
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
        outset.frames = summary.frames
        sinks.finish(completed, fps_achieved=round(fps, 2), elapsed_s=round(elapsed, 3))
        outset.completed = completed
    # A stopped run that was to replace an old set: its results are under the partial names.
    where = outset.plan if completed else outset.writing
    return ProcessResult(completed, summary.frames, summary.frames_with_faces, fps,
                         where.outputs())


def check_result(result: ProcessResult, src: Path) -> ProcessResult:
    """A run that completed without a decodable frame, or without a face, is an error the
    user hears of; its outputs are in place by now."""
    if result.completed and result.frames == 0:
        raise SourceError(f"The input {src} has no frame that could be decoded; it may be corrupt.")
    if result.completed and result.frames_with_faces == 0:
        raise NoFacesFound(
            f"No face was found in any of the {result.frames} frame(s) of {src} (the outputs "
            "were still written); try --detector opencv or an input where faces are visible.",
            result.outputs,
        )
    return result
