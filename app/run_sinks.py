"""The writers of one run, wired from its plan: every processed frame goes to the annotated
copy, the CSV, the JSON summary, the sidecar, the report's series and any live feed
(``--stream``) through ``RunSinks.write``; ``RunSinks.finish`` writes the summary and the
report from it.

``emocam process``, a re-analysis, the app's Export and a live recording all write through
here, so each of them leaves the same complete set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emocam import __version__
from emocam.audio import has_sound
from emocam.csv_sink import CsvSink
from emocam.encoders import DEFAULT_VIDEO_CODEC
from emocam.errors import OutputError
from emocam.fileprint import fingerprint, input_fingerprint
from emocam.outputs import OutputPlan, RunFacts
from emocam.overlay import OverlayOptions, PlacementMemory, draw, draw_as_shown
from emocam.pipeline import PipelineConfig
from emocam.read_notes import ReadNotes
from emocam.report import write_report
from emocam.report_data import ReportCollector
from emocam.sidecar import SidecarWriter
from emocam.staging import no_room, no_space_hint, writes_in_place
from emocam.stream import StreamSink, StreamTarget, open_streams
from emocam.summary import JsonSummary
from emocam.types import DEFAULT_FPS, Frame, FrameAnalyser, FrameResult
from emocam.video_writer import AnnotatedVideoWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDescription:
    """What the summary and sidecar say about a run besides its numbers."""

    source: str  # the input as the user named it (a camera: its name)
    config: PipelineConfig
    overlay: OverlayOptions | None  # None: the frames come already drawn (a live recording)
    video_codec: str = DEFAULT_VIDEO_CODEC
    kind_label: str | None = None  # the input kind to record, when not the plan's ("camera")
    source_path: str | None = None  # the sidecar's: the absolute path a re-analysis reopens
    no_frames: bool = False  # --no-frames: no pixels may ever be written from this run's numbers
    sidecar_optional: bool = True  # False: the app's whole set, with no --no-sidecar to offer


def write_image(path: Path, image: np.ndarray) -> None:
    """``image`` as ``path``'s type; a name of a type OpenCV cannot write (a folder's
    ``a.jfif``, or a JPEG named ``IMG_1.HEIC``) keeps its name and holds a JPEG, as a GIF's
    does (OpenCV 5 writes GIFs, in 256 colours that band a photo; 4.x writes none)."""
    suffix = path.suffix if path.suffix.lower() not in ("", ".gif") else ".jpg"
    suffix = suffix if cv2.haveImageWriter(f"x{suffix}") else ".jpg"
    ok, buf = cv2.imencode(suffix, image)
    if not ok:
        raise OutputError(f"The image {path} cannot be encoded; use a .jpg or .png name.")
    try:
        # Not buf.tofile: its short write names no errno ("117768 requested and 0 written").
        with open(path, "wb") as f:
            f.write(buf.data)
    except OSError as e:
        if not writes_in_place(path):  # a device or pipe is never removed
            with contextlib.suppress(OSError):
                path.unlink()  # a cut-off picture is no result to keep
        why = no_space_hint(no_room(e, path.parent) or e)
        raise OutputError(f"The image {path} could not be written ({why}).") from e


@dataclass
class RunSinks:
    """Everything one processed frame is written to."""

    plan: OutputPlan  # the paths written (partial names while an old set is kept)
    summary: JsonSummary
    overlay: OverlayOptions | None
    frames_owned: bool = True  # the caller gives each frame away: no copy is made
    csv: CsvSink | None = None
    video: AnnotatedVideoWriter | None = None
    sidecar: SidecarWriter | None = None
    panels: PlacementMemory = field(default_factory=PlacementMemory)  # panels stay put
    report: ReportCollector | None = None  # the HTML report's series and thumbnails
    streams: list[StreamSink] = field(default_factory=list)  # live feeds (--stream)
    stream_stats: list[dict[str, Any]] = field(default_factory=list)  # set by finish
    summary_written: bool = True  # set by finish: False when a full disk left no summary

    def write(self, frame: Frame, result: FrameResult) -> None:
        name = Path(frame.source).name
        for stream in self.streams:  # first: a live receiver wants the frame soonest
            stream.send(result, file=name if self.plan.kind == "folder" else "")
        if self.csv is not None:
            self.csv.write(result, file=name)
        self.summary.add(result)
        if self.sidecar is not None:
            if self.plan.kind == "folder":
                self.sidecar.add(result, file=name, print_=fingerprint(frame.source))
            else:
                self.sidecar.add(result)
        if self.report is not None:  # before the overlay is painted on the frame
            self.report.add(frame.image if self.plan.annotated is not None else None, result)
        if self.plan.annotated is None:
            return
        if self.video is not None:
            # The writer paints and encodes on its own thread, off the caller's critical path;
            # an anamorphic picture is painted widened, as the file is written.
            paint = (partial(draw_as_shown, result=result, options=self.overlay,
                             memory=self.panels, aspect=self.video.pixel_aspect)
                     if self.overlay else None)
            self.video.write(frame.image, frame.time_ms, render=paint, owned=self.frames_owned)
            return
        image = frame.image if self.frames_owned else frame.image.copy()
        if self.overlay is not None:
            draw(image, result, self.overlay, self.panels)  # in place: the frame is ours
        if self.plan.kind == "folder":
            write_image(self.plan.annotated / name, image)
        else:
            write_image(self.plan.annotated, image)

    def finish(self, completed: bool, failed: bool = False, notes: ReadNotes | None = None,
               **extra: Any) -> None:
        """End the live feeds, close the video and the sidecar, write the report and, last,
        the final summary (the CSV closes with the stack). ``failed``: an error is on its way
        to the user (a full disk); the report is then left out, as it would only fail after
        it. An output that cannot be finished is the error raised (the first, when the disk
        refuses several). The summary is written whatever happens before it, and names only
        the files written whole; after an error it says the set is not complete, and is cut
        to what the disk has room for (``summary_written`` False: none was). ``notes``:
        what of the input could not be read, said by the summary and kept by the sidecar."""
        notes = notes or ReadNotes()
        self.summary.read_notes = notes
        self.stream_stats = [s.close().as_dict() for s in self.streams]
        if self.stream_stats:
            extra["streams"] = self.stream_stats
        error: OutputError | None = None
        interrupted = False
        lost: set[str] = set()
        try:
            if self.video is not None:
                # Closed here even after a failure, so the summary knows whether the disk cut
                # it short too (its frames are encoded behind the loop's): it was listed as
                # whole with one frame stored of the twelve the CSV and summary held.
                try:
                    self.video.close(failed=failed)
                except OutputError as e:
                    if failed:
                        log.info("%s", e)  # the error on its way says the set is not complete
                    else:
                        error, failed = e, True
                    lost.add("video")
                else:
                    privacy = self.summary.run_info.get("privacy", {})
                    if privacy.get("source_sound_kept") and not self.video.sound_added:
                        privacy["source_sound_kept"] = False  # the sound could not be copied
                if self.video.broken:
                    lost.add("video")  # its write failed mid-run: the error on its way says so
            if self.sidecar is not None:
                try:
                    self.sidecar.close(completed and error is None, notes.as_header())
                except OutputError as e:
                    error = error or e
                    lost.add("sidecar")
            if self.report is not None and self.plan.report is not None:
                if failed or error is not None:
                    lost.add("report")  # left out: it would only fail on the same disk
                else:
                    try:
                        write_report(self.plan.report, self.summary.as_dict(completed, **extra),
                                     self.report)
                    except OutputError as e:
                        error = e
                        lost.add("report")
        except BaseException:
            # Not an output's error (an interrupt, a fault): the numbers so far are kept, and
            # the summary below says the set is not complete.
            if self.sidecar is not None:
                self.sidecar.close(False)  # a second close does nothing
            completed, interrupted = False, True
            raise
        finally:
            if error is not None:
                completed = False  # a --resume or a batch must do this input again
            listed = (self.summary.partial_outputs
                      if self.summary.partial_outputs is not None and not completed
                      else self.summary.run_info.get("outputs", {}))
            if completed:
                extra["output_bytes"] = output_sizes(self.plan)
            else:
                # A stopped run names only what it left: not a sidecar whose chunks a full
                # disk could not join (that failure is only logged), nor the report left out.
                lost |= {k for k, v in listed.items() if k != "json" and not os.path.exists(v)}
            if lost:
                extra["outputs"] = {k: v for k, v in listed.items() if k not in lost}
            if failed or error is not None:
                # The error on its way stays the one said (a disk that refused an output
                # mid-run refuses the summary too, and saying only that hid what stopped the
                # run); the summary is written as the disk has room for, or said to be lost.
                self.summary_written = self.summary.write_stopped(**extra)
            else:
                try:
                    self.summary.write(completed, **extra)
                except OutputError as e:
                    if not interrupted:
                        raise
                    log.info("%s", e)  # the last checkpoint says the set is not complete
        if error is not None:
            raise error


def output_sizes(plan: OutputPlan) -> dict[str, int]:
    """The size of each file of a finished set but its summary, by kind (``csv``,
    ``video``...), as its summary records them: a --resume then knows a set emptied or cut
    since (a CSV saved over by hand, a copy cut short) from a whole one. Devices
    (``/dev/stdout``) and the annotated photos' folder have none."""
    sizes = {}
    for kind, path in plan.outputs().items():
        if kind == "json" or writes_in_place(Path(path)):  # /dev/stdout into a file, say
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            sizes[kind] = st.st_size
    return sizes


