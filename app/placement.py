"""Where each face's label chip and probability panel go: pure geometry, shared by the app
and the export.

The app places panels in screen pixels (its text is drawn at screen resolution), the
exported video in its own pixels; both call :func:`place_panels` with the sizes their text
gives. The rules:

- a face's label chip (id, emotion, %) sits against its box, above it where there is room;
  where another face's chip is already there, under the box or inside its top edge, so a
  face's id is not hidden by another's where there is room (:func:`place_chips`);
- a panel never covers a face box, a face's label chip or another panel when the canvas has
  room for it; the full panel is tried first, then a compact one (the likeliest classes),
  and when neither fits the face keeps only its label chip;
- a face keeps its panel's side from frame to frame while that place stays free. A new
  place must be free by a margin (``PanelSizes.hysteresis``), so a face that moves a
  little does not make its panel flip between two sides.

Faces are placed in id order, so an older face keeps its place when a new one arrives.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SIDES = ("right", "left", "below", "above")  # preference order for a new placement


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def inside(self, width: int, height: int) -> bool:
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height

    def grown(self, by: int) -> Rect:
        return Rect(self.x - by, self.y - by, self.w + 2 * by, self.h + 2 * by)

    def overlap(self, other: Rect) -> int:
        """Area the two rectangles share (0 when they only touch)."""
        w = min(self.right, other.right) - max(self.x, other.x)
        h = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(0, w) * max(0, h)

    def union(self, other: Rect) -> Rect:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Rect(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)


def box_rect(box: Sequence[float]) -> Rect:
    x, y, w, h = box[:4]
    return Rect(round(x), round(y), round(w), round(h))


@dataclass(frozen=True)
class PanelSizes:
    """What the renderer's text makes of a panel, in canvas pixels."""

    full: tuple[int, int]  # width, height with every class
    compact: tuple[int, int]  # width, height with ``compact_rows`` classes
    rows: int  # classes in a full panel
    compact_rows: int
    gap: int  # between a face and its panel
    hysteresis: int  # how much clearer a new place must be than just free

    def tiers(self) -> tuple[tuple[int, tuple[int, int]], ...]:
        """(rows, size) from the most to the least informative panel."""
        if self.compact_rows >= self.rows:
            return ((self.rows, self.full),)
        return ((self.rows, self.full), (self.compact_rows, self.compact))


@dataclass(frozen=True)
class FaceMarks:
    """One face as the placement sees it: its box and its label chip (canvas pixels)."""

    face_id: int
    box: Rect
    chip: Rect | None = None
    short: bool = False  # the chip holds the face's id alone: its whole label had no room

    @property
    def area(self) -> Rect:
        return self.box if self.chip is None else self.box.union(self.chip)


@dataclass(frozen=True)
class Placement:
    side: str  # one of SIDES, or "" for no panel (label chip only)
    rows: int  # classes shown; 0 = no panel
    rect: Rect | None
    slot: int = 0  # where along its side: 0 from the face's top/left, 1 from its bottom/right


NO_PANEL = Placement("", 0, None)


@dataclass
class PlacementMemory:
    """Each face's last placement: what makes panels and label chips stay put (one per
    video or view)."""

    last: dict[int, Placement] = field(default_factory=dict)
    chips: dict[int, str] = field(default_factory=dict)  # the side of each face's chip

    def clear(self) -> None:
        self.last.clear()
        self.chips.clear()


def chip_rect(box: Rect, size: tuple[int, int], canvas: tuple[int, int]) -> Rect:
    """Where a face's label chip goes on its own: on top of its box, or under it when the
    box touches the top of the canvas; kept inside the canvas sideways."""
    w, h = size
    cw, ch = canvas
    y = box.y - h if box.y - h >= 0 else min(box.bottom, ch - h)
    x = max(0, min(box.x, cw - w))
    return Rect(x, y, w, h)


CHIP_SIDES = ("top", "below", "inside")  # "top": chip_rect's own place


def _chip_at(side: str, box: Rect, size: tuple[int, int], canvas: tuple[int, int]
             ) -> Rect | None:
    """The chip on one side of its box, kept inside the canvas sideways; None when that side
    has no room (inside: a box less than twice the chip's height)."""
    if side == "top":
        return chip_rect(box, size, canvas)
    w, h = size
    cw, ch = canvas
    x = max(0, min(box.x, cw - w))
    if side == "below":
        y = box.bottom
    elif box.h >= 2 * h:
        y = box.y
    else:
        return None
    r = Rect(x, y, w, h)
    return r if r.inside(cw, ch) else None


