"""Ctrl-C in the terminal, or SIGTERM (a logout, ``kill``, a service manager), closes the
window as its close button does: the source stops, a recording is finished, settings are kept.

Python runs a signal handler only when the interpreter next gets control, and inside Qt's
event loop it may not get it at all (a paused or finished video runs no Python), so a plain
handler would leave the app running. The C-level handler writes the signal's number to a
socket (``signal.set_wakeup_fd``); a ``QSocketNotifier`` on the other end wakes the event loop.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType

from PySide6.QtCore import QObject, QSocketNotifier

from emocam.stopping import ours

log = logging.getLogger(__name__)

SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)


class StopOnSignal(QObject):
    """Calls ``stop`` once, on the event loop's thread, for the first SIGINT or SIGTERM.

    Install from the main thread; ``close`` puts the previous handlers back."""

    def __init__(self, stop: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stop = stop
        self.received: int | None = None  # the signal that stopped the app, if one did
        self._read, self._write = socket.socketpair()
        for sock in (self._read, self._write):
            sock.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._old = {s: signal.signal(s, _ignore_here) for s in ours(SIGNALS)}
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)

    def _wake(self, *_args: object) -> None:
        try:
            data = self._read.recv(64)
        except BlockingIOError:
            return
        numbers = [n for n in data if n in SIGNALS]
        if not numbers or self.received is not None:
            return
        self.received = numbers[0]
        log.warning("closing (%s)", signal.Signals(self.received).name)
        self._stop()

    def close(self) -> None:
        self._notifier.setEnabled(False)
        for s, handler in self._old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._old_fd)
        self._read.close()
        self._write.close()


def _ignore_here(_signum: int, _frame: FrameType | None) -> None:
    # The work happens in StopOnSignal._wake; a Python-level handler must still be set, or
    # the signal's default action (ending the process at once) would run.
    pass
