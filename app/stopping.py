"""Stopping a run cleanly: the first Ctrl-C, SIGTERM or SIGHUP asks the run loop to stop
after the frame it is on, so every output is closed valid; a second one interrupts at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from emocam.errors import STOP_SIGNALS

log = logging.getLogger(__name__)


class Stop:
    """Set by a signal (or the app's Cancel): the run loop stops after the current frame."""

    requested = False


@contextmanager
def graceful_stop() -> Iterator[Stop]:
    """While inside, the first Ctrl-C, SIGTERM or SIGHUP asks the loop to stop after this
    frame; a second one interrupts at once."""
    stop = Stop()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        log.warning("stopping after this frame (%s)", signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread; a worker stops via on_frame
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, *STOP_SIGNALS)}
    for s in old:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)
