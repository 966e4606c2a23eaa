"""``emocam process``: the run loop. It reads a video, an image or a folder of images,
runs the pipeline on each frame and hands the results to the run's writers.

What the outputs are called and the checks before a run are ``emocam.outputs``; writing them
as one locked set is ``emocam.output_set``; the writers are ``emocam.run_sinks``; reading
ahead is ``emocam.readahead``, and stopping on a signal ``emocam.stopping``.

A run stopped by Ctrl-C, SIGTERM or SIGHUP finishes the current frame, then closes every
output so the CSV is valid, the video plays and the summary says ``completed: false``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from emocam.detect import MIN_FACE_PX, other_detector
from emocam.encoders import DEFAULT_VIDEO_CODEC
from emocam.errors import OutputError, SourceError, UserError, count_text
from emocam.input_kinds import input_kind
from emocam.inputs import utf8_named
from emocam.output_set import OutputSet
from emocam.outputs import (
    OutputPlan,
    OutputRequest,
    RunFacts,
    check_request,
    folder_for_plan,
    output_base,
    plan_for,
)
from emocam.overlay import OverlayOptions
from emocam.photo_folder import ImageFolderSource
from emocam.photo_source import ImageSource
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.progress import Count, progress_bar
from emocam.read_notes import ReadNotes
from emocam.readahead import read_ahead
from emocam.run_sinks import RunDescription, RunSinks, open_sinks
from emocam.source_base import Source
from emocam.sources import open_source
from emocam.staging import writes_in_place
from emocam.stopping import HeldSignals, Stop, graceful_stop
from emocam.stream import StreamTarget
from emocam.types import Frame, FrameAnalyser
from emocam.video_source import VideoSource, frames_expected_in

log = logging.getLogger(__name__)




class NoFacesFound(UserError):
    """The run finished but no frame had a face (the outputs are kept: ``outputs``)."""

    def __init__(self, message: str, outputs: dict[str, str] | None = None,
                 frames: int = 0, stopped_after: str = "") -> None:
        super().__init__(message)
        self.outputs = dict(outputs or {})
        self.frames = frames
        self.stopped_after = stopped_after  # as ProcessResult's: nothing more is to start


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
    no_report: bool = False  # no NAME.emocam.html
    sidecar: Path | None = None  # the sidecar's name (default: beside the CSV, NAME.emocam.npz)
    # False where the caller writes a whole set (the app's Export): messages then do not
    # suggest --no-sidecar, which it has no way to give.
    sidecar_optional: bool = True
    overwrite: bool = False
    progress: bool = True
    # The bar's words before its count; "" is the input's name. Among several inputs run one
    # at a time, which of them it is (emocam.batch_progress.going_text).
    progress_text: str = ""
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    overlay: OverlayOptions = field(default_factory=OverlayOptions)
    # Called after each frame with the bar's count and its total (None: unknown), as
    # ``count_of`` counts (a folder's photos, every one of them); returning True stops the
    # run after that frame, as Ctrl-C does (the GUI's Cancel button).
    on_frame: Callable[[int, int | None], bool] | None = None
    stream: tuple[StreamTarget, ...] = ()  # live feeds (--stream): OSC, WebSocket
    # Told, in one sentence each, where the live feeds go once they are open (the CLI
    # prints it: a WebSocket feed's page address is what a user opens).
    on_stream_open: Callable[[str], None] | None = None

    def request(self) -> OutputRequest:
        """The outputs asked for, as ``emocam.outputs`` plans them."""
        return OutputRequest(
            outdir=self.outdir, output_video=self.output_video, csv=self.csv, json=self.json,
            sidecar=self.sidecar, no_video=self.no_video, no_frames=self.no_frames,
            no_sidecar=self.no_sidecar, no_report=self.no_report, overwrite=self.overwrite,
        )


@dataclass
class ProcessResult:
    completed: bool
    frames: int
    frames_with_faces: int
    fps: float
    outputs: dict[str, str]
    streams: list[dict[str, Any]] = field(default_factory=list)  # each live feed's counts
    ended_early: str = ""  # what of the input could not be read (the source's sentence)
    # A folder's photos not read: those that could not be, and those left out for their names.
    photos_skipped: int = 0
    # A stop signal that came while the outputs of a completed run were closed (its name):
    # the outputs are complete, and nothing more is to be started.
    stopped_after: str = ""
    unit: str = "frame"  # what ``frames`` counts: "photo" of a photo or a folder (count_of)


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
    check_request(opts.request())
    with folder_for_plan(opts.outdir):
        base = output_base(src, opts.outdir, kind == "folder")
        return plan_for(opts.request(), kind, images, base, src, sound=sound_wanted(opts),
                        resumable=True)


def sound_wanted(opts: ProcessOptions) -> bool:
    """Whether a video's annotated copy gets the source's sound under these options."""
    # Blurring faces or hiding the picture is for privacy, and a voice identifies as a face does.
    return not (opts.no_audio or opts.overlay.blur_faces or opts.overlay.boxes_only)


def describe_run(opts: ProcessOptions) -> RunDescription:
    return RunDescription(str(opts.input), opts.pipeline, opts.overlay, opts.video_codec,
                          source_path=str(opts.input.resolve()), no_frames=opts.no_frames,
                          sidecar_optional=opts.sidecar_optional)


# --- running ----------------------------------------------------------------------------


def _frames(source: Source, kind: str, stack: ExitStack) -> Iterator[Frame]:
    if kind != "video":
        return iter(source)  # photos: nothing to gain from reading ahead
    frames = read_ahead(iter(source), str(getattr(source, "path", source.name)))
    stack.callback(frames.close)  # stop the reader before the source closes
    return frames


def count_of(source: Source) -> Count:
    """What the bar of a run of ``source`` counts: a folder's photos, else frames."""
    if isinstance(source, ImageFolderSource):
        return Count(source.photos, "photo", before=source.left_out, by_place=True)
    if isinstance(source, VideoSource):
        return Count(source.frames_expected)
    if isinstance(source, ImageSource):
        return Count(source.frame_count, "photo")
    return Count(source.frame_count)