def _absolute(path: str) -> str:
    """A path as the summary records it: absolute, links kept (``/dev/stdout`` stays), and a
    camera's name ("Camera 0") as it is."""
    return os.path.abspath(path) if os.path.exists(path) else path


def _absolute_all(paths: dict[str, str]) -> dict[str, str]:
    return {k: os.path.abspath(v) for k, v in paths.items()}


def sidecar_header(desc: RunDescription, run_info: dict[str, Any], facts: RunFacts
                   ) -> dict[str, Any]:
    """What a re-analysis needs to know besides the numbers: the settings of this run."""
    quality = asdict(desc.config.quality)
    quality.pop("uncertain_below")  # the resolved value is in run_info
    # The privacy settings too: a re-analysis must not put back what the run kept out.
    # And the run's files: a re-analysis must not write over them, whatever their names.
    keep = ("input_kind", "model", "model_path", "model_accuracy", "provider", "detector",
            "class_names", "smoothing_tau_s", "target_fps", "uncertain_below", "privacy",
            "outputs", "first_frame_ms")
    kind = run_info.get("input_kind")
    source = desc.source_path or desc.source
    return {
        **{k: run_info.get(k) for k in keep},
        "source": source, "fps": facts.fps, "video_fps": facts.video_fps,
        "pixel_aspect": str(facts.pixel_aspect),
        # A folder's photos have theirs in the frames' records.
        "source_print": (run_info.get("input_print") or fingerprint(source)
                         if kind in ("video", "image") else ""),
        "frame_size": list(facts.size) if facts.size else None,
        "min_score": desc.config.min_score, "quality": quality,
        "emocam_version": __version__,
    }


