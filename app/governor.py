"""Holding a target frame rate: ``RateGovernor`` turns it into a rung of the detection
schedule's ladder (``emocam.schedule.ladder_for``). It raises the detection interval (and,
for a detector whose cost follows the image size, lowers the detection input size) while
frames take too long, and steps back when there is headroom.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from emocam.schedule import LADDER, ScheduleConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GovernorConfig:
    target_fps: float
    headroom: float = 0.7  # step back when frames take less than this share of the budget
    settle_frames: int = 10  # frames measured at a rung before judging it
    smoothing: float = 0.2  # weight of the newest frame time in the running average
    retry_s: float = 3.0  # how long a rung found too slow is not stepped back to


class RateGovernor:
    """Picks the rung of ``LADDER`` that holds ``target_fps``.

    It measures the time from one frame to the next (the pipeline plus whatever the caller
    does with the result: drawing, encoding), so it holds the rate the user sees. It steps
    to a cheaper rung while the average frame time is over budget and back while it is
    under ``headroom`` of the budget, waiting ``settle_frames`` after each step so the
    average reflects the new rung. A rung remembered as over budget is not retried for
    ``retry_s``, so it does not swing back and forth between two rungs every few frames.
    """

    def __init__(self, config: GovernorConfig, ladder: Sequence[ScheduleConfig] = LADDER):
        if not config.target_fps > 0:
            raise ValueError("target_fps must be positive")
        self.config = config
        self.ladder = tuple(ladder)
        self.rung = 0
        self._avg: float | None = None
        self._since_step = 0
        self._last: float | None = None
        self._too_slow: dict[int, float] = {}  # rung -> when it was last over budget
        self._idle = 0.0  # waiting reported since the last tick, not counted as frame time

    @property
    def budget_s(self) -> float:
        return 1.0 / self.config.target_fps

    @property
    def schedule(self) -> ScheduleConfig:
        return self.ladder[self.rung]

    def tick(self, now: float | None = None) -> ScheduleConfig:
        """Call once per frame, before its work; returns the schedule for that frame."""
        now = time.perf_counter() if now is None else now
        if self._last is not None:
            self._observe(max(now - self._last - self._idle, 0.0), now)
        self._last, self._idle = now, 0.0
        return self.schedule

    def idle(self, seconds: float) -> None:
        """Time spent waiting for a frame (a paced file, a camera): not part of the budget."""
        self._idle += max(seconds, 0.0)

    def _observe(self, frame_s: float, now: float) -> None:
        a = self.config.smoothing
        self._avg = frame_s if self._avg is None else (1 - a) * self._avg + a * frame_s
        self._since_step += 1
        if self._since_step < self.config.settle_frames:
            return
        if self._avg > self.budget_s and self.rung < len(self.ladder) - 1:
            self._too_slow[self.rung] = now
            self._step(+1)
        elif (
            self._avg < self.config.headroom * self.budget_s
            and self.rung > 0
            # A rung found too slow in the last few seconds is likely still too slow.
            and now - self._too_slow.get(self.rung - 1, -math.inf) > self.config.retry_s
        ):
            self._step(-1)

    def _step(self, d: int) -> None:
        self.rung += d
        self._since_step = 0
        log.debug("target %.0f fps: frame time %.1f ms, now %s", self.config.target_fps,
                  (self._avg or 0.0) * 1e3, self.schedule)

    def reset(self) -> None:
        """A pause in the stream (a new source) is not a slow frame."""
        self._last, self._idle = None, 0.0