def place_chips(chips: Sequence[tuple[int, Rect, tuple[int, int]]], canvas: tuple[int, int],
                memory: PlacementMemory | None = None,
                short: dict[int, tuple[int, int]] | None = None) -> dict[int, Rect]:
    """Each face's label chip by face id, from (face id, box, chip size): at its usual place
    (:func:`chip_rect`) unless a chip placed before it is there, then under its box, then
    inside the box's top edge, so two faces close together do not hide each other's id
    (where none of those is free, the usual place).
    Where whole chips still cover each other, those faces get a chip of their ``short``
    size (the id alone) and all are placed again: in a crowd of small faces, whole labels
    ("#3 happiness 100%") covered each other's ids (sixteen faces in a small window).
    Faces are placed in id order. With ``memory`` a chip that had to move keeps its new
    side while that stays free, and goes back only once its usual place is clear by half
    its height, so it does not flicker as faces move a pixel."""
    sides = memory.chips if memory is not None else {}
    sizes = {face_id: size for face_id, _, size in chips}
    boxes = {face_id: box for face_id, box, _ in chips}
    for _ in range(4):
        placed, chosen = _place_chips(
            [(face_id, box, sizes[face_id]) for face_id, box, _ in chips], canvas, sides)
        covered = {k for i, j in itertools.combinations(placed, 2)
                   if placed[i].overlap(placed[j]) for k in (i, j)}
        # ... and the whole chips that hold the places where those ids alone would go.
        room = [chip_rect(boxes[i], short[i], canvas) for i in covered if short and i in short]
        covered |= {i for i, r in placed.items() if any(r.overlap(u) for u in room)}
        shorter = {i for i in covered if short and i in short and sizes[i] != short[i]}
        if not shorter:
            break
        sizes.update({i: short[i] for i in shorter})  # type: ignore[index]
    if memory is not None:
        memory.chips = chosen
    return placed


