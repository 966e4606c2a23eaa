"""A video file as a source: every decodable frame in order, on the file's own clock, with what
of the file could not be read said.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emocam.audio import stream_seconds
from emocam.errors import SourceError, frames_text
from emocam.imageheader import (
    MAX_VIDEO_PIXELS,
    pictures_in,
)
from emocam.input_kinds import VIDEO_EXTS
from emocam.isobmff import never_finished
from emocam.open_failure import no_pictures, probe, why_unopened
from emocam.picture_sizes import PictureSizes
from emocam.source_base import Source, plausible_pixel_aspect
from emocam.types import DEFAULT_FPS, Frame

# Every source logs under one name: the app shows what reading its file warns of from it
# (emocam.gui.input_notes).
log = logging.getLogger("emocam.sources")


_MAX_BAD_READS = 60  # consecutive undecodable frames skipped before a video is deemed over


_ESTIMATED_COUNT_SUFFIXES = frozenset({".mkv", ".webm"})


def capture(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    # A phone held upright stores its picture lying down with a rotation flag; show it as
    # the phone did. OpenCV 4.11 turned this off by default, 4.12 and 5.0 on.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def _usable_fps(fps: float) -> bool:
    return math.isfinite(fps) and 0 < fps <= 1000


def sane_fps(fps: float, where: str) -> float:
    if not _usable_fps(fps):
        log.warning(
            "%s reports no usable frame rate (%r); assuming %g fps.", where, fps, DEFAULT_FPS
        )
        return DEFAULT_FPS
    return fps


# A forward jump of the container's clock believed without the file's length to vouch for it.
_MAX_UNVOUCHED_JUMP_MS = 10_000.0


# The fastest frame rate an annotated video is written at (a phone's slow motion).
_MAX_VIDEO_FPS = 240.0


def _track_ms(stream: Any) -> float:
    """How long a track says it is, in ms (0 where it does not say): its own duration, or
    the DURATION tag Matroska keeps per track ("00:00:05.000000000")."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base) * 1000.0
    tag = (stream.metadata or {}).get("DURATION", "")
    try:
        h, m, sec = tag.split(":")
        return (int(h) * 3600 + int(m) * 60 + float(sec)) * 1000.0
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class ClockFacts:
    """What a video file says of its clock, beyond OpenCV's mean rate."""

    length_ms: float = 0.0  # how long the file says it is, from its first frame (0: unsaid)
    steady_fps: float = 0.0  # the rate that holds each of its frames (see _clock_facts)
    picture_ms: float = 0.0  # how long its picture track says it is (0: unsaid)
    pixel_aspect: Fraction = Fraction(1)  # its pixels' width over height (1: unsaid)
    # Where its first frame stands on the file's own timeline, as a player shows it: a file
    # whose sound starts before its picture (an editor's export) has the picture's start
    # here, which the frames' times (counted from the first frame) leave out. None: unsaid.
    first_frame_ms: float | None = None


def _clock_facts(path: Path, mean_fps: float) -> ClockFacts:
    """The file's clock as PyAV reads it (``ClockFacts``).

    The steady rate is FFmpeg's guess of the stream's own rate, where it is above the mean.
    OpenCV reports the mean, which a variable-rate file's slow or still parts pull down (a
    screen recording with a still minute: 4 fps for a 30 fps picture); an annotated video
    written at the mean would drop most frames of the fast parts."""
    import av

    try:
        with av.open(str(path)) as container:
            length_ms = max(container.duration or 0, 0) / 1000.0  # microseconds
            stream = container.streams.best("video")  # the one OpenCV reads
            if stream is None:
                return ClockFacts(length_ms, mean_fps)
            guessed = float(stream.guessed_rate or 0)
            picture_ms = _track_ms(stream)
            sar = stream.sample_aspect_ratio
            begins = container.start_time  # microseconds; None where unsaid
            first_ms = (1000.0 * stream_seconds(stream.start_time, stream.time_base)
                        - begins / 1000.0 if begins is not None else None)
            # 5% spares a constant-rate file whose mean is rounded (29.97 against 30) a
            # repeat now and then.
            if guessed > mean_fps * 1.05:
                guessed = min(guessed, _fast_parts_rate(container, stream) or guessed)
    except (av.FFmpegError, OSError, ValueError):
        return ClockFacts(steady_fps=mean_fps)
    steady = guessed if mean_fps * 1.05 < guessed <= _MAX_VIDEO_FPS else mean_fps
    pixel = plausible_pixel_aspect(sar)
    return ClockFacts(length_ms, steady, picture_ms, pixel,
                      None if first_ms is None else round(max(first_ms, 0.0), 1))


