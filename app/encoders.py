"""Turning BGR frames into a video file: OpenCV's MPEG-4 (mp4v) or H.264 through PyAV.

mp4v is the cheapest to write and plays in desktop players; H.264 files are about a quarter
of the size and also play in web browsers, for ~8 ms more CPU per 720p frame on a 2-core
laptop (figures in ``docs/PROFILE.md``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from emocam.cores import available as available_cores
from emocam.errors import OutputError

VIDEO_CODECS = ("mp4v", "h264")
DEFAULT_VIDEO_CODEC = "mp4v"

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
    try:
        if codec == "h264":
            return _X264Encoder(path, fps, size)
        return _OpenCvEncoder(path, fps, size)
    except (OSError, ValueError) as e:
        why = f" ({e})" if str(e) else ""
        raise OutputError(
            f"The video {shown or path} cannot be written{why}; check the folder is writable."
        ) from e


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
