"""Where frames come from: a webcam, a video file, one image or a folder of images.

``open_source`` picks the kind from the spec and returns a ``Source``: an iterable of
``Frame`` objects (BGR uint8, a new array per frame) that is also a context manager.

File sources hand out every decodable frame in order and never drop one. A live camera is
read by a background thread that keeps only the newest frame: a slow consumer gets the
latest picture, never a queue of stale ones.
"""

from __future__ import annotations

import logging
import stat
from os import PathLike, fspath
from pathlib import Path

import cv2

from emocam.camera_source import STALL_TIMEOUT_S, CameraSource
from emocam.errors import SourceError
from emocam.imageheader import (
    animated_file,
    still_format_of,
)
from emocam.input_kinds import UNREADABLE_PHOTO_EXTS, input_kind
from emocam.inputs import check_input
from emocam.isobmff import never_finished
from emocam.photo_folder import ImageFolderSource
from emocam.photo_source import ImageSource
from emocam.source_base import Source
from emocam.video_source import VideoSource

log = logging.getLogger(__name__)


def _plays_as_video(path: Path) -> bool:
    """Whether FFmpeg reads more than one picture from ``path``."""
    cap = cv2.VideoCapture(str(path))
    try:
        return cap.isOpened() and cap.grab() and cap.grab()
    finally:
        cap.release()


def open_source(
    spec: str | int | PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    stall_timeout_s: float = STALL_TIMEOUT_S,
    tell_left_out: bool = True,
) -> Source:
    """Open a camera (an index: ``0`` or ``"0"``), a video, an image or a folder of images.

    ``size`` asks a camera for a resolution (it may pick the nearest it has); ``fps`` sets
    the frame rate of an image folder (default 1: photos a second apart). ``tell_left_out``:
    a folder says which videos beside its photos it leaves out (not to a re-analysis, whose
    photos are the recorded run's).
    """
    if isinstance(spec, bool):
        raise SourceError(f"{spec!r} is not a camera index, video, image or folder.")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource.open(int(spec), size=size, stall_timeout_s=stall_timeout_s)
    path = Path(fspath(spec)).expanduser()
    st = check_input(path)  # the true cause for a loop, a pipe, a device, no permission
    if stat.S_ISDIR(st.st_mode):
        return ImageFolderSource(path, fps=fps or 1.0, tell_left_out=tell_left_out)
    suffix = path.suffix.lower()
    if input_kind(path) == "image" or suffix in UNREADABLE_PHOTO_EXTS:
        try:
            return ImageSource(path)
        except SourceError:
            if still_format_of(path) is None and _plays_as_video(path):
                # "cannot be decoded; it may be corrupt" was untrue of a good video.
                raise SourceError(
                    f"{path} is a video under a photo's name; rename it to a video's name "
                    f"(e.g. {path.stem}.mp4) and process that.") from None
            raise
    try:
        return VideoSource.open(path)
    except SourceError:
        if never_finished(path):
            # Its sentence stands: tried as an image, a camera's recording of gigabytes was
            # read whole into memory first (2 GB: 6 s, and as much memory).
            raise
        # Perhaps an image with an unusual name: take it if it decodes as one.
        try:
            image = ImageSource(path)
        except SourceError:
            pass
        else:
            if animated_file(path):  # an FFmpeg older than OpenCV 5's plays no animated WebP
                log.warning("%s is an animation this OpenCV cannot play; only its first "
                            "picture is read.", path)
            return image
        raise
