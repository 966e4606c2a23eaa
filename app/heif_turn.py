"""The turn and mirror a HEIF-family photo (AVIF) declares for showing its picture upright.

A phone held upright stores an AVIF's picture as its sensor lies and says how to show it in
the file's item properties (``irot``: a quarter turn anticlockwise 0-3 times; ``imir``: a
mirror), not in EXIF, which these files' readers ignore. OpenCV 5's AVIF reader leaves them
out, so such a photo was read on its side: its face missed or boxed where no one sees it, and
annotated sideways. Read here from the file's boxes (ISO/IEC 23008-12), without decoding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from emocam.isobmff import boxes


@dataclass(frozen=True)
class HeifView:
    """How the primary picture of a HEIF-family file is shown: its stored size (``ispe``,
    width and height; None where unsaid) and its turns and mirrors in the order the file
    lists them, each ``("irot", quarter turns anticlockwise)`` or ``("imir", axis)``."""

    stored: tuple[int, int] | None
    steps: tuple[tuple[str, int], ...]


def _boxes(data: memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes between ``start`` and ``end``: (type, where its content starts, its end)."""
    for box in boxes(data, start, end):
        if box.end > end:
            return  # a box cut short or damaged: the decoder says what is wrong
        yield box.kind, box.content, box.end


def _child(data: memoryview, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def heif_view(data: bytes | memoryview) -> HeifView | None:
    """How to show the primary picture of the HEIF-family file ``data`` holds (AVIF, HEIC),
    or None for any other file or one whose boxes cannot be followed."""
    view = memoryview(data)
    if bytes(view[4:8]) != b"ftyp":
        return None
    try:
        meta = _child(view, 0, len(view), b"meta")
        if meta is None:
            return None
        start, end = meta[0] + 4, meta[1]  # meta is a full box: version and flags first
        pitm, iprp = _child(view, start, end, b"pitm"), _child(view, start, end, b"iprp")
        if pitm is None or iprp is None:
            return None
        primary = (struct.unpack_from(">H", view, pitm[0] + 4)[0] if view[pitm[0]] == 0
                   else struct.unpack_from(">I", view, pitm[0] + 4)[0])
        ipco, ipma = _child(view, *iprp, b"ipco"), _child(view, *iprp, b"ipma")
        if ipco is None or ipma is None:
            return None
        properties = list(_boxes(view, *ipco))
        stored, steps = None, []
        for index in _associations(view, *ipma, primary):
            if not 1 <= index <= len(properties):
                continue
            kind, at, _ = properties[index - 1]
            if kind == b"ispe":  # a full box: version and flags, then width and height
                stored = struct.unpack_from(">II", view, at + 4)
            elif kind == b"irot":
                steps.append(("irot", view[at] & 3))
            elif kind == b"imir":
                steps.append(("imir", view[at] & 1))
    except (struct.error, IndexError):
        return None
    return HeifView(stored, tuple(steps))


def _associations(data: memoryview, start: int, end: int, item: int) -> list[int]:
    """The property indices (1-based, in ``ipco``'s order) ``ipma`` lists for ``item``."""
    version, flags = data[start], int.from_bytes(data[start + 1 : start + 4], "big")
    (count,) = struct.unpack_from(">I", data, start + 4)
    at = start + 8
    for _ in range(count):
        if version < 1:
            (item_id,) = struct.unpack_from(">H", data, at)
            at += 2
        else:
            (item_id,) = struct.unpack_from(">I", data, at)
            at += 4
        n = data[at]
        at += 1
        wide = flags & 1  # 15-bit indices, else 7-bit; the top bit says "essential"
        found = []
        for _ in range(n):
            if wide:
                (value,) = struct.unpack_from(">H", data, at)
                found.append(value & 0x7FFF)
                at += 2
            else:
                found.append(data[at] & 0x7F)
                at += 1
        if item_id == item:
            return found
        if at > end:
            break
    return []


_TURNS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


def shown_upright(image: np.ndarray, view: HeifView) -> np.ndarray:
    """``image`` as decoded from the file ``view`` describes, turned and mirrored as a
    phone's photo viewer shows it. A decoder that already turned it (its size is the stored
    one turned a quarter) is left as it is; one that turned it half-way round cannot be told
    by its size, and none is known to."""
    quarter = sum(n for step, n in view.steps if step == "irot") % 2 == 1
    h, w = image.shape[:2]
    if quarter and view.stored is not None and w != h and (h, w) == tuple(view.stored):
        return image
    for step, n in view.steps:
        if step == "irot" and n:
            image = cv2.rotate(image, _TURNS[n])
        elif step == "imir":  # axis 0: top and bottom swap; 1: left and right (libavif's)
            image = cv2.flip(image, 0 if n == 0 else 1)
    return image
