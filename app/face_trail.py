"""Where a face just lost probably is, so that the privacy options hide it there too.

A detector misses a face now and then for a frame or a few (partly out of the picture,
moving fast, turned); with ``--blur-faces`` each such frame showed that face sharp. The trail
keeps every face it was shown for a second (at least 5 frames) after it was last seen, over
both its last place and where its speed would take it, grown as the guess gets older, and
gives those boxes to hide. It runs after the tracker in the pipeline and in a re-analysis
alike, on the faces' ids and boxes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from emocam.track import TrackerConfig
from emocam.types import Box

# How far ahead its speed is believed: beyond that, a guess of motion is worse than none.
_MOVE_HORIZON_MS = 300.0
# How much the box grows per frame missed (its side), to cover the guess's error: a face at
# 70 px a frame that turns at the moment it is lost is still inside after a frame or two.
_GROWTH_PER_FRAME = 0.25
_MAX_GROWTH = 2.0


@dataclass
class _Seen:
    box: Box
    time_ms: float
    velocity: tuple[float, float] = (0.0, 0.0)  # centre x, y, per ms
    missed: int = 0


class FaceTrail:
    """Faces' last sightings, and where the ones missing from a frame probably are."""

    def __init__(self, config: TrackerConfig):
        # As long as the tracker keeps a missed face's id (frames or time, whichever lasts
        # longer): a face half out of the picture was missed for 8 frames running at 30 fps,
        # and shown sharp after the first 5.
        self.max_missed, self.max_missed_ms = config.max_missed, config.max_missed_ms
        self._faces: dict[int, _Seen] = {}

    def reset(self) -> None:
        """A new source or a new shot: nothing seen before carries over."""
        self._faces.clear()

    def update(self, time_ms: float, faces: Iterable[tuple[int, Box]]) -> list[Box]:
        """Note the faces ``(face_id, box)`` of a frame; return the boxes of faces seen in the
        last few frames that this one lacks, moved on to ``time_ms``."""
        here = set()
        for face_id, box in faces:
            here.add(face_id)
            before = self._faces.get(face_id)
            velocity = (0.0, 0.0)
            if before is not None and time_ms > before.time_ms:
                dt = time_ms - before.time_ms
                (bx, by), (cx, cy) = _centre(before.box), _centre(box)
                velocity = ((cx - bx) / dt, (cy - by) / dt)
            self._faces[face_id] = _Seen(box, time_ms, velocity)
        hidden = []
        for face_id, seen in list(self._faces.items()):
            if face_id in here:
                continue
            seen.missed += 1
            if seen.missed > self.max_missed and time_ms - seen.time_ms > self.max_missed_ms:
                del self._faces[face_id]
                continue
            hidden.append(_guess(seen, time_ms))
        return hidden


def _centre(box: Box) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2, y + h / 2


def _guess(seen: _Seen, time_ms: float) -> Box:
    """Where it was and where its speed would take it, both: a face being covered (a hand,
    a passer-by) stays where it is while its shrinking box seems to move, and a blur that
    followed that speed alone slid off it (a QA clip showed the face sharp 0.5 s on)."""
    dt = min(max(time_ms - seen.time_ms, 0.0), _MOVE_HORIZON_MS)
    x, y, w, h = seen.box
    dx, dy = seen.velocity[0] * dt, seen.velocity[1] * dt
    grow = min(1.0 + _GROWTH_PER_FRAME * seen.missed, _MAX_GROWTH)
    mx, my = (grow - 1.0) * w / 2, (grow - 1.0) * h / 2
    x0, y0 = min(x, x + dx) - mx, min(y, y + dy) - my
    x1, y1 = max(x, x + dx) + w + mx, max(y, y + dy) + h + my
    return (x0, y0, x1 - x0, y1 - y0)
