"""Keeping only the newest frame of a live source, read on its own thread.

A slow consumer gets the latest picture, never a queue of stale ones. The camera
(``emocam.camera_source.CameraSource``) reads its driver through this, and the app's source worker
reads any live source through it, so its loop answers commands while no frame comes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestFrame(Generic[T]):
    """A daemon thread iterating ``items``; ``take`` or ``wait`` hand out the newest one with
    the clock time it arrived, and drop any it replaced.

    ``done`` is set when the items end or raise (the exception is in ``error``); ``wake``,
    when given, is set on every arrival and at the end.
    """

    def __init__(
        self,
        items: Iterable[T],
        *,
        wake: threading.Event | None = None,
        clock: Callable[[], float] = time.perf_counter,
        name: str = "emocam-capture",
    ) -> None:
        self._items, self._wake, self._clock = items, wake, clock
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._newest: tuple[T, float] | None = None
        self.last_at = clock()  # when the last item arrived (start: when reading began)
        self.error: BaseException | None = None
        self.done = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._items:
                with self._cond:
                    self.last_at = self._clock()
                    self._newest = (item, self.last_at)
                    self._cond.notify_all()
                if self._wake is not None:
                    self._wake.set()
                if self._stop.is_set():
                    break
        except Exception as e:  # the consumer reports it as a source failure
            self.error = e
        finally:
            with self._cond:
                self.done = True
                self._cond.notify_all()
            if self._wake is not None:
                self._wake.set()

    def take(self) -> tuple[T, float] | None:
        """The newest item and when it arrived, or None when none came since the last take."""
        with self._cond:
            item, self._newest = self._newest, None
        return item

    def wait(self, timeout: float) -> tuple[T, float] | None:
        """As ``take``, waiting up to ``timeout`` seconds for an item (less once done or
        stopped)."""
        with self._cond:
            if self._newest is None and not self.done and not self._stop.is_set():
                self._cond.wait(timeout)
            item, self._newest = self._newest, None
        return item

    @property
    def alive(self) -> bool:
        """Whether the reading thread still runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to end and wait up to ``timeout``; False if it is still running
        (blocked in the source: it is a daemon, and ends with the process)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()