# The packets whose times are read for a variable-rate file's fast parts: a few minutes of
# video, read without decoding in a fraction of a second.
_RATE_PACKETS = 4000


def _fast_parts_rate(container: Any, stream: Any) -> float | None:
    """The rate of a variable-rate file's fast parts, from its frames' own times: FFmpeg's
    guess is a rate that holds every timestamp exactly, 100 fps for a file of 25 fps parts
    and a 4 fps stretch, and the annotated video was written with each frame 4 times. The
    usual spacing of the closest frames is the fast parts' (a phone's jitter of a few ms
    around 33 ms is 30 fps, not the 38 fps of its closest pair). None where too few."""
    times = []
    for packet in container.demux(stream):
        if packet.pts is not None:
            times.append(float(packet.pts * stream.time_base))
        if len(times) >= _RATE_PACKETS:
            break
    steps = np.diff(np.unique(times)) * 1000.0
    if len(steps) < 8:
        return None
    close = steps[steps <= 1.5 * np.percentile(steps, 10)]
    # The mean, not the median: stamps rounded to a coarse time base (1/16000 s, 1 ms) put
    # the median a little off (59.9 for 60 fps), and one slot too few a second drops frames.
    measured = 1000.0 / float(np.mean(close))
    # FFmpeg's guess holds every stamp exactly: the fast parts' rate is one of its fractions.
    guessed = float(stream.guessed_rate or 0)
    fractions = [guessed / k for k in range(1, 9) if guessed]
    near = [f for f in fractions if abs(f - measured) <= 0.01 * measured]
    return near[0] if near else measured


def _refuse_without_pictures(path: Path) -> None:
    """Say so when a media file holds nothing to read, if that is why OpenCV read nothing
    (those were called corrupt or of an unknown codec)."""
    empty = no_pictures(path, probe(path))
    if empty:
        raise SourceError(empty)


def counted_frames(path: Path, cap: cv2.VideoCapture, pictures: int | None = None
                   ) -> int | None:
    """The frames of the video ``cap`` reads from ``path``, as its container says; None
    where it does not. An animated WebP or PNG: FFmpeg counts none of its pictures, and the
    file says how many (``pictures``, where the caller counted them already; before, the
    app showed such a file as "live")."""
    n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    if math.isfinite(n) and n > 0:
        return int(n)
    if pictures is None:
        pictures = pictures_in(path, most=1 << 20)  # by content: a name may have no suffix
    return pictures if pictures >= 2 else None


def expected_frames(frame_count: int | None, fps: float, picture_ms: float,
                    estimated: bool) -> int | None:
    """The frames a progress bar can count towards: the container's count, but not
    Matroska's estimate (``estimated``) from its longest track, often the sound (a
    recording's bar said 0/76 of its 30 frames): there the picture track's own length
    where it says, else none (the bar shows the frames and the time so far)."""
    if not estimated:
        return frame_count
    if picture_ms:
        return max(1, round(picture_ms * fps / 1000.0))
    return None


def frames_expected_in(path: Path) -> int | None:
    """``VideoSource.frames_expected`` of the video at ``path``, without decoding a frame or
    reading its clock whole (a batch's bar asks it of each of its inputs before any runs)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        count, fps = counted_frames(path, cap), cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    estimated = path.suffix.lower() in _ESTIMATED_COUNT_SUFFIXES
    # Its run warns of an unusable rate: not said twice.
    fps = fps if _usable_fps(fps) else DEFAULT_FPS
    return expected_frames(count, fps, _picture_ms(path) if estimated else 0.0, estimated)


def _picture_ms(path: Path) -> float:
    """How long the picture track OpenCV reads says it is, in ms (0: unsaid or unreadable)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.best("video")
            return _track_ms(stream) if stream is not None else 0.0
    except (av.FFmpegError, OSError, ValueError):
        return 0.0


