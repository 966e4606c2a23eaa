"""Whether emocam can write an annotated image or video under a given name.

The writers choose the format from the name's extension. OpenCV's image encoder raises
``cv2.error`` for one it does not know, and its video writer fails without a reason, which
was then reported as an unwritable folder. Checked before the run, an unknown extension
gets its own sentence.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from emocam.errors import OutputError
from emocam.imageheader import still_format_of

# Containers both video codecs (through PyAV) were seen to write
# and read back; WebM and FLV take neither codec, MPEG-TS loses mp4v frames.
VIDEO_CONTAINERS = (".mp4", ".m4v", ".mov", ".mkv", ".avi")


def check_video_name(path: Path) -> None:
    """``OutputError`` unless ``path``'s extension names a video container emocam writes."""
    if path.suffix.lower() not in VIDEO_CONTAINERS:
        raise OutputError(
            f"The video {path} cannot be written: {_extension(path)} is not a video type "
            f"emocam writes; name it {VIDEO_CONTAINERS[0]} (or {', '.join(VIDEO_CONTAINERS[1:])})."
        )


def check_image_name(path: Path) -> None:
    """``OutputError`` unless OpenCV has an encoder for ``path``'s extension (none: PNG)."""
    if path.suffix and not cv2.haveImageWriter(str(path)):
        raise OutputError(
            f"The image {path} cannot be written: {_extension(path)} is not an image type "
            "OpenCV writes; name it .png or .jpg."
        )


def _extension(path: Path) -> str:
    return f"'{path.suffix}'" if path.suffix else "a name without an extension"


def annotated_image_suffix(src: Path) -> str:
    """The annotated copy of a photo keeps its type where OpenCV writes it; a ``.jfif`` (or a
    photo without an extension) becomes a ``.jpg`` when it is a JPEG, else a ``.png``, as a
    GIF does (256 colours would band the drawn bars' anti-aliasing and the photo)."""
    suffix = src.suffix.lower()
    if suffix and suffix != ".gif" and cv2.haveImageWriter(f"x{suffix}"):
        return suffix
    return ".jpg" if still_format_of(src) == "jpeg" else ".png"
