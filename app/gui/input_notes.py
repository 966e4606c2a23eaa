"""What the reading of a file warns of, shown in the window's banner.

The readers log it (a photo cut short, a TIFF's other pages left unread, a picture that
changes size mid-way, photos left out of a folder): the log reaches only a terminal, and the
app is most often started from a menu, so the user saw none of it. Each warning that names
the file now playing is shown once; those logged while a file was tried before it played
(another one still on screen) are kept a little, and shown when it starts.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Signal

# The modules that read inputs: their warnings are about the file being read.
_READERS = ("emocam.sources", "emocam.picture_sizes")


class _Forward(logging.Handler):
    def __init__(self, notes: InputNotes) -> None:
        super().__init__(logging.WARNING)
        self._notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: not ours to say
            return
        try:
            self._notes.add(text)
        except RuntimeError:  # its window is gone without closing (a test's): let go
            for name in _READERS:
                logging.getLogger(name).removeHandler(self)


class InputNotes(QObject):
    noted = Signal(str)  # emitted from whichever thread read the file: queued to the window

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._recent: deque[str] = deque(maxlen=50)
        self._lock = threading.Lock()
        self._handler = _Forward(self)
        for name in _READERS:
            logging.getLogger(name).addHandler(self._handler)

    def add(self, text: str) -> None:
        with self._lock:
            self._recent.append(text)
        self.noted.emit(text)

    def of(self, path: Path) -> list[str]:
        """The recent warnings that name ``path``, oldest first."""
        with self._lock:
            return [t for t in self._recent if names(t, path)]

    def close(self) -> None:
        for name in _READERS:
            logging.getLogger(name).removeHandler(self._handler)


def names(text: str, path: Path) -> bool:
    return str(path) in text


def shown(text: str, path: Path) -> str:
    """``text`` with ``path`` shortened to its name: the banner has little room."""
    return text.replace(str(path), path.name)