def recorded_count(kind: str, files: list[str], notes: ReadNotes) -> Count:
    """What the bar of a re-analysis counts, as ``count_of`` counted the run it replays: a
    folder's photos, every photo of it as its summary counted them (those recorded and those
    the run could not read, ``notes``; a photo left out for its name is counted at the end),
    else the recorded frames (``files``: each frame's photo, "" for a video's)."""
    if kind == "folder":
        return Count(len(dict.fromkeys([*files, *notes.skipped])), "photo", by_place=True)
    return Count(len(files), "photo" if kind == "image" else "frame")


def share_of(src: Path) -> int:
    """What ``count_of`` would count of the input at ``src`` (0 when unknown), found without
    opening it as a run does: a batch's bar adds up its inputs' before any has started."""
    if src.is_dir():
        from emocam.photo_folder import photo_files

        return len(photo_files(src))  # ImageFolderSource.photos: those left out for names too
    if not utf8_named(src):
        return 0  # OpenCV ends the process on such a name; its run says why it is refused
    if input_kind(src) == "image":
        return int(src.is_file())  # one photo; none of one that is not there (refused)
    return frames_expected_in(src) or 0


def unit_of(src: Path) -> str:
    """What ``count_of`` counts of the input at ``src``, in words: "photo" or "frame"."""
    return "photo" if src.is_dir() or input_kind(src) == "image" else "frame"


def _loop(
    frames: Iterator[Frame], pipeline: FrameAnalyser, sinks: RunSinks, opts: ProcessOptions,
    bar: tqdm, stop: Stop, count: Count,
) -> bool:
    """Process every frame; False when stopped early (signal, Cancel)."""
    with graceful_stop(stop) as stop:
        if stop.requested:  # during the run's set-up
            log.warning("%s received: stopping", stop.signal_name)
            return False
        for frame in frames:
            sinks.write(frame, pipeline.process(frame))
            shown = count.at(sinks.summary.frames, frame.index)
            bar.update(shown - bar.n)
            # The app's Export window and a batch's bar count as this bar does.
            if opts.on_frame is not None and opts.on_frame(shown, count.total):
                stop.requested = True
            if stop.requested:
                if stop.signal_name:
                    log.warning("%s received: stopping", stop.signal_name)
                return False
    return True


