"""The boxes of an ISO base media file (MP4, MOV, HEIF, AVIF), read from their headers alone.

Each box is its size (four bytes; 1: eight more after the type hold it; 0: it runs to the end
of its parent) and its four-letter type, then its content. Walking a file's top-level boxes
reads a few bytes a box, whatever its size: a recording's ``mdat`` of pictures is skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from emocam.imageheader import still_format


@dataclass(frozen=True)
class Box:
    """One box: its type, where its content starts and where its header says it ends (past
    the end of what holds it in a file cut short)."""

    kind: bytes
    content: int
    end: int


def _read(source: BinaryIO | memoryview, at: int, size: int) -> bytes:
    if isinstance(source, memoryview):
        return bytes(source[at : at + size])
    source.seek(at)
    return source.read(size)


def boxes(source: BinaryIO | memoryview, start: int, end: int) -> Iterator[Box]:
    """The boxes from ``start`` up to ``end`` of a file or of bytes in memory, in order. Stops
    at a header cut short or too small to be one; the last box may end past ``end``."""
    while start + 8 <= end:
        head = _read(source, start, 16)
        if len(head) < 8:
            return
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if len(head) < 16:
                return
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:  # to the end of its parent
            size = end - start
        if size < header:
            return  # not a box: damage, or not such a file at all
        yield Box(kind, start + header, start + size)
        start += size


# What a recording writes before its pictures: the file type, then padding that a finished
# recording may turn into a 64-bit size for its mdat (QuickTime's "wide").
_LEAD = frozenset({b"ftyp", b"wide", b"free", b"skip"})


def never_finished(path: Path) -> bool:
    """Whether ``path`` is an MP4 or MOV recording that stopped before it was finished: its
    pictures (``mdat``) but no index (``moov``), which a recorder writes when it stops, nor
    the fragments (``moof``) a fragmented recording indexes itself by as it goes."""
    mdat = False
    try:
        with open(path, "rb") as fh:
            if still_format(fh.read(32)) is not None:  # a HEIF photo keeps no moov either
                return False
            fh.seek(0, 2)
            # Stopped at the first box that settles it: a fragmented recording of hours holds
            # a moof and an mdat every second or two, each a read, which on a network share
            # kept a file OpenCV could not open from its sentence for minutes.
            for n, box in enumerate(boxes(fh, 0, fh.tell())):
                if box.kind in (b"moov", b"moof") or (n == 0 and box.kind not in _LEAD
                                                      and box.kind != b"mdat"):
                    return False
                mdat = mdat or box.kind == b"mdat"
    except OSError:
        return False
    return mdat
