"""One photo as a source of one frame: read whole (EXIF rotation, 16-bit, alpha, CMYK), refused
in one sentence when it cannot be.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from emocam.errors import SourceError
from emocam.heif_turn import heif_view, shown_upright
from emocam.imageheader import (
    MAX_IMAGE_PIXELS,
    declared_size,
    still_format,
    tiff_pages,
)
from emocam.input_kinds import UNREADABLE_PHOTO_EXTS
from emocam.inputs import empty, unreachable
from emocam.source_base import Source
from emocam.types import Frame
from emocam.video_source import capture

# Every source logs under one name: the app shows what reading its file warns of from it
# (emocam.gui.input_notes).
log = logging.getLogger("emocam.sources")


def read_image(path: Path) -> np.ndarray:
    """Any image file as BGR uint8: gray, alpha and 16-bit are converted; EXIF rotation is
    applied (``IMREAD_COLOR`` does that), and an AVIF's own (``heif_turn``); any characters
    in the path work (``imdecode``)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ELOOP):  # a link to nothing, a loop: their cause
            raise SourceError(unreachable(path, e)) from e
        raise SourceError(f"The image {path} cannot be read ({e.strerror}); check it.") from e
    if not data.size:
        raise SourceError(empty(path))
    _refuse_huge(path, data)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as e:  # OpenCV's own size limit, or a decoder that gave up loudly
        too_big = "MAX_IMAGE" in str(e)
        why = "declares more pixels than OpenCV decodes" if too_big else "cannot be decoded"
        raise SourceError(f"The image {path} {why}; it may be corrupt or not an image.") from e
    except MemoryError as e:
        raise SourceError(
            f"The image {path} is too large to decode in the memory available; scale it down."
        ) from e
    kind = still_format(data[:32].tobytes()) if image is None else None
    if kind == "gif":
        image = _first_picture(path)  # OpenCV before 4.11 reads no GIF; its FFmpeg does
    elif kind == "jpeg":
        # A JPEG cut short (a copy that stopped): imdecode gives nothing where imread, as
        # photo viewers do, gives the part there is (imread cannot open every path, so it
        # comes second).
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            log.warning("The image %s is damaged or cut short; the part of it that could be "
                        "decoded was read (its lower part may be grey).", path)
    if image is None:
        # Known by its content first: an iPhone's HEIC saved or renamed as .jpg was "cannot
        # be decoded; it may be corrupt or not an image".
        by_content = kind in ("heic", "heif", "avif")
        unread = (kind.upper() if by_content and kind is not None
                  else path.suffix.lstrip(".").upper()
                  if path.suffix.lower() in UNREADABLE_PHOTO_EXTS else None)
        # Unless this OpenCV has a reader for its kind (OpenCV 5 reads AVIF): then it is the
        # file that is damaged (a cut AVIF was "an AVIF photo, which emocam cannot read").
        if unread is not None and not _has_reader(path, unread):
            article = "an" if unread[0] in "AEIOU" else "a"
            named = (" (whatever its name says)"
                     if by_content and path.suffix.lower() not in UNREADABLE_PHOTO_EXTS else "")
            raise SourceError(
                f"{path} is {article} {unread} photo{named}, which emocam cannot read; convert "
                "it to JPEG or PNG (most photo viewers can export it), then process that.")
        raise SourceError(f"The image {path} cannot be decoded; it may be corrupt or not an image.")
    view = heif_view(memoryview(data))  # an AVIF's turn: OpenCV applies EXIF's only
    if view is not None:
        image = shown_upright(image, view)
    if still_format(data[:8].tobytes()) == "tiff":
        pages = tiff_pages(memoryview(data), most=1000)  # not a copy of the whole file
        if pages >= 2:
            # A scanner's or fax's multi-page TIFF: the faces on the other pages were not
            # looked for, unsaid.
            log.warning("The image %s holds %s pages; only its first is read (save each page "
                        "as an image of its own to read the others).", path,
                        f"{pages}" if pages < 1000 else "1000 or more")
    return image


def _has_reader(path: Path, kind: str) -> bool:
    """Whether this OpenCV reads photos of ``path``'s ``kind`` ("AVIF"): AVIF alone of those
    phones make, where OpenCV 5 has libavif (whose check of a file's start also takes a
    HEIC's, so the kind is asked first)."""
    if kind != "AVIF":
        return False
    try:
        return bool(cv2.haveImageReader(str(path)))
    except cv2.error:
        return False


def _first_picture(path: Path) -> np.ndarray | None:
    cap = capture(path)
    try:
        ok, image = cap.read()
        return image if ok else None
    finally:
        cap.release()


def _refuse_huge(path: Path, data: np.ndarray) -> None:
    # Checked before decoding: a small file may declare billions of pixels (a bomb).
    size = declared_size(data[: 1 << 16].tobytes())
    if size is None or size[0] * size[1] <= MAX_IMAGE_PIXELS:
        return
    w, h = size
    raise SourceError(
        f"The image {path} declares {w}x{h} pixels ({w * h / 1e6:,.0f} megapixels, "
        f"{w * h * 3 / 1e9:,.1f} GB decoded), more than the {MAX_IMAGE_PIXELS / 1e6:.0f} "
        "megapixels emocam decodes; scale it down if it is a real photo."
    )


class ImageSource(Source):
    """One image: one frame."""

    fps = 1.0
    frame_count = 1

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self._image = read_image(path)
        self.size = (self._image.shape[1], self._image.shape[0])
        self._next = 0

    def __iter__(self) -> Iterator[Frame]:
        while self._next < 1:
            self._next += 1
            yield Frame(self._image.copy(), 0, 0.0, str(self.path))

    def seek(self, index: int) -> None:
        self._next = 0 if index <= 0 else 1
