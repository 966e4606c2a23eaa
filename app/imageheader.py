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
from typing import BinaryIO

# Enough for a 200-megapixel phone photo (16320x12240); a decoded BGR copy of the largest
# allowed image takes 750 MB.
MAX_IMAGE_PIXELS = 250_000_000
# A video's frames are decoded, queued, drawn on and encoded several at a time: 70 megapixels
# a frame holds a 12K picture (11520x5760, the largest 360-degree cameras'); a 20 MB video of
# 16000x16000 frames took 7-11 GB of memory.
MAX_VIDEO_PIXELS = 70_000_000

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


def animated_file(path: Path) -> bool:
    """Whether the file at ``path`` is an animated PNG, WebP or GIF of two pictures or more:
    a picture sequence FFmpeg plays, of which OpenCV's image reader gives only the first."""
    return pictures_in(path) >= 2


def pictures_in(path: Path, most: int = 2) -> int:
    """How many pictures an animated PNG, WebP or GIF at ``path`` holds (a WebP's or GIF's
    counted up to ``most``), 1 for any other file, or 0 when it cannot be read (the reader
    that follows says why). Read by walking the chunk headers, seeking past their data: an
    APNG's animation chunk may follow large metadata."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            if head.startswith(b"\x89PNG\r\n\x1a\n"):
                return _apng_pictures(fh)
            if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
                return _webp_pictures(fh, most)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return _gif_pictures(fh, most)
    except (OSError, struct.error, ValueError):  # ValueError: a GIF cut short in its header
        return 0
    return 1


def _apng_pictures(fh: BinaryIO) -> int:
    """The picture count an APNG's acTL chunk declares (it comes before the first IDAT);
    1 for a plain PNG."""
    fh.seek(8)
    while header := fh.read(8):
        length, kind = struct.unpack(">I4s", header)
        if kind == b"acTL":
            (pictures,) = struct.unpack(">I", fh.read(4))
            return pictures
        if kind in (b"IDAT", b"IEND"):
            break
        fh.seek(length + 4, 1)  # the data and its CRC
    return 1


def _webp_pictures(fh: BinaryIO, most: int) -> int:
    """How many animation frames (ANMF chunks) a WebP holds, counting up to ``most``."""
    fh.seek(12)
    frames = 0
    while frames < most and (header := fh.read(8)):
        kind, size = struct.unpack("<4sI", header)
        if kind in (b"VP8 ", b"VP8L"):  # a still picture's data: no animation
            break
        frames += kind == b"ANMF"
        fh.seek(size + (size & 1), 1)  # chunks are padded to an even size
    return max(frames, 1)


def _gif_pictures(fh: BinaryIO, most: int) -> int:
    """How many images a GIF holds, counting up to ``most``: its blocks are walked (an
    extension or an image is a chain of sub-blocks, each led by its length) to the trailer
    or the end of a file cut short."""
    fh.seek(10)
    (flags,) = fh.read(1)
    fh.seek(2, 1)  # background colour, pixel aspect
    if flags & 0x80:  # a global colour table
        fh.seek(3 << ((flags & 7) + 1), 1)
    images = 0
    while images < most and (kind := fh.read(1)):
        if kind == b"\x2c":  # an image: its descriptor, colour table, LZW code size, data
            descriptor = fh.read(9)
            if len(descriptor) < 9:
                break
            images += 1
            if descriptor[8] & 0x80:
                fh.seek(3 << ((descriptor[8] & 7) + 1), 1)
            fh.seek(1, 1)
        elif kind == b"\x21":  # an extension: its label, then sub-blocks
            fh.seek(1, 1)
        else:  # the trailer (0x3b), or bytes no GIF has
            break
        while (size := fh.read(1)) and size[0]:
            fh.seek(size[0], 1)
    return max(images, 1)


def tiff_pages(data: bytes | memoryview, most: int = 2) -> int:
    """How many pages (image file directories) a TIFF's bytes chain, up to ``most``; 1 when
    the chain cannot be followed in ``data`` (a damaged file, or pages beyond it)."""
    order = "<" if bytes(memoryview(data)[:2]) == b"II" else ">"
    pages, seen = 0, set()
    try:
        (offset,) = struct.unpack_from(f"{order}I", data, 4)
        while offset and offset not in seen and pages < most:
            seen.add(offset)
            (entries,) = struct.unpack_from(f"{order}H", data, offset)
            pages += 1
            (offset,) = struct.unpack_from(f"{order}I", data, offset + 2 + 12 * entries)
    except struct.error:
        pass
    return max(pages, 1)


def still_format(head: bytes) -> str | None:
    """The still-image format the first bytes of a file show (``"jpeg"``, ``"png"``,
    ``"webp"``, ``"bmp"``, ``"tiff"``, ``"gif"``, and a phone's ``"heic"``, ``"heif"`` or
    ``"avif"`` from 32 bytes), whatever its name says; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    # A bitmap's info header has one of these sizes: a text file beginning "BM" is no image.
    if head.startswith(b"BM") and len(head) >= 26 and int.from_bytes(head[14:18], "little") in (
            12, 40, 52, 56, 64, 108, 124):
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        return _heif_format(head)
    return None


# The brands of HEIF-family photos (ISO/IEC 23008-12, AV1 Image File Format): a video's ftyp
# names others (isom, mp42, qt).
_AVIF_BRANDS = frozenset({b"avif"})
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis"})
_HEIF_BRANDS = frozenset({b"mif1", b"mif2"})


def _heif_format(head: bytes) -> str | None:
    """"avif", "heic" or "heif" by the brands of the ftyp box at the start of ``head``: its
    major brand first, then those it is compatible with (up to the end of ``head``)."""
    end = min(int.from_bytes(head[:4], "big"), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in brands:
        if brand in _AVIF_BRANDS:
            return "avif"
        if brand in _HEIC_BRANDS:
            return "heic"
    return "heif" if any(b in _HEIF_BRANDS for b in brands) else None


def still_format_of(path: Path) -> str | None:
    """:func:`still_format` of the file at ``path``, None for an animation (a video, to
    FFmpeg) and when it cannot be read (the reader that follows says why)."""
    try:
        with open(path, "rb") as fh:
            found = still_format(fh.read(32))
    except OSError:
        return None
    return None if found in ("png", "webp", "gif") and animated_file(path) else found