def load_for(opts: ProcessOptions) -> None:
    """Import now the libraries the run would load on its way (the detector's, the report's
    plotting): the command does it under ``stopping.ends_at_once``, so that a Ctrl-C in the
    seconds MediaPipe takes to import ends the command cleanly, before anything is written."""
    from emocam.detect import load_libraries

    load_libraries(opts.pipeline.detector)
    if not opts.no_report:
        from emocam.report_plots import load_plotting

        load_plotting()


def run_process(opts: ProcessOptions) -> ProcessResult:
    """Process one input; raises UserError subclasses for problems the user can fix."""
    src = opts.input
    stop = Stop()
    with ExitStack() as stack:
        held = stack.enter_context(HeldSignals())  # first in, last out: see run_frames
        # During the set-up a Ctrl-C asks the run to stop, as in its loop (not during the
        # closing of the outputs, which must end whole): the default handler's
        # KeyboardInterrupt could land inside a library's set-up (onnxruntime's, MediaPipe's)
        # and be lost there, and the run went on to the end.
        with graceful_stop(stop):
            # Path, not str: a file named "0" is a file, not camera 0.
            source = stack.enter_context(open_source(Path(src)))
            if source.is_live:
                raise SourceError(f"{src} is a camera; `emocam process` takes files and "
                                  "folders.")
            plan = plan_outputs(opts, source)
            outset = stack.enter_context(OutputSet(plan, opts.overwrite))
            frames = _frames(source, plan.kind, stack)
            video = plan.kind == "video"
            facts = RunFacts(source.fps if video else None, source.frame_count, source.size,
                             source.video_fps if video else None, source.pixel_aspect,
                             source.first_frame_ms)
            pipeline = stack.enter_context(Pipeline(opts.pipeline))
        result = run_frames(opts, outset, frames, facts, pipeline, describe_run(opts), stack,
                            stop, held, said_of_input=source.read_notes,
                            count=count_of(source))
        result.ended_early = source.ended_early
        if isinstance(source, ImageFolderSource):
            result.photos_skipped = source.skipped + source.left_out
    result.stopped_after = result.stopped_after or held.late
    other = other_detector(opts.pipeline.detector)
    return check_result(result, src, f"faces much smaller than {MIN_FACE_PX:.0f} px, turned "
                        f"away or covered may be missed; try the other detector (--detector "
                        f"{other}, or View > Detector in the app), or an input where faces are "
                        "larger and in view")


