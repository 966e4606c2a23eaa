"""What emocam takes a path for: a folder, a photo or a video, decided in one place
(``input_kind``), and the file types it knows.
"""

from __future__ import annotations

from pathlib import Path

from emocam.imageheader import (
    animated_file,
    still_format_of,
)

IMAGE_EXTS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".jpe", ".jif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2",
     ".pgm", ".ppm", ".pbm", ".gif"}
)


VIDEO_EXTS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp",
     ".ts", ".mts"}
)


# Photo formats OpenCV does not read: named as such, not as videos that cannot be opened.
UNREADABLE_PHOTO_EXTS = frozenset(
    {".heic", ".heif", ".avif", ".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf"}
)


PHONE_PHOTO_EXTS = frozenset({".heic", ".heif", ".avif"})


# The photo types that may hold an animation (a video to FFmpeg): only these are opened to
# look, not every JPEG of a folder.
MAY_ANIMATE = frozenset({".png", ".webp", ".gif"})


def input_kind(path: Path) -> str:
    """"folder", "image" or "video": what emocam takes ``path`` for, decided in this one
    place for the run, its output names, the app's export and a batch's --resume. A photo is
    known by its extension, or, without one, by its first bytes: FFmpeg opened such a photo
    as a one-frame video, sideways (no EXIF rotation), annotated into an .mp4. (Only without
    one: an .mjpeg camera stream starts as a JPEG does.) An animated WebP, PNG or GIF is a
    video: read as a photo, all but its first picture went unseen; a still GIF is a photo (it
    was a one-frame .mp4)."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTS:
        return "video" if suffix in MAY_ANIMATE and animated_file(path) else "image"
    if not suffix and still_format_of(path) is not None:
        return "image"
    return "video"
