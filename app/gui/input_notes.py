"""What the reading of a file warns of, shown in the window's banner.

The readers log it (a photo cut short, a TIFF's other pages left unread, a picture that
changes size mid-way, photos left out of a folder): the log reaches only a terminal, and the
app is most often started from a menu, so the user saw none of it. Each warning that names
the file now playing is shown once; those logged while the file was tried, another one still
on screen, are shown when it starts (not those of an earlier opening of it).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Signal

# The modules that read inputs: their warnings are about the file being read.
_READERS = ("emocam.sources", "emocam.picture_sizes")


class _Forward(logging.Handler):
    def __init__(self, notes: InputNotes) -> None:
        super().__init__(logging.WARNING)
        self._notes = notes
        self._gone = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._gone:
            return
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: not ours to say
            return
        try:
            self._notes.add(text)
        except RuntimeError:
            # Its window was deleted without closing (a test's). Not removed here: removing
            # a handler while the logger loops over them skips the next one.
            self._gone = True


class InputNotes(QObject):
    noted = Signal(str)  # emitted from whichever thread read the file: queued to the window

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._recent: deque[tuple[float, str]] = deque(maxlen=50)
        self._lock = threading.Lock()
        self._handler = _Forward(self)
        for name in _READERS:
            logging.getLogger(name).addHandler(self._handler)

    def add(self, text: str) -> None:
        with self._lock:
            self._recent.append((time.monotonic(), text))
        self.noted.emit(text)

    def of(self, path: Path, since: float) -> list[str]:
        """The warnings that name ``path`` logged from ``since`` (a time.monotonic()) on,
        oldest first."""
        with self._lock:
            return [t for at, t in self._recent if at >= since and names(t, path)]

    def close(self) -> None:
        for name in _READERS:
            logging.getLogger(name).removeHandler(self._handler)


def names(text: str, path: Path) -> bool:
    """Whether ``text`` names ``path`` or, for a folder, a file in it: the path followed by
    the end, a space, a separator or punctuation ending a clause, not by more of a name
    (``/p/trip`` is not named by ``/p/trip.tif`` or ``/p/trip2/a.jpg``)."""
    seps = re.escape(os.sep + (os.altsep or ""))
    return re.search(re.escape(str(path)) + rf"(?=$|[\s;:,)'\"{seps}]|\.(?:\s|$))",
                     text) is not None


def shown(text: str, path: Path) -> str:
    """``text`` with ``path`` shortened to its name: the banner has little room."""
    return text.replace(str(path), path.name)