def run_frames(
    opts: ProcessOptions, outset: OutputSet, frames: Iterator[Frame], facts: RunFacts,
    pipeline: FrameAnalyser, desc: RunDescription, stack: ExitStack, stop: Stop | None = None,
    held: HeldSignals | None = None, said_of_input: Callable[[], ReadNotes] = ReadNotes,
    count: Count | None = None,
) -> ProcessResult:
    """Write every frame's results to the planned outputs (a run or a re-analysis); the
    caller's ``stack`` closes them, and ``outset`` puts the set in place when it completed.
    ``stop``: the caller's set-up's, whose requests the loop honours. ``held``: entered
    first in ``stack``; it holds signals from the loop's end, while the outputs close.
    ``count``: what the bar counts (default: the input's frames, ``facts.frame_count``)."""
    stop = stop or Stop()
    count = count or Count(facts.frame_count)
    with graceful_stop(stop):
        sinks = open_sinks(outset.plan, outset.writing, desc, pipeline, facts, stack,
                           streams=opts.stream)
        for feed in sinks.streams:
            (opts.on_stream_open or log.info)(feed.describe())
        bar = stack.enter_context(
            progress_bar(count.total, opts.progress_text or opts.input.name[:30],
                         opts.progress, unit=count.unit,
                         initial=count.before))
    summary = sinks.summary
    stopped_by: OutputError | None = None
    completed = False
    failed = True  # until the loop ends or is stopped: an error is then on its way
    t0 = time.perf_counter()
    try:
        completed = _loop(frames, pipeline, sinks, opts, bar, stop, count)
        failed = False
    except KeyboardInterrupt:
        completed = failed = False
    except OutputError as e:
        if not summary.frames:
            raise
        # An output refused mid-run (a full disk) ends it: the others are cut short too,
        # which is said once they are closed and it is known whether the summary fit.
        stopped_by = e
    except SourceError as e:
        failed = False  # the input broke, not the outputs: the report is still written
        if not summary.frames:
            raise  # before any frame: no set is kept (OutputSet), so nothing to speak of
        # The input broke mid-way: say so, and that nothing processed was lost.
        raise SourceError(
            f"{str(e).rstrip('.')} (the results of the {count_text(summary.frames, count.unit)} "
            "before it were saved)."
        ) from e
    finally:
        if held is not None:
            held.hold()  # from here the outputs close: a Ctrl-C waits for them
        elapsed = time.perf_counter() - t0
        fps = summary.frames / elapsed if elapsed > 0 else 0.0
        if completed and bar.total is not None and bar.n != bar.total:
            # A video's count was the container's estimate (Matroska, damage already warned
            # of), a folder's last photos could not be read: a run that read its input to
            # the end shows as done, in the summary's count.
            bar.n = bar.total = count.at_end(bar.n)
            bar.refresh()
        bar.close()
        outset.frames = summary.frames
        # What of the input could not be read (a video cut short, photos skipped): in the
        # summary and the sidecar too, not only on the terminal, where a batch or a script
        # does not look.
        sinks.finish(completed, failed, said_of_input(), fps_achieved=round(fps, 2),
                     elapsed_s=round(elapsed, 3))
        outset.completed = completed
    if stopped_by is not None:
        raise OutputError(stopped_sentence(stopped_by, sinks, count.unit)) from stopped_by
    # A stopped run that was to replace an old set: its results are under the partial names.
    where = outset.plan if completed else outset.writing
    result = ProcessResult(completed, summary.frames, summary.frames_with_faces, fps,
                           where.outputs(), sinks.stream_stats, unit=count.unit)
    if completed and stop.requested:
        # Asked for after the last frame was read, before the outputs closed (HeldSignals
        # holds from there): the run is complete, and nothing more is to start.
        result.stopped_after = stop.signal_name
    return result


def stopped_sentence(error: OutputError, sinks: RunSinks, unit: str = "frame") -> str:
    """What a user is told of a run an output's error stopped mid-way (a full disk): that
    error, the frames (``unit``: photos of a photo run) the outputs hold, and, when the disk
    had no room left even for the summary, that none was written and which files are cut
    short."""
    said = (f"{str(error).rstrip('.')}; the run stopped after "
            f"{count_text(sinks.summary.frames, unit)}, so its outputs are not complete")
    if sinks.summary_written:
        short = ", and its summary was written without the faces' statistics, for want of room"
        return f"{said}{short if sinks.summary.faces_left_out else ''}."
    # A device or pipe given as an output (--csv /dev/null) holds nothing to be cut short.
    left = [Path(p).name for kind, p in sinks.plan.outputs().items()
            if kind != "json" and os.path.exists(p) and not writes_in_place(Path(p))]
    cut = f": {' and '.join(left)} {'is' if len(left) == 1 else 'are'} cut short" if left else ""
    return f"{said}, and no summary could be written to the full disk{cut}."


def _in_frames(n: int) -> str:
    return "the one frame" if n == 1 else f"any of the {n} frames"


def check_result(result: ProcessResult, src: Path, what_to_do: str) -> ProcessResult:
    """A run that completed without a decodable frame, or without a face, is an error the
    user hears of; its outputs are in place by now. ``what_to_do``: the advice when no face
    was found, which depends on what looked for them."""
    if result.completed and result.frames == 0:
        raise SourceError(f"The input {src} has no frame that could be decoded; it may be corrupt.")
    if result.completed and result.frames_with_faces == 0:
        raise NoFacesFound(
            f"No face was found in {_in_frames(result.frames)} of {src} (the outputs were "
            f"still written); {what_to_do}.",
            result.outputs, result.frames, result.stopped_after,
        )
    return result
