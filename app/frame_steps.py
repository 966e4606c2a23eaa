"""How long each frame of a source lasts: until the next one comes; the last one as long as
the frames before it did.

The annotated video and the summary's share of time both need it. A frame's own step can be
a pause (a screen recorder's still minute), so the last frame is given the recent steps'
median, not the step before it: a final frame written after a pause lasts a frame, not the
pause again.
"""

from __future__ import annotations

import statistics
from collections import deque


class FrameSteps:
    def __init__(self, keep: int = 5) -> None:
        self.last_ms: float | None = None  # the latest frame's time
        self._steps: deque[float] = deque(maxlen=keep)

    def add(self, time_ms: float) -> float | None:
        """Take the next frame's time; how long the one before it lasted (None: the first)."""
        step = None
        if self.last_ms is not None:
            step = max(time_ms - self.last_ms, 0.0)
            if step > 0:
                self._steps.append(step)
        self.last_ms = time_ms
        return step

    def last_frame_ms(self) -> float:
        """How long the latest frame lasts, as no next frame says: 0 when nothing says."""
        return float(statistics.median(self._steps)) if self._steps else 0.0
