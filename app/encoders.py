"""Turning BGR frames into a video file: MPEG-4 part 2 (mp4v) or H.264, through PyAV.

mp4v is the cheapest to write and plays in desktop players; H.264 files are about a third
of the size and also play in web browsers, for ~8 ms more CPU per 720p frame on a 2-core
laptop (figures in ``docs/PROFILE.md``).
"""

from __future__ import annotations

import errno
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from emocam.cores import available as available_cores
from emocam.errors import OutputError
from emocam.outputnames import check_video_name
from emocam.staging import no_room, no_space_hint

VIDEO_CODECS = ("mp4v", "h264")
DEFAULT_VIDEO_CODEC = "mp4v"


def known_codec(codec: str) -> str:
    """``codec`` when it is one emocam writes, else the default: a settings file edited by
    hand must not break every export."""
    return codec if codec in VIDEO_CODECS else DEFAULT_VIDEO_CODEC


# x264's "superfast": files 3.7x smaller than mp4v's for 18% less throughput at 720p;
# "ultrafast" costs 3% but saves only 1.8x, "veryfast" saves 6x and costs 38%. No B-frames:
# a fragmented MP4 has no edit list to hide their two frames of delay, and the picture played
# 2 frames behind its sound and its CSV times; without them the files are 36% larger
# (9.9 against 7.3 KiB a 720p frame), still a third of mp4v's.
_X264_OPTIONS = {"preset": "superfast", "crf": "23", "bf": "0"}
# FFmpeg's MPEG-4 part 2 encoder at a fixed quantiser of 3, against OpenCV's mp4v writer it
# replaced, on the benchmark's 720p 4-face scene: 2.8 against 4.1 ms of CPU a frame, 43.3
# against 41.1 dB PSNR, 26.9 against 26.5 KiB a frame; quantiser 4 gave 19.9 KiB at 40.4 dB
# (docs/PROFILE.md, "The annotated video's encoder").
_MPEG4_QUANTISER = 3
_ENCODERS = {"mp4v": "mpeg4", "h264": "libx264"}
# An MP4 written in fragments plays up to its last fragment when the run dies before closing
# it; a plain MP4 keeps its only index at its end, and a killed run's would not open at all.
# A fragment ends at each keyframe and after at most a second (H.264's keyframes can be 250
# frames apart, all lost to a kill; a fragment may start between keyframes: +0.1-0.8% in size),
# and goes to the file at once: a 256 KB write buffer held seconds of a small picture.
_FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
               "frag_duration": "1000000", "flush_packets": "1"}  # microseconds
_MP4_FAMILY = (".mp4", ".m4v", ".mov")
# cv2.COLOR_BGR2YUV_I420 gives BT.601 at video range; the file says so, or players would
# assume BT.709 for HD sizes and shift the colours.
_BT601 = 6  # AVCOL_PRI / AVCOL_TRC / AVCOL_SPC_SMPTE170M
_VIDEO_RANGE = 1  # AVCOL_RANGE_MPEG


class Encoder(Protocol):
    size: tuple[int, int]  # the width and height of the pictures in the file

    def write(self, image: np.ndarray) -> None: ...

    def release(self) -> None: ...


def open_encoder(
    path: Path, codec: str, fps: float, size: tuple[int, int], shown: Path | None = None,
) -> Encoder:
    """An encoder writing ``path``; ``OutputError`` naming ``shown`` (the file the user asked
    for, when ``path`` is its temporary stand-in) when the file cannot be created. Its
    pixels are square (an anamorphic source's frames are widened before: video_writer)."""
    if codec not in VIDEO_CODECS:
        raise OutputError(
            f"Unknown video codec {codec!r}; choose one of {', '.join(VIDEO_CODECS)}."
        )
    check_video_name(shown or path)
    try:
        return _PyAvEncoder(path, codec, fps, size)
    except (OSError, ValueError) as e:
        raise OutputError(_why_not_written(shown or path, path, e)) from e


class EncoderRefused(ValueError):
    """An encoder that will not take a frame size or rate; ``codec``: which one."""

    def __init__(self, codec: str, message: str) -> None:
        super().__init__(message)
        self.codec = codec


