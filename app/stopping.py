"""Stopping a run cleanly: the first Ctrl-C, SIGTERM or SIGHUP asks the run loop to stop
after the frame it is on, so every output is closed valid; a second one interrupts at once.

Before a run has written anything, Ctrl-C ends the process at once (``ends_at_once``): the
start is mostly imports, and a KeyboardInterrupt raised inside one is not always an exception
Python lets through: in a C extension's initialisation it becomes an ImportError, and in the
import system's module-lock callback it is printed as "Exception ignored" and lost, so the
run went on.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from emocam.errors import EXIT_INTERRUPTED, STOP_SIGNALS

# The stop signals this process was started with ignored, looked at when this module is
# first imported (the command's entry point does that before anything else): Ctrl-C in a
# script's background job (`emocam process ... &`), hang-ups under `nohup`. They stay ignored
# for the whole run, as whoever started it meant; before, a nohup run stopped when its
# terminal closed, and a background job obeyed the Ctrl-C it was started deaf to once its
# frames began.
INHERITED_IGNORED = frozenset(
    s for s in (signal.SIGINT, *STOP_SIGNALS) if signal.getsignal(s) is signal.SIG_IGN)


# Set by a parent that starts its child with Ctrl-C blocked for the child's start only: a
# Ctrl-C while a child's Python started was Python's own traceback (fer-train's export under
# TensorFlow). Blocked, not ignored: one landing meanwhile waits, and is acted on when the
# child's entry point unblocks it (``hear_ctrl_c_if_asked``).
HEAR_AFTER_START = "EMOCAM_HEARS_CTRL_C_AFTER_START"


def hear_ctrl_c_if_asked() -> None:
    """In a child started with Ctrl-C blocked: unblock it. One that came meanwhile is raised
    here, as KeyboardInterrupt: call it where that is handled."""
    if os.environ.pop(HEAR_AFTER_START, None) == "1" and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def ours(signals: tuple[int, ...] = (signal.SIGINT, *STOP_SIGNALS)) -> tuple[int, ...]:
    """Of ``signals``, those emocam may handle: not those it was started to ignore."""
    return tuple(s for s in signals if s not in INHERITED_IGNORED)


def _end_now(_signum: int, _frame: FrameType | None) -> None:
    # Not an exception: see the module's docstring. sys.stderr, not descriptor 2: the command
    # points 2 at /dev/null to quiet native libraries and keeps the real one for Python.
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 2
    os.write(fd, b"emocam: interrupted.\n")
    os._exit(EXIT_INTERRUPTED)


@contextmanager
def ends_at_once() -> Iterator[None]:
    """While inside, Ctrl-C ends the process at once with the usual status: only for work
    that writes nothing (imports, loading models). Does nothing where Ctrl-C is ignored (a
    background job) or off the main thread."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield
        return
    old = signal.signal(signal.SIGINT, _end_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class Stop:
    """Set by a signal (or the app's Cancel): the run loop stops after the current frame."""

    requested = False
    signal_name = ""  # the signal that asked, for the loop to name when it stops


@contextmanager
def graceful_stop(stop: Stop | None = None) -> Iterator[Stop]:
    """While inside, the first Ctrl-C, SIGTERM or SIGHUP asks the loop to stop after this
    frame; a second one interrupts at once. Given the ``Stop`` of an earlier stretch (a
    run's set-up), it goes on with it: a request made there is still the loop's to see."""
    stop = stop or Stop()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        # Nothing written here: the handler runs inside whatever the main thread was doing,
        # which may be a write to stderr (the progress bar) that the signal interrupted, and
        # writing into that stream again raises "reentrant call" and ends the run unclean.
        stop.requested = True
        stop.signal_name = signal.Signals(signum).name

    with _stop_signals_to(handler):  # in a thread, none: a worker stops via on_frame
        yield stop


@contextmanager
def _stop_signals_to(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP handled by ``handler`` while inside, then as before.
    Signals reach only the main thread: elsewhere nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in ours()}
    for s in old:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class HeldSignals:
    """Ctrl-C, SIGTERM and SIGHUP noted instead of acted on from ``hold()`` until the end of
    the ``with``, then handed to the handler that was there. A run enters it first, so that
    it ends last, and holds from the end of its frame loop: a Ctrl-C while its outputs are
    closed and its set put in place waits for that, instead of leaving a summary that calls
    a finished set unfinished beside a report that says otherwise. An error on its way ends
    the run anyway: a held signal is then dropped, not raised over it.

    A signal held while a run that completed closed is not raised either (the default
    handler's KeyboardInterrupt said "interrupted", status 130, of complete outputs): it is
    in ``late``, for the caller to say so and to start nothing more."""

    def __init__(self) -> None:
        self._before: dict[int, Any] = {}
        self._caught: list[int] = []
        self.late = ""  # the name of the signal held, once the ``with`` has ended

    def __enter__(self) -> HeldSignals:
        return self

    def hold(self) -> None:
        if self._before or threading.current_thread() is not threading.main_thread():
            return  # held already; elsewhere signals do not land
        self._before = {s: signal.signal(s, lambda signum, _f: self._caught.append(signum))
                        for s in ours()}

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        for s, handler in self._before.items():
            signal.signal(s, handler)
        self._before = {}
        if self._caught and exc_type is None:
            self.late = signal.Signals(self._caught[0]).name


@dataclass
class Count:
    """How many stop signals came: a loop takes them in turn, at a point of its choosing."""

    n: int = 0


@contextmanager
def counted_stops() -> Iterator[Count]:
    """While inside, Ctrl-C, SIGTERM and SIGHUP are only counted: no exception lands in the
    middle of the caller's bookkeeping (a batch's parent recording an outcome), which reads
    the count between its steps. Outside the main thread nothing is installed."""
    count = Count()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        count.n += 1

    with _stop_signals_to(handler):
        yield count
