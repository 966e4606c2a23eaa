"""Background threads: capture + inference for the view, and small one-shot jobs.

:class:`SourceWorker` owns a source and a pipeline for its whole life and talks to the
window only through signals carrying plain data (a :class:`Packet`: annotated numpy frame +
FrameResult). The window talks back through thread-safe setters; nothing here ever blocks
the GUI thread. A live source is read by its own capture thread that keeps only the newest
frame (emocam.newest), so a slow pipeline drops frames instead of falling behind. A file's
pacing and seeking are Qt-free (emocam.player); this module adds the thread and signals.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from emocam.errors import SourceError, UserError
from emocam.newest import NewestFrame
from emocam.overlay import OverlayOptions, PlacementMemory, draw_annotations, prepare_background
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.player import Pacer, Seeker
from emocam.process import count_of
from emocam.progress import Count
from emocam.recorder import Recorder
from emocam.source_base import Source
from emocam.sources import open_source
from emocam.types import DEFAULT_FPS, Frame, FrameResult

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 2  # frames emitted but not yet painted; more means the GUI is behind


@dataclass(frozen=True)
class SourceInfo:
    spec: str | int
    name: str
    size: tuple[int, int]
    fps: float
    frame_count: int | None
    is_live: bool
    # Its pixels' width over height: 32/27 for a DVD's 16:9 picture stored 720x480.
    pixel_aspect: float = 1.0
    # What a run of it counts (a folder: every photo, by its place among them).
    count: Count = field(default_factory=lambda: Count(None))


@dataclass(frozen=True)
class Packet:
    """One processed frame on its way to the screen."""

    image: np.ndarray  # BGR, with what the privacy options hide already hidden
    result: FrameResult
    captured_at: float  # time.perf_counter() when the frame was read
    processing_fps: float
    overlay: OverlayOptions = field(default_factory=OverlayOptions)  # to annotate it with


@dataclass(frozen=True)
class WorkerError:
    message: str
    kind: str  # "source" (retry makes sense), "model", "output" or "internal"
    is_live: bool = False
    fatal: bool = True  # the worker stopped; False: it runs on with its previous settings


@dataclass
class _Commands:
    """What the GUI asked for since the worker last looked (guarded by the worker's lock)."""

    paused: bool = False
    speed: float = 1.0
    seek: int | None = None
    step: bool = False  # paused: show the next frame (its faces keep their ids)
    config: PipelineConfig | None = None
    overlay: OverlayOptions | None = None
    record: tuple[Path, Path] | None = None
    stop_record: bool = False


class SourceWorker(QThread):
    opened = Signal(object)  # SourceInfo
    pipeline_ready = Signal(object)  # Pipeline.info dict
    frame_ready = Signal(object)  # Packet
    failed = Signal(object)  # WorkerError
    # A file reached its end (the worker stays, paused, for seeks); the text says why when
    # it ended before its frame count (a truncated file), else it is empty.
    ended = Signal(str)
    recording_stopped = Signal(object)  # (video path, csv path, frames) or WorkerError

    def __init__(self, spec: str | int | Path, config: PipelineConfig,
                 overlay: OverlayOptions, speed: float = 1.0,
                 open_fn: Callable[[Any], Source] = open_source, loop: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.loop = loop  # a file starts again at its end (the bundled sample video)
        self._config = config
        self._overlay = overlay
        self._open = open_fn
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._cmd = _Commands(speed=speed)
        self._in_flight = 0
        self._fps = 0.0
        self._last_done = 0.0
        self._pipeline: Pipeline | None = None
        self._recorder: Recorder | None = None
        self._record_panels = PlacementMemory()
        self._last: tuple[Frame, FrameResult, float] | None = None
        self._source: Source | None = None

    # --- called from the GUI thread -------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def set_paused(self, paused: bool) -> None:
        self._command(paused=paused)

    def set_speed(self, speed: float) -> None:
        self._command(speed=max(0.05, speed))

    def seek(self, index: int) -> None:
        self._command(seek=max(0, int(index)))

    def step(self) -> None:
        """Paused: the next frame, as playing would have shown it (ids and smoothing go on)."""
        self._command(step=True)

    def set_config(self, config: PipelineConfig) -> None:
        self._command(config=config)

    def set_overlay(self, options: OverlayOptions) -> None:
        self._command(overlay=options)

    def start_recording(self, video: Path, csv: Path) -> None:
        self._command(record=(Path(video), Path(csv)), stop_record=False)

    def stop_recording(self) -> None:
        self._command(stop_record=True, record=None)  # a start not yet taken is undone

    def frame_shown(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def _command(self, **changes: Any) -> None:
        with self._lock:
            self._cmd = replace(self._cmd, **changes)
        self._wake.set()

    # --- the thread -----------------------------------------------------------------------

    def run(self) -> None:
        source: Source | None = None
        try:
            source = self._source = self._open(self.spec)
            self.opened.emit(SourceInfo(self.spec, source.name, tuple(source.size),
                                        float(source.fps or 0.0), source.frame_count,
                                        source.is_live, float(source.pixel_aspect),
                                        count_of(source)))
            self._pipeline = Pipeline(self._config)
            self.pipeline_ready.emit(self._info(self._pipeline))
            if source.is_live:
                self._run_live(source)
            else:
                self._run_file(source)
        except SourceError as e:
            self._fail(str(e), "source", source)
        except UserError as e:
            self._fail(str(e), "model", source)
        except Exception as e:
            log.exception("worker for %s failed", self.spec)
            self._fail(f"Something went wrong while reading {self.spec}: {e}", "internal", source)
        finally:
            self._stop_recorder()
            for obj in (self._source, self._pipeline):
                if obj is not None:
                    try:
                        obj.close()
                    except Exception:
                        log.exception("closing %r failed", obj)

    @staticmethod
    def _info(pipeline: Pipeline) -> dict[str, Any]:
        return {**pipeline.info, "model_info": pipeline.model_info}

    def _fail(self, message: str, kind: str, source: Source | None) -> None:
        live = source.is_live if source is not None else isinstance(self.spec, int)
        if not self._stop.is_set():
            self.failed.emit(WorkerError(message, kind, live))

    def _take_commands(self) -> _Commands:
        with self._lock:
            cmd = self._cmd
            self._cmd = replace(cmd, seek=None, step=False, config=None, overlay=None,
                                record=None, stop_record=False)
        return cmd

    def _apply(self, cmd: _Commands) -> bool:
        """Apply option changes; True when the last frame should be drawn again."""
        redraw = False
        if cmd.overlay is not None:
            self._overlay = cmd.overlay
            redraw = True
        if cmd.config is not None and cmd.config != self._config:
            redraw = self._rebuild_pipeline(cmd.config) or redraw
        if cmd.stop_record:
            self._stop_recorder()
        if cmd.record is not None:
            self._record_panels = PlacementMemory()  # a recording's panels start afresh
            self._start_recorder(*cmd.record)
        return redraw

    def _rebuild_pipeline(self, config: PipelineConfig) -> bool:
        try:
            pipeline = Pipeline(config)
        except UserError as e:
            # Keep running with the old pipeline; the window reverts the option.
            self.failed.emit(WorkerError(str(e), "model", fatal=False))
            return False
        if self._pipeline is not None:
            self._pipeline.close()
        self._pipeline, self._config = pipeline, config
        self.pipeline_ready.emit(self._info(pipeline))
        return True

    def _process(self, frame: Frame, captured_at: float, drop_if_busy: bool,
                 decode_ms: float | None = None) -> None:
        assert self._pipeline is not None
        result = self._pipeline.process(frame)
        self._last = (frame, result, captured_at)
        now = time.perf_counter()
        if self._last_done:
            inst = 1.0 / max(now - self._last_done, 1e-6)
            self._fps = inst if not self._fps else 0.9 * self._fps + 0.1 * inst
        self._last_done = now
        # The view paints the overlay at screen resolution; only what privacy hides is done
        # here, so no pixel of a hidden face ever reaches the GUI thread.
        image = frame.image.copy()
        prepare_background(image, result, self._overlay)
        # The performance panel shows every stage a frame goes through, in order.
        stages = {"decode": decode_ms} if decode_ms is not None else {}
        stages |= result.timings_ms
        stages["draw"] = (time.perf_counter() - now) * 1e3
        result.timings_ms = stages
        if self._recorder is not None:
            annotated = image.copy()
            draw_annotations(annotated, result, self._overlay, self._record_panels)
            self._write_recording(annotated, result)
        self._emit(Packet(image, result, captured_at, self._fps, self._overlay), drop_if_busy)

    def _redraw_last(self) -> None:
        if self._last is None:
            return
        frame, result, _ = self._last
        image = frame.image.copy()
        prepare_background(image, result, self._overlay)
        self._emit(Packet(image, result, time.perf_counter(), self._fps, self._overlay),
                   drop_if_busy=False)

    def _reprocess_last(self) -> None:
        if self._last is not None and self._pipeline is not None:
            self._pipeline.reset()
            frame, _, _ = self._last
            self._process(frame, time.perf_counter(), drop_if_busy=False)

    def _emit(self, packet: Packet, drop_if_busy: bool) -> None:
        while True:
            with self._lock:
                if self._in_flight < MAX_IN_FLIGHT:
                    self._in_flight += 1
                    break
            if drop_if_busy or self._stop.is_set():
                return  # a newer live frame will come; an old one is worth nothing
            self._stop.wait(0.005)
        self.frame_ready.emit(packet)

    # --- files: every frame, paced to real time x speed (faster: those it keeps up with) ---

    def _run_file(self, source: Source) -> None:
        frames: Iterator[Frame] = iter(source)
        seeker = Seeker(source, lambda: self._open(self.spec))
        pacer = Pacer()
        ended = False
        passed: Frame | None = None  # the last frame read, when it was passed over
        while not self._stop.is_set():
            cmd = self._take_commands()
            config_changed = cmd.config is not None and cmd.config != self._config
            redraw = self._apply(cmd)
            if cmd.seek is not None:
                frames = self._seek(seeker, cmd.seek)
                pacer.reset()
                passed = None
                ended = False
                shown = self._step(frames)
                if shown is not None and cmd.step and cmd.paused:
                    # Right pressed before the seek was done (Home, Right): it was lost.
                    shown = self._step(frames) or shown
                if shown is not None:
                    # The clock starts at the frame shown: the next is due a frame later (a
                    # folder's next photo a second later), not at once.
                    pacer.hold(shown.time_ms, cmd.speed, lambda _s: True)
                continue
            if cmd.step and cmd.paused and not ended:
                frame = next(frames, None)
                if frame is None:
                    ended = True
                    self.ended.emit(getattr(seeker.source, "ended_early", ""))
                else:
                    self._process(frame, time.perf_counter(), drop_if_busy=False)
                continue
            if cmd.paused or ended:
                if config_changed:
                    self._reprocess_last()
                elif redraw:
                    self._redraw_last()
                pacer.reset()
                self._idle(0.1)
                continue
            t0 = time.perf_counter()
            frame = next(frames, None)
            decode_ms = (time.perf_counter() - t0) * 1e3
            if frame is None and self.loop and self._looped_once_more():
                frames = self._seek(seeker, 0)
                pacer.reset()
                passed = None
                continue
            if frame is None:
                if passed is not None:  # the end shows the last frame, passed over or not
                    self._process(passed, time.perf_counter(), drop_if_busy=False)
                    passed = None
                ended = True
                self.ended.emit(getattr(seeker.source, "ended_early", ""))
                continue
            if pacer.passes_over(frame.time_ms, cmd.speed):
                passed = frame  # 2x or 4x on a machine that cannot read every frame that fast
                continue
            passed = None
            pacer.hold(frame.time_ms, cmd.speed, lambda s, speed=cmd.speed: self._held(s, speed))
            if self._stop.is_set():
                break
            self._process(frame, time.perf_counter(), drop_if_busy=False, decode_ms=decode_ms)

    def _step(self, frames: Iterator[Frame]) -> Frame | None:
        """Show the frame at the new position right away, paused or not; it, or None at
        the end."""
        frame = next(frames, None)
        if frame is not None:
            self._process(frame, time.perf_counter(), drop_if_busy=False)
        return frame

    def _looped_once_more(self) -> bool:
        # A video that yields no frame at all would loop without end.
        return self._last is not None

    def _seek(self, seeker: Seeker, index: int) -> Iterator[Frame]:
        if self._pipeline is not None:
            # Smoothing must not blend two moments of the video. Ids count again from 1, as
            # when the video was opened: Restart or a loop gives the first pass's faces their
            # ids again, and scrubbing does not climb to "Face 37". Safe to reuse: a file's
            # playback records nothing (Export runs the file afresh, Record is live only).
            self._pipeline.reset(restart_ids=True)
        frames = seeker.seek(index)
        self._source = seeker.source  # reopened when it cannot seek: closed at the end
        return frames

    def _held(self, seconds: float, speed: float) -> bool:
        """One wait while a frame is held for its time; True to stop holding it."""
        if self._stop.is_set():
            return True
        self._idle(seconds)
        with self._lock:
            # A command is handled before the frame's time comes.
            return self._cmd.seek is not None or self._cmd.paused or self._cmd.speed != speed

    def _idle(self, timeout: float) -> None:
        """Wait for the next frame, its time or a command. A target frame rate counts only
        the work between frames, not this wait."""
        t0 = time.perf_counter()
        self._wake.wait(max(timeout, 0.0))
        self._wake.clear()
        if self._pipeline is not None:
            self._pipeline.idle(time.perf_counter() - t0)

    # --- live sources: newest frame only ---------------------------------------------------

    def _run_live(self, source: Source) -> None:
        capture: NewestFrame[Frame] = NewestFrame(source, wake=self._wake)
        try:
            while not self._stop.is_set():
                cmd = self._take_commands()
                config_changed = cmd.config is not None and cmd.config != self._config
                redraw = self._apply(cmd)
                item = capture.take()
                if item is not None and not cmd.paused:
                    self._process(*item, drop_if_busy=True)
                elif cmd.paused and config_changed:
                    self._reprocess_last()
                elif cmd.paused and redraw:
                    self._redraw_last()
                elif capture.done:
                    raise SourceError(self._lost_message(source, capture.error))
                else:
                    self._idle(0.1)
        finally:
            capture.stop(2.0)

    @staticmethod
    def _lost_message(source: Source, error: BaseException | None) -> str:
        if isinstance(error, UserError):
            return str(error)
        return (f"{source.name} stopped delivering frames (unplugged or taken by another "
                "app); reconnect it and press Retry.")

    # --- recording (live sessions) --------------------------------------------------------

    def _start_recorder(self, video: Path, csv: Path) -> None:
        self._stop_recorder()
        self._recorder = Recorder(video, csv, fps=self._fps or DEFAULT_FPS, config=self._config,
                                  source_name=self._source.name if self._source else "camera")

    def _write_recording(self, image: np.ndarray, result: FrameResult) -> None:
        assert self._recorder is not None
        try:
            self._recorder.write(image, result, self._pipeline)
        except UserError as e:
            rec, self._recorder = self._recorder, None
            with contextlib.suppress(UserError):  # the first failure is the one to show
                rec.close(completed=False)
            self.recording_stopped.emit(WorkerError(str(e), "output"))

    def _stop_recorder(self) -> None:
        if self._recorder is not None:
            rec, self._recorder = self._recorder, None
            try:
                rec.close()
            except UserError as e:  # e.g. the disk filled up: say so, keep the session
                self.recording_stopped.emit(WorkerError(str(e), "output"))
                return
            self.recording_stopped.emit((rec.video_path, rec.csv_path, rec.frames))


class FunctionWorker(QThread):
    """Runs one function off the GUI thread (camera probing, model checks)."""

    done = Signal(object)
    errored = Signal(object)  # the exception

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as e:
            self.errored.emit(e)
        else:
            self.done.emit(result)