def _why_not_written(shown: Path, path: Path, e: Exception) -> str:
    """The true cause an encoder did not open."""
    folder = path.parent
    if isinstance(e, PermissionError) or not os.access(folder, os.W_OK | os.X_OK):
        return (f"The video {shown} cannot be written: the folder {folder} does not let you "
                "write in it; choose a folder you can write to.")
    # FFmpeg's own error (kept as the cause) has the errno, when it says one: a header the
    # disk had no room for fails as a refused encoder would, and is no matter of codec.
    full = no_room(e.__cause__ if isinstance(e.__cause__, Exception) else e, folder)
    if full is not None:
        return f"The video {shown} cannot be written ({no_space_hint(full)})."
    why = f" ({e})" if str(e) else ""
    if isinstance(e, EncoderRefused):
        # The folder is not the matter (it was "check the folder is writable").
        others = " or ".join(f"--video-codec {c}" for c in VIDEO_CODECS if c != e.codec)
        return (f"The video {shown} cannot be written{why}; choose another codec ({others}), "
                "or pass --no-video.")
    return f"The video {shown} cannot be written{why}; check the folder is writable."


# MPEG-4 part 2 counts time in ticks of at most 16 bits: a rate's numerator must fit (OpenCV
# chose such a rate itself; 100000/1001 fps was refused).
_MPEG4_MAX_TICKS = 65535


def _rate(fps: float, codec: str) -> Fraction:
    """The stream's frame rate: exact for the usual ones (30000/1001), else the nearest the
    codec can store."""
    rate = Fraction(fps).limit_denominator(1001)
    if codec == "mp4v" and rate.numerator > _MPEG4_MAX_TICKS:
        rate = Fraction(fps).limit_denominator(max(1, _MPEG4_MAX_TICKS // math.ceil(fps)))
    return rate


class _PyAvEncoder:
    """An FFmpeg encoder through PyAV, 4:2:0: a frame of odd width or height gets one more
    column or row (a copy of its edge), since 4:2:0 needs even sizes."""

    def __init__(self, path: Path, codec: str, fps: float, size: tuple[int, int]):
        import av

        w, h = size
        self._pad = (h % 2, w % 2)  # bottom, right
        fragmented = _FRAGMENTED if path.suffix.lower() in _MP4_FAMILY else {}
        try:
            self._container: Any = av.open(str(path), "w", options=fragmented)
        except av.FFmpegError as e:
            raise OSError(str(e)) from e
        stream = self._container.add_stream(
            _ENCODERS[codec], rate=_rate(fps, codec),
            options=_X264_OPTIONS if codec == "h264" else {},
        )
        self.size = (w + self._pad[1], h + self._pad[0])
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        cc = stream.codec_context
        if codec == "mp4v":
            cc.qmin = cc.qmax = _MPEG4_QUANTISER
        cc.color_primaries = cc.color_trc = cc.colorspace = _BT601
        cc.color_range = _VIDEO_RANGE
        # On two cores the other one is busy detecting: more encoder threads only add overhead.
        # In a batch, a worker's share of the cores is its machine.
        cores = available_cores()
        cc.thread_count = 1 if cores <= 2 else cores
        try:
            # Opened now, not at the first frame on the writer's thread: a rate or size the
            # encoder refuses is this sentence, before any work.
            self._container.start_encoding()
        except av.FFmpegError as e:
            self._container.close()
            raise EncoderRefused(codec, f"the {codec} encoder refuses {w}x{h} at {fps:g} fps: "
                                        f"{e.strerror or e}") from e
        self._stream = stream
        self._path = path
        self._pts = 0
        self._bytes = 0  # of encoded pictures handed to the muxer
        self._frame_from = av.VideoFrame.from_ndarray

    def write(self, image: np.ndarray) -> None:
        if any(self._pad):
            bottom, right = self._pad
            image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
        frame = self._frame_from(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        self._mux(self._stream.encode(frame))

    def _mux(self, packets: list[Any]) -> None:
        self._bytes += sum(p.size for p in packets)
        self._container.mux(packets)

    def release(self) -> None:
        try:
            self._mux(self._stream.encode(None))
        finally:
            self._container.close()
        # FFmpeg does not report a failed write of the last fragment (a full disk, a file
        # size limit): the file must at least hold every encoded picture.
        size = self._path.stat().st_size if self._bytes else 0
        if size < self._bytes:
            raise OSError(errno.ENOSPC, f"{size} of its {self._bytes} bytes of pictures "
                          "reached the disk")
