"""The annotated video: an mp4 written frame by frame, in step with the source's clock.

It writes as it goes and closes cleanly, so a run stopped half-way leaves a playable video
(fragmented: one that dies plays up to its last keyframe).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from emocam.audio import add_audio
from emocam.encoders import DEFAULT_VIDEO_CODEC, Encoder, open_encoder
from emocam.errors import OutputError
from emocam.frame_steps import FrameSteps
from emocam.overlay import shown_size, widened_picture
from emocam.staging import commit, failure_reason, write_target
from emocam.types import DEFAULT_FPS

log = logging.getLogger(__name__)


# Paints on a frame before it is encoded; returns the picture to encode (the frame itself,
# or an anamorphic frame widened with its overlay: overlay.draw_as_shown).
Render = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Pending:
    """A frame on its way to the encoder: its pixels, and what to paint on them first."""

    image: np.ndarray
    render: Render | None
    pooled: bool  # a copy in the writer's own pool, handed back after encoding


class AnnotatedVideoWriter:
    """An mp4 (mp4v, or H.264 with ``codec="h264"``) written frame by frame, in fragments, so
    the file of a run that dies plays up to its last keyframe.

    Encoding runs on a background thread (FFmpeg runs without the GIL), so on
    a 2-core laptop it overlaps with detection instead of adding its 4-9 ms per 720p frame.
    Frames are copied into a small pool of reused buffers, so the caller may reuse its own;
    a caller that gives a frame away (``owned``) saves the copy. A ``render`` function (the
    overlay) is run on the writer's thread just before its frame is encoded, off the
    caller's critical path, and not at all for a frame that is dropped.

    The mp4 has a constant frame rate. Given each frame's time, the writer keeps
    the video in step with the source's clock: a frame is repeated until the next one is due
    and dropped when a newer one lands in the same slot (one that is due there but was
    rounded into it goes a slot late instead). So a variable-frame-rate file, or a
    camera session whose slow frames were skipped, plays back at its real speed.

    With ``sound_from`` (the source video), the finished file gets the source's sound, cut
    where the video ends; a sound that cannot be copied leaves the silent video and a warning.

    ``size`` is the frames' stored size; an anamorphic source's (``pixel_aspect`` not 1, a
    16:9 DVD stored 720x480) is written in square pixels as players show it (``shown``,
    853x480; 854 in the file, ``written_size``), its overlay drawn after the widening, as the
    app's snapshot is: every player, and every script reading the file, sees its shape and
    its letters and bars undistorted.
    """

    _QUEUE = 4
    # The sources vouch for their clocks (a long jump of a file's clock is believed only
    # when the next frame carries on from it), so a still minute of a screen recording stays
    # a minute. A longer gap is cut to this, the frames after it keeping their spacing.
    _MAX_REPEAT_S = 600.0

    def __init__(
        self, path: Path, fps: float, size: tuple[int, int], background: bool = True,
        sound_from: Path | None = None, codec: str = DEFAULT_VIDEO_CODEC,
        pixel_aspect: Fraction = Fraction(1),
    ):
        self.path = Path(path)
        self.sound_from = sound_from
        self.sound_added = False  # set on close: whether the file got the source's sound
        self.size = size  # width, height, of the frames given
        self.pixel_aspect = float(pixel_aspect)  # of the frames given
        self.shown = shown_size(size, self.pixel_aspect)  # of the pictures written
        self.fps = fps if fps and fps > 0 else DEFAULT_FPS
        self._staging = write_target(self.path)
        self._file = self._staging or self.path
        self._writer: Encoder | None = open_encoder(
            self._file, codec, self.fps, self.shown, shown=self.path
        )
        self.written_size = self._writer.size  # the file's: ``shown``, made even for 4:2:0
        self.frames = 0  # frames in the file (repeats included)
        self._t0: float | None = None  # time of the first timed frame, ms
        self._held: _Pending | None = None  # the last timed frame, written once the next is due
        self._steps = FrameSteps()  # the timed frames' times: how long the last one lasts
        self._error: BaseException | None = None
        self._reported = False  # the caller was told: close need not say it again
        # A failing overlay is a fault in emocam, not a full disk: raised to the caller as is.
        self._render_error: Exception | None = None
        self._thread: threading.Thread | None = None
        if background:
            w, h = size
            self._free: queue.Queue[np.ndarray] = queue.Queue()
            for _ in range(self._QUEUE + 1):
                self._free.put(np.empty((h, w, 3), np.uint8))
            # Frames in flight, pooled or given away: the caller waits beyond this many.
            self._slots = threading.Semaphore(self._QUEUE + 1)
            self._todo: queue.Queue[tuple[_Pending, int] | None] = queue.Queue()
            self._thread = threading.Thread(target=self._run, name="video-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            pending, copies = item
            try:
                if self._error is None:
                    self._encode(pending, copies)
            except BaseException as e:  # handed to the caller on its next call
                self._error = e
            finally:
                if pending.pooled:
                    self._free.put(pending.image)
                self._slots.release()

    def _encode(self, pending: _Pending, copies: int) -> None:
        if copies == 0:
            return
        image = pending.image
        if pending.render is not None:
            try:
                image = pending.render(image)
            except Exception as e:
                self._render_error = e
                raise
        if image.shape[1] != self.shown[0]:  # no overlay to widen it with (drawn already)
            image = widened_picture(image, self.pixel_aspect)
        for _ in range(copies):
            self._writer.write(image)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if (w, h) != self.size:
            # A stream that changes size mid-way (rare) must not break the container.
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return image

    def write(
        self, image: np.ndarray, time_ms: float | None = None, render: Render | None = None,
        owned: bool = False,
    ) -> None:
        """Append a frame; with ``time_ms`` (the source's clock) it is placed in time.
        ``render`` paints on the frame before it is encoded; ``owned``: the caller gives the
        frame away and will not touch it again."""
        if self._writer is None:
            raise OutputError(f"The video {self.path} is already closed.")
        if self._render_error is not None:
            raise self._render_error
        if self._error is not None:
            self._reported = True
            why = failure_reason(self._error)
            raise OutputError(f"The video {self.path} could not be written ({why}).")
        fitted = self._fit(image)
        pending = self._own(fitted, render, owned or fitted is not image)
        if time_ms is None:
            self._flush_held(self.frames + 1)
            self._put(pending, 1)
            return
        if self._t0 is None:
            self._t0 = time_ms
        self._steps.add(time_ms)
        slot = self._slot(time_ms)
        longest = max(int(self._MAX_REPEAT_S * self.fps), 1)
        if slot - self.frames > longest:
            # The gap is cut, not the frames after it: they keep their spacing from here.
            self._t0 += (slot - self.frames - longest) * 1000.0 / self.fps
            slot = self._slot(time_ms)
        if self._held is not None and slot <= self.frames < self._position(time_ms):
            # A jittery clock (a phone's few ms around 33 ms, at 30 fps) rounds two frames
            # into one slot now and then, and the first was dropped: this one goes in the
            # next slot instead, less than a slot late, and the frames after it catch up.
            # (One that is due a full slot later than it stands gives way to the next.)
            slot = self.frames + 1
        self._flush_held(slot)
        self._held = pending

    def _position(self, time_ms: float) -> float:
        """Where ``time_ms`` falls in the video, in slots."""
        return (time_ms - (self._t0 or 0.0)) * self.fps / 1000.0

    def _slot(self, time_ms: float) -> int:
        return round(self._position(time_ms))

    def _flush_held(self, next_slot: int) -> None:
        """Write the held frame for every slot until ``next_slot``; none: it was superseded."""
        if self._held is None:
            return
        pending, self._held = self._held, None
        self._put(pending, max(next_slot - self.frames, 0))

    def _own(self, image: np.ndarray, render: Render | None, owned: bool) -> _Pending:
        if self._thread is None:
            return _Pending(image if owned else image.copy(), render, pooled=False)
        self._slots.acquire()  # waits when the encoder is 4 frames behind
        if owned:
            return _Pending(image, render, pooled=False)
        buf = self._free.get()
        np.copyto(buf, image)
        return _Pending(buf, render, pooled=True)

    def _put(self, pending: _Pending, copies: int) -> None:
        if self._thread is None:
            self._encode(pending, copies)
        else:
            self._todo.put((pending, copies))  # copies == 0 only hands the buffer back
        self.frames += copies

    def close(self, failed: bool = False) -> None:
        """Finish the file. ``failed``: the run broke; a replacement that got no frame is
        dropped so the old file stays. Raises ``OutputError`` when the file on disk lacks
        frames (FFmpeg reports no write error, e.g. on a full disk)."""
        if self._writer is None:
            return
        end = self.frames + 1
        last = self._steps.last_ms
        if self._held is not None and last is not None:
            end = max(end, self._slot(last + self._steps.last_frame_ms()))
        self._flush_held(end)
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()
            self._thread = None
        try:
            self._writer.release()
        except Exception as e:  # PyAV flushing onto a full disk: counted as frames missing
            self._error = self._error or e
        self._writer = None
        stored = self._stored_frames()
        complete = self._error is None and stored >= self.frames
        if complete and self.frames and self.sound_from is not None and self._file.is_file():
            self.sound_added = add_audio(self._file, self.sound_from, self.frames / self.fps)
        commit(self._staging, self.path, keep=complete and not (failed and self.frames == 0))
        if self._render_error is not None and not failed:
            raise self._render_error
        if not complete and not self._reported:
            if self._error is not None:
                raise OutputError(f"The video {self.path} was not written completely "
                                  f"({failure_reason(self._error)}).")
            raise OutputError(
                f"The video {self.path} was not written completely ({stored} of {self.frames} "
                "frames stored); the disk may be full, so free some space and run again."
            )

    @property
    def broken(self) -> bool:
        """A write failed (a full disk): the file lacks frames, whatever happens next."""
        return self._error is not None

    def _stored_frames(self) -> int:
        if self.frames == 0:
            return 0
        cap = cv2.VideoCapture(str(self._file))
        try:
            n = cap.get(cv2.CAP_PROP_FRAME_COUNT) if cap.isOpened() else 0.0
        finally:
            cap.release()
        return int(n) if math.isfinite(n) and n > 0 else 0

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            self.close(failed=exc_type is not None)
        except OutputError as e:
            if exc_type is None:
                raise
            log.info("%s", e)  # the error on its way says the set is not complete
