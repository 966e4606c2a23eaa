"""Playing a file for a display, Qt-free: real-time pacing and seeking.

The desktop app's source worker (``emocam.gui.workers``) drives these from its thread and
adds only what needs Qt: signals to the window. Here they are plain Python, so their tests
run where PySide6 is not installed. (A live source's newest-frame reading: emocam.newest.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from emocam.source_base import Source
from emocam.types import Frame

# A frame due longer ago than this is not caught up with: the clock restarts at it, so a
# slow CPU plays on at the speed it can instead of rushing through a backlog.
FAR_BEHIND_S = 0.25
# Faster than real time, a frame due longer ago than this is passed over: 4x asks for the
# clip in a quarter of its length, which every frame through the pipeline does not give (a
# QA pass's 720p clip of six faces played at 1.4x).
PASS_OVER_LATE_S = 0.02
# The longest single wait while holding a frame: a command (seek, pause, speed) is noticed
# at least this often even when nothing wakes the waiter.
MAX_WAIT_S = 0.05


class Pacer:
    """Holds each frame of a file until it is due at real time x speed.

    The clock is anchored at a frame (wall time, media time); later frames are due at the
    anchor plus their media time since, divided by the speed. ``reset`` re-anchors at the
    next frame: after a seek, a pause or the end of the file.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._anchor: tuple[float, float] | None = None  # (wall time s, media time ms)
        self._shown: float | None = None  # wall time the last frame held was let through

    def reset(self) -> None:
        self._anchor = None
        self._shown = None

    def passes_over(self, time_ms: float, speed: float) -> bool:
        """Whether to pass over the frame at ``time_ms`` unprocessed: only faster than real
        time (at 1x and slower every frame is read, at the pace the machine can), when it
        is already late, and while a frame was shown under ``FAR_BEHIND_S`` ago, so the
        picture moves on even where decoding alone cannot keep up."""
        if speed <= 1.0 or self._anchor is None or self._shown is None:
            return False
        now = self._clock()
        due = self._anchor[0] + (time_ms - self._anchor[1]) / 1000.0 / speed
        return now - due > PASS_OVER_LATE_S and now - self._shown < FAR_BEHIND_S

    def hold(self, time_ms: float, speed: float, wait: Callable[[float], bool]) -> None:
        """Return once the frame at ``time_ms`` is due. ``wait(seconds)`` sleeps at most that
        long and returns True to stop holding (a command arrived or the worker stops)."""
        now = self._clock()
        if self._anchor is None:
            self._anchor = (now, time_ms)
        else:
            due = self._anchor[0] + (time_ms - self._anchor[1]) / 1000.0 / speed
            if due - now < -FAR_BEHIND_S:
                self._anchor = (now, time_ms)
            while (left := due - self._clock()) > 0:
                if wait(min(left, MAX_WAIT_S)):
                    break
        self._shown = self._clock()


class Seeker:
    """A file source and where its frames continue from, also for sources that cannot seek:
    those are opened again and decoded up to the frame (``reopen``)."""

    def __init__(self, source: Source, reopen: Callable[[], Source]) -> None:
        self.source = source
        self._reopen = reopen

    def seek(self, index: int) -> Iterator[Frame]:
        """Frames from ``index`` on (the last frame when ``index`` is past the end)."""
        source = self.source
        if source.frame_count:
            index = min(index, source.frame_count - 1)
        # getattr: a stand-in source (tests, benchmarks) need not be a Source with seek().
        seek = getattr(source, "seek", None)
        if callable(seek):
            seek(index)
            return iter(source)
        source.close()
        source = self.source = self._reopen()
        frames = iter(source)
        for _ in range(index):
            if next(frames, None) is None:
                break
        return frames
