"""The pixel size an image file declares in its header, read without decoding it.

A compressed image can declare far more pixels than its file size suggests: a 100 KB PNG
can say 50000x50000, which decodes to 7.5 GB of BGR pixels (a "decompression bomb").
Reading the size from the header first lets such a file be refused in one sentence before
any memory is spent. PNG, JPEG, GIF, BMP and WebP are read here; for other formats OpenCV's
own limit (``CV_IO_MAX_IMAGE_PIXELS``, 2^30 pixels) still applies when decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path

# Enough for a 200-megapixel phone photo (16320x12240); a decoded BGR copy of the largest
# allowed image takes 750 MB.
MAX_IMAGE_PIXELS = 250_000_000

# JPEG start-of-frame markers (SOF0-SOF15, except DHT, JPG and DAC, which share the range).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def declared_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the first bytes of an image file (64 KB is plenty for the
    JPEGs seen; more finds a frame header behind a large EXIF block), or None when the
    format is not one read here or the header is cut short."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return w, h
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return w, h
        if head.startswith(b"BM"):
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)  # a negative height: rows stored top-down
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
    except struct.error:
        return None  # a header cut short: the decoder says what is wrong
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if marker in _SOF:
            h, w = struct.unpack(">HH", head[i + 5 : i + 9])
            return w, h
        if marker == 0xDA:  # image data starts: no frame header came first
            return None
        i += 2 + length
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def animated(head: bytes) -> bool:
    """Whether the first bytes of a WebP or PNG file (64 KB is plenty) say it is an animation:
    a picture sequence FFmpeg plays, of which OpenCV's image reader gives only the first."""
    if head.startswith(b"RIFF") and head[8:16] == b"WEBPVP8X" and len(head) > 20:
        return bool(head[20] & 0x02)  # the VP8X flags' animation bit
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        i = 8
        while i + 8 <= len(head):  # an APNG's acTL chunk comes before the first IDAT
            (length,) = struct.unpack(">I", head[i : i + 4])
            kind = head[i + 4 : i + 8]
            if kind == b"acTL":
                return True
            if kind in (b"IDAT", b"IEND"):
                return False
            i += 12 + length
    return False


def animated_file(path: Path) -> bool:
    """:func:`animated` of the file at ``path`` (False when it cannot be read: the reader
    that follows says why)."""
    try:
        with open(path, "rb") as fh:
            return animated(fh.read(1 << 16))
    except OSError:
        return False


def still_format(head: bytes) -> str | None:
    """The still-image format the first bytes of a file show (``"jpeg"``, ``"png"``,
    ``"webp"``, ``"bmp"``, ``"tiff"``), whatever its name says; None for anything else: GIF
    (it may be animated), an animated WebP or PNG (videos, to FFmpeg)."""
    if animated(head):
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def still_format_of(path: Path) -> str | None:
    """:func:`still_format` of the file at ``path`` (None when it cannot be read: the reader
    that follows says why)."""
    try:
        with open(path, "rb") as fh:
            return still_format(fh.read(1 << 16))
    except OSError:
        return None