class VideoSource(Source):
    """A video file, every frame in order.

    Timestamps come from the container (``CAP_PROP_POS_MSEC``) while they increase and stay
    within the file's length, else from the frame index and fps. Frames that fail to decode
    mid-file are skipped with a warning; a file that yields no frame at all is an error.
    """

    def __init__(self, path: Path, cap: cv2.VideoCapture, first: np.ndarray):
        self.path = path
        self.name = path.name
        self._cap = cap
        self.fps = sane_fps(cap.get(cv2.CAP_PROP_FPS), str(path))
        # An animated WebP, PNG or GIF cannot be sought in (a seek gave the next picture in
        # order): a seek reads forward from its start.
        pictures = pictures_in(path, most=1 << 20)
        self._forward_only = pictures >= 2
        self.frame_count = counted_frames(path, cap, pictures)
        # Matroska (.mkv, .webm: OBS's default) stores no frame count: OpenCV estimates one
        # from the file's duration, which the longest track sets, often the sound. Ending
        # short of such a count is no sign of damage.
        self._count_estimated = path.suffix.lower() in _ESTIMATED_COUNT_SUFFIXES
        self.size = (first.shape[1], first.shape[0])
        # A frame read but not handed out yet, with its container time (image None: the
        # read failed): the first one, read by ``open``, or one read ahead to check a jump.
        self._ahead: tuple[np.ndarray | None, float] | None = (first, 0.0)
        self._next = 0
        self._decoded = 1  # frames up to the last one decoded (not those a seek skipped)
        self._sought = 0  # where the last seek landed
        self._last_ms = -math.inf
        # fps is the mean rate (durations, progress); video_fps the annotated video's.
        clock = _clock_facts(path, self.fps)
        self._length_ms, self._video_fps = clock.length_ms, clock.steady_fps
        self._picture_ms, self._pixel_aspect = clock.picture_ms, clock.pixel_aspect
        self.first_frame_ms = clock.first_frame_ms
        self.ended_early = ""  # why the file ended before its frame count, once it has
        self._lock = threading.Lock()
        # A picture that changes size mid-way: OpenCV squeezes it into the first size.
        self._sizes = PictureSizes(path, self.size)

    @property
    def video_fps(self) -> float:
        return self._video_fps

    @property
    def frames_expected(self) -> int | None:
        """The frames a progress bar can count towards (``expected_frames``)."""
        return expected_frames(self.frame_count, self.fps, self._picture_ms,
                               self._count_estimated)

    @property
    def pixel_aspect(self) -> Fraction:
        return self._pixel_aspect

    @classmethod
    def open(cls, path: Path) -> VideoSource:
        cap = capture(path)
        if not cap.isOpened():
            cap.release()
            if never_finished(path):  # "convert it" to a file no tool can read helps no one
                raise SourceError(
                    f'{path} is a recording that was never finished: its index (the "moov" '
                    "box, written when recording stops) is missing, so no player can read "
                    "it; a recovery tool that rebuilds the index from a finished recording "
                    "of the same camera (such as untrunc) may save it.")
            # FFmpeg's cause (no video format, sound only, a codec without a decoder) in
            # place of guessing at all of them ("use a video" to a .mp4 helps no one).
            raise SourceError(why_unopened(path, path.suffix.lower() in VIDEO_EXTS))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w * h > MAX_VIDEO_PIXELS:  # before a frame is decoded: it may not fit in memory
            cap.release()
            raise SourceError(
                f"The video {path} has frames of {w}x{h} pixels ({w * h / 1e6:,.0f} "
                f"megapixels), more than the {MAX_VIDEO_PIXELS / 1e6:.0f} megapixels a frame "
                "emocam decodes; scale it down first (for example to 3840 pixels wide).")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            _refuse_without_pictures(path)
            raise SourceError(
                f"The video {path} opens but no frame can be decoded; "
                "the file may be corrupt or truncated."
            )
        return cls(path, cap, first)

    def __iter__(self) -> Iterator[Frame]:
        bad = 0
        while True:
            with self._lock:
                if self._cap is None:
                    return
                image, pos_ms = self._read()
                vouched = image is not None and self._jump_carries_on(pos_ms)
            if image is None:
                if not self._more_expected(bad):
                    self._warn_if_short()
                    return
                bad += 1
                self._next += 1
                continue
            if bad:
                log.warning("%s: skipped %s that could not be decoded.", self.path,
                            frames_text(bad))
                bad = 0
            index = self._next
            self._next += 1
            self._decoded = max(self._decoded, self._next)
            image = self._sizes.fit(image, index)
            yield Frame(image, index, self._timestamp(index, pos_ms, vouched), str(self.path),
                        float(self._pixel_aspect))

    def _read(self) -> tuple[np.ndarray | None, float]:
        """The next frame (None: it failed to decode) and its container time; locked."""
        assert self._cap is not None
        if self._ahead is not None:
            got, self._ahead = self._ahead, None
            return got
        ok, image = self._cap.read()
        return (image if ok else None), self._cap.get(cv2.CAP_PROP_POS_MSEC)

    def _jump_carries_on(self, pos_ms: float) -> bool:
        """Whether a jump of the clock longer than any container glitch is real: the next
        frame carries on from it (one bad timestamp is followed by good ones, behind it).
        The last frame has no next: the file's length must reach it. Locked."""
        if self._last_ms == -math.inf or not pos_ms >= self._last_ms + _MAX_UNVOUCHED_JUMP_MS:
            return False
        self._ahead = self._read()
        image, next_ms = self._ahead
        if image is None:
            return pos_ms <= self._length_ms + 1000.0 / self.video_fps
        return pos_ms < next_ms < pos_ms + _MAX_UNVOUCHED_JUMP_MS

    def _more_expected(self, bad: int) -> bool:
        # Only a known frame count says a failed read is damage rather than the end.
        return (
            self.frame_count is not None and self._next < self.frame_count and bad < _MAX_BAD_READS
        )

    def _warn_if_short(self) -> None:
        # Where decoding stopped, not where a seek past the damage landed.
        good_until = self._decoded
        if self.frame_count is not None and good_until < self.frame_count - 1:
            if self._count_estimated:
                # No frame count, but a length: a download cut short ended at 2.6 s of a
                # declared 5.0 without a word. The picture track's own, where it says; else
                # the file's, which sound running on after the picture (OBS) can pass by a
                # little, hence the margin: a second, or a tenth of the length.
                declared = self._picture_ms or self._length_ms
                frames3 = 3000.0 / self.video_fps
                margin = frames3 if self._picture_ms else max(1000.0, 0.1 * declared, frames3)
                if declared and declared - self._last_ms > margin:
                    self.ended_early = (
                        f"{self.path.name} ended at {self._last_ms / 1000:.1f} s of the "
                        f"{declared / 1000:.1f} s it declares; the file may be truncated.")
                    log.warning("%s", self.ended_early.replace(self.path.name, str(self.path), 1))
                    return
                log.debug("%s ended after %d frames (%d estimated).", self.path, good_until,
                          self.frame_count)
                return
            # A seek past the damage (a player's slider) read nothing from where it landed.
            n = self.frame_count
            where = (f"ended after {good_until} of {n} frames" if good_until > self._sought
                     else f"could not be read from frame {self._sought} of {n} on")

            # Kept for a player to show: the log reaches only a terminal.
            def ended(name: object) -> str:
                # Not only the end: a decoder that skips a damaged middle says nothing, and
                # the frames after it then come early (read, not measured, times).
                return (f"{name} {where}; the file may be truncated, or damaged in places "
                        "(the frames after a damaged part then carry times that are too "
                        "early).")

            self.ended_early = ended(self.path.name)  # the player's banner has little room
            log.warning("%s", ended(self.path))

    def _timestamp(self, index: int, pos_ms: float, vouched: bool = False) -> float:
        """``vouched``: a long jump of the clock that the next frame carries on from."""
        step = 1000.0 / self.video_fps
        if self._last_ms == -math.inf:
            expected, sane = index * step, math.isfinite(pos_ms) and pos_ms >= 0
        else:
            expected = self._last_ms + step
            # Some containers report 0, garbage or jumps; those fall back to index / fps. A
            # long jump is real when vouched for: a screen recording sends no frame while
            # the screen is still, a clip joined to another leaves a pause.
            sane = math.isfinite(pos_ms) and self._last_ms < pos_ms and (
                vouched or pos_ms < self._last_ms + _MAX_UNVOUCHED_JUMP_MS)
        t = pos_ms if sane else expected
        self._last_ms = t
        return t

    def seek(self, index: int) -> None:
        index = max(0, index)
        if self.frame_count is not None:
            index = min(index, self.frame_count)
        with self._lock:
            if self._cap is None:
                return
            if self._forward_only:
                self._cap.release()
                self._cap = capture(self.path)
                for _ in range(index):
                    self._cap.grab()
            else:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._ahead = None
            self._next = self._sought = index
            self._last_ms = -math.inf

    def close(self) -> None:
        self._sizes.close()
        # A read hung on a lost network drive holds the lock; closing must not hang with it.
        if not self._lock.acquire(timeout=2.0):
            log.warning("%s is stuck in a read; leaving it to the operating system.", self.path)
            return
        try:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
        finally:
            self._lock.release()