def open_sinks(
    final: OutputPlan, writing: OutputPlan, desc: RunDescription, analyser: FrameAnalyser,
    facts: RunFacts, stack: ExitStack, frames_owned: bool = True,
    streams: Sequence[StreamTarget] = (),
) -> RunSinks:
    """Open every writer of ``writing`` (the paths written); the summary names ``final``
    (where the set ends up). The caller's ``stack`` closes the CSV and the video, and the
    live feeds of a run that fails before ``finish``."""
    plan = writing
    # First: a port in use is the user's to fix, and nothing else is opened for nothing.
    feeds = open_streams(streams)
    for feed in feeds:
        stack.callback(feed.close)  # a second close, after finish, does nothing
    blur = bool(desc.overlay and desc.overlay.blur_faces)
    boxes_only = bool(desc.overlay and desc.overlay.boxes_only)
    run_info: dict[str, Any] = {
        # Absolute: the summary is read from its own folder later, not from where the
        # command ran ("r1/x.csv" inside r1/x.json pointed nowhere).
        "input": _absolute(desc.source), "input_kind": desc.kind_label or plan.kind,
        "outputs": _absolute_all(final.outputs()), **analyser.info, "source_fps": facts.fps,
        "privacy": {"frames_written": plan.annotated is not None,
                    "no_frames": desc.no_frames, "blur_faces": blur,
                    "boxes_only": boxes_only},
    }
    if plan.kind in ("video", "image", "folder") and desc.source_path:
        # Which file, byte for byte, these results are of (a folder: which photos): a
        # --resume later must not take them for those of another input under the same name,
        # nor of this one changed since (a folder that gained photos was skipped as done).
        run_info["input_print"] = input_fingerprint(Path(desc.source_path))
    if plan.kind == "video":
        # The rows' times count from the first frame; a player's (and a transcript's) from
        # the file's start, which is earlier where the sound begins before the picture.
        if facts.first_frame_ms is not None:
            run_info["first_frame_ms"] = facts.first_frame_ms
        # The boxes are in stored pixels; a player shows an anamorphic picture (a 16:9 DVD
        # stored 720x480) wider, and without this a script could not put boxes where it does.
        run_info["pixel_aspect"] = str(facts.pixel_aspect)
        # Said of sound there is: a silent source has none to keep.
        run_info["privacy"]["source_sound_kept"] = (plan.sound is not None
                                                    and has_sound(plan.sound))
        if plan.annotated is not None:
            run_info["video_codec"] = desc.video_codec
    names = analyser.class_names
    photos = [p.name for p in plan.images] if plan.kind == "folder" else None
    sinks = RunSinks(plan, JsonSummary(plan.json, names, run_info, photos), desc.overlay,
                     frames_owned, streams=feeds)
    if writing is not final:
        sinks.summary.partial_outputs = _absolute_all(writing.outputs())
    if plan.report is not None:
        # Thumbnails only where the run keeps camera pixels, blurred as its frames are and
        # shaped as they are shown (an anamorphic video's widened, from the sidecar's
        # pixel_aspect in a re-analysis).
        sinks.report = ReportCollector(names, thumbnails=plan.annotated is not None
                                       and not boxes_only, blur=blur,
                                       pixel_aspect=float(facts.pixel_aspect))
    if plan.sidecar is not None:
        sinks.sidecar = SidecarWriter(plan.sidecar, sidecar_header(desc, run_info, facts),
                                      optional=desc.sidecar_optional)
    if plan.annotated is not None and plan.kind == "video":
        if facts.size is None:
            raise ValueError("a video's frame size is needed before its writer opens")
        sinks.video = stack.enter_context(AnnotatedVideoWriter(
            plan.annotated, facts.video_fps or facts.fps or DEFAULT_FPS, facts.size,
            pixel_aspect=facts.pixel_aspect,
            sound_from=plan.sound,
            codec=desc.video_codec,
        ))
        if sinks.video.written_size != tuple(facts.size):
            # Widened to square pixels (anamorphic) or padded to even sizes: the boxes are in
            # the source's pixels, not the annotated video's.
            sinks.summary.run_info.update(frame_size=list(facts.size),
                                          video_size=list(sinks.video.written_size))
    if plan.annotated is not None and plan.kind == "folder":
        plan.annotated.mkdir(parents=True, exist_ok=True)
    if plan.csv is not None:
        sinks.csv = stack.enter_context(CsvSink(plan.csv, names, with_file=plan.kind == "folder"))
    return sinks
