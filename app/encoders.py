"""Turning BGR frames into a video file: OpenCV's MPEG-4 (mp4v) or H.264 through PyAV.

mp4v is the cheapest to write and plays in desktop players; H.264 files are about a quarter
of the size and also play in web browsers, for ~8 ms more CPU per 720p frame on a 2-core
laptop (figures in ``docs/PROFILE.md``).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from emocam.cores import available as available_cores
from emocam.errors import OutputError
from emocam.outputnames import check_video_name

VIDEO_CODECS = ("mp4v", "h264")
DEFAULT_VIDEO_CODEC = "mp4v"


def known_codec(codec: str) -> str:
    """``codec`` when it is one emocam writes, else the default: a settings file edited by
    hand must not break every export."""
    return codec if codec in VIDEO_CODECS else DEFAULT_VIDEO_CODEC


# OpenCV's mp4v writer does not open for a 1-pixel side (measured: 2x2 opens, 1x1 not).
_MP4V_MIN_SIDE = 2

# x264's "superfast": files 3.7x smaller than mp4v's for 18% less throughput at 720p;
# "ultrafast" costs 3% but saves only 1.8x, "veryfast" saves 6x and costs 38%.
_X264_OPTIONS = {"preset": "superfast", "crf": "23"}
# cv2.COLOR_BGR2YUV_I420 gives BT.601 at video range; the file says so, or players would
# assume BT.709 for HD sizes and shift the colours.
_BT601 = 6  # AVCOL_PRI / AVCOL_TRC / AVCOL_SPC_SMPTE170M
_VIDEO_RANGE = 1  # AVCOL_RANGE_MPEG


class Encoder(Protocol):
    def write(self, image: np.ndarray) -> None: ...

    def release(self) -> None: ...


def open_encoder(
    path: Path, codec: str, fps: float, size: tuple[int, int], shown: Path | None = None
) -> Encoder:
    """An encoder writing ``path``; ``OutputError`` naming ``shown`` (the file the user asked
    for, when ``path`` is its temporary stand-in) when the file cannot be created."""
    if codec not in VIDEO_CODECS:
        raise OutputError(
            f"Unknown video codec {codec!r}; choose one of {', '.join(VIDEO_CODECS)}."
        )
    check_video_name(shown or path)
    try:
        if codec == "h264":
            return _X264Encoder(path, fps, size)
        return _OpenCvEncoder(path, fps, size)
    except (OSError, ValueError) as e:
        raise OutputError(_why_not_written(shown or path, path, codec, size, e)) from e


def _why_not_written(
    shown: Path, path: Path, codec: str, size: tuple[int, int], e: Exception
) -> str:
    """The true cause an encoder did not open (OpenCV's writer gives none)."""
    folder = path.parent
    if isinstance(e, PermissionError) or not os.access(folder, os.W_OK | os.X_OK):
        return (f"The video {shown} cannot be written: the folder {folder} does not let you "
                "write in it; choose a folder you can write to.")
    if codec == "mp4v" and min(size) < _MP4V_MIN_SIDE:
        return (f"The video {shown} cannot be written: the {codec} codec cannot encode frames "
                f"of {size[0]}x{size[1]} pixels (at least {_MP4V_MIN_SIDE} on each side); "
                "pass --video-codec h264, which takes any size.")
    why = f" ({e})" if str(e) else ""
    return f"The video {shown} cannot be written{why}; check the folder is writable."


class _OpenCvEncoder:
    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise OSError("")

    def write(self, image: np.ndarray) -> None:
        self._writer.write(image)

    def release(self) -> None:
        self._writer.release()


class _X264Encoder:
    """libx264 through PyAV, 4:2:0: a frame of odd width or height gets one more column or
    row (a copy of its edge), since 4:2:0 needs even sizes."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        import av

        w, h = size
        self._pad = (h % 2, w % 2)  # bottom, right
        try:
            self._container: Any = av.open(str(path), "w")
        except av.FFmpegError as e:
            raise OSError(str(e)) from e
        stream = self._container.add_stream(
            "libx264", rate=Fraction(fps).limit_denominator(1001), options=_X264_OPTIONS
        )
        stream.width, stream.height, stream.pix_fmt = w + self._pad[1], h + self._pad[0], "yuv420p"
        cc = stream.codec_context
        cc.color_primaries = cc.color_trc = cc.colorspace = _BT601
        cc.color_range = _VIDEO_RANGE
        # On two cores the other one is busy detecting: more encoder threads only add overhead.
        # In a batch, a worker's share of the cores is its machine.
        cores = available_cores()
        cc.thread_count = 1 if cores <= 2 else cores
        self._stream = stream
        self._pts = 0
        self._frame_from = av.VideoFrame.from_ndarray

    def write(self, image: np.ndarray) -> None:
        if any(self._pad):
            bottom, right = self._pad
            image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
        frame = self._frame_from(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        self._container.mux(self._stream.encode(frame))

    def release(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()