def _place_chips(chips: Sequence[tuple[int, Rect, tuple[int, int]]], canvas: tuple[int, int],
                 sides: dict[int, str]) -> tuple[dict[int, Rect], dict[int, str]]:
    placed: dict[int, Rect] = {}
    chosen: dict[int, str] = {}
    for face_id, box, size in sorted(chips, key=lambda c: c[0]):
        taken = list(placed.values())
        usual = chip_rect(box, size, canvas)
        prev = sides.get(face_id, "top")
        kept = _chip_at(prev, box, size, canvas) if prev != "top" else None
        if _free(usual, taken, 0 if kept is None else size[1] // 2):
            side, r = "top", usual
        elif kept is not None and _free(kept, taken, 0):
            side, r = prev, kept
        else:
            side, r = "top", usual  # nowhere free: the usual place, as before
            for s in CHIP_SIDES[1:]:
                c = _chip_at(s, box, size, canvas)
                if c is not None and _free(c, taken, 0):
                    side, r = s, c
                    break
        placed[face_id] = r
        chosen[face_id] = side
    return placed, chosen


SLOTS = (0, 1)  # along a side: level with the face's top (left) edge, then its bottom (right)


def _candidate(side: str, face: FaceMarks, size: tuple[int, int], gap: int,
               canvas: tuple[int, int], slot: int = 0) -> Rect | None:
    """The panel's rectangle on one side of the face, slid along that side to stay inside
    the canvas; None when that side has no room. Slot 1 lines the panel up with the face's
    far edge instead, so a neighbour that a panel from the near edge would clip by a few
    pixels does not cost the face its panel."""
    w, h = size
    cw, ch = canvas
    area = face.area
    if side in ("right", "left"):
        x = area.right + gap if side == "right" else area.x - gap - w
        y = max(0, min(face.box.y if slot == 0 else area.bottom - h, ch - h))
    else:
        y = area.bottom + gap if side == "below" else area.y - gap - h
        x = max(0, min(face.box.x if slot == 0 else area.right - w, cw - w))
    r = Rect(x, y, w, h)
    return r if r.inside(cw, ch) else None


def _free(r: Rect, obstacles: Iterable[Rect], margin: int) -> bool:
    grown = r.grown(margin) if margin else r
    return all(grown.overlap(o) == 0 for o in obstacles)


def _clear_of_edge(r: Rect, side: str, canvas: tuple[int, int], margin: int) -> bool:
    """``r`` stands ``margin`` clear of the picture's edge it grows toward (the one that
    ends it on ``side``; along that side it slides)."""
    cw, ch = canvas
    return {"below": r.bottom <= ch - margin, "above": r.y >= margin,
            "right": r.right <= cw - margin, "left": r.x >= margin}[side]


def _first_free(face: FaceMarks, sizes: PanelSizes, canvas: tuple[int, int],
                obstacles: list[Rect], margin: int, sides: Sequence[str],
                min_rows: int = 1, own_margin: int | None = None,
                edge_margin: int = 0) -> Placement | None:
    """The first side with room: ``margin`` clear all round it, but ``own_margin`` (default:
    the same) from the face's own marks, which a panel sits only ``gap`` beside, and
    ``edge_margin`` from the picture's edge."""
    own = face.area
    others = [o for o in obstacles if o != own]
    own_margin = margin if own_margin is None else own_margin
    for rows, size in sizes.tiers():
        if rows < min_rows:
            break
        for side in sides:
            for slot in SLOTS:
                r = _candidate(side, face, size, sizes.gap, canvas, slot)
                if (r is not None and _free(r, others, margin) and _free(r, [own], own_margin)
                        and _clear_of_edge(r, side, canvas, edge_margin)):
                    return Placement(side, rows, r, slot)
    return None


def place_panels(faces: Sequence[FaceMarks], sizes: PanelSizes, canvas: tuple[int, int],
                 memory: PlacementMemory | None = None) -> dict[int, Placement]:
    """Each face's panel placement by face id (see the module's rules). ``memory`` is read
    and updated; without it every frame is placed afresh."""
    last = memory.last if memory is not None else {}
    marks = [f.area for f in faces]
    panels: list[Rect] = []
    out: dict[int, Placement] = {}
    for face in sorted(faces, key=lambda f: f.face_id):
        obstacles = [*marks, *panels]
        prev = last.get(face.face_id)
        if prev is not None and prev.rows not in (0, sizes.rows, sizes.compact_rows):
            prev = None  # remembered under a model with another number of classes: placed anew
        kept = None
        if prev is not None and prev.rows:
            size = sizes.full if prev.rows == sizes.rows else sizes.compact
            r = _candidate(prev.side, face, size, sizes.gap, canvas, prev.slot)
            if r is not None and _free(r, obstacles, 0):
                kept = Placement(prev.side, prev.rows, r, prev.slot)
        # The same side first: a panel that must change size need not change side.
        sides = SIDES if prev is None or not prev.side else (
            prev.side, *(s for s in SIDES if s != prev.side))
        if kept is not None and kept.rows == sizes.rows:
            choice = kept
        elif kept is not None:  # compact now: grow back where it is, once clearly free of
            # the others and of the picture's edge (a jump to another side would move it as
            # well as grow it: on the sample clip a panel then changed place 4 times, where 2
            # is the rule); from its own marks the usual gap: a panel always sits that close
            # to them, so asking the margin there kept it compact for good on a still frame
            # (a paused video in a window made small, then large again).
            choice = _first_free(face, sizes, canvas, obstacles, sizes.hysteresis,
                                 (kept.side,), min_rows=kept.rows + 1, own_margin=0,
                                 edge_margin=sizes.hysteresis) or kept
        else:
            # Clear room from the others; from its own marks only the usual gap (counting the
            # margin from them too, a face left with its label never got a panel back).
            choice = _first_free(face, sizes, canvas, obstacles, sizes.hysteresis, sides,
                                 own_margin=0)
            if choice is None and (prev is None or prev.rows):
                # Just free will do for a face that had a panel (or is new), but a face
                # left with its chip alone gets one back only once there is clear room.
                choice = _first_free(face, sizes, canvas, obstacles, 0, sides)
            choice = choice or NO_PANEL
        out[face.face_id] = choice
        if choice.rect is not None:
            panels.append(choice.rect)
    if memory is not None:
        memory.last = dict(out)
    return out


Segment = tuple[tuple[int, int], tuple[int, int]]


def tie(place: Placement, area: Rect) -> list[Segment]:
    """The lines that join a panel to its face: the panel's edge that faces the face, and a
    line across the gap to the face's marks (``area``) where the two overlap along that
    edge. A panel between two faces, as near one as the other, was read as the wrong face's
    (a QA pass, six faces in 720p); both renderers draw these in the face's colour."""
    r = place.rect
    if r is None:
        return []
    if place.side in ("left", "right"):
        edge = r.right - 1 if place.side == "left" else r.x
        face_edge = area.x if place.side == "left" else area.right
        lines = [((edge, r.y), (edge, r.bottom - 1))]
        top, bottom = max(r.y, area.y), min(r.bottom, area.bottom)
        if top < bottom:
            y = (top + bottom) // 2
            lines.append(((edge, y), (face_edge, y)))
        return lines
    if place.side in ("above", "below"):
        edge = r.bottom - 1 if place.side == "above" else r.y
        face_edge = area.y if place.side == "above" else area.bottom
        lines = [((r.x, edge), (r.right - 1, edge))]
        left, right = max(r.x, area.x), min(r.right, area.right)
        if left < right:
            x = (left + right) // 2
            lines.append(((x, edge), (x, face_edge)))
        return lines
    return []
