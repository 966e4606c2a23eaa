"""The progress of ``emocam process`` on stderr: a live bar on a terminal, plain lines in a file.

A bar redraws itself with carriage returns ten times a second. In a file or a pipe (a
``nohup`` log, CI, a scheduler's log) that is one line megabytes long that ``less`` and
``grep`` cannot read. There the same bar is written as a line every ``LINE_EVERY_S``
seconds, each input's last state once more at its end.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

LINE_EVERY_S = 30.0


class _Lines:
    """A stream for tqdm that turns each redraw into a line of its own."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        # tqdm writes "\r" + the bar + spaces over the last one's tail; a close adds "\n".
        line = text.replace("\r", "").rstrip()
        if line:
            self._stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or a bare stream
        return False


def progress_bar(total: int | None, desc: str, enabled: bool,
                 stream: TextIO | None = None) -> tqdm:
    """A bar counting frames (``total``: None where the count is unknown); ``enabled``
    False gives a bar that writes nothing, so the loop that updates it stays the same."""
    stream = stream or sys.stderr
    if _is_terminal(stream) or not enabled:
        return tqdm(total=total, unit="frame", file=stream, disable=not enabled,
                    dynamic_ncols=True, smoothing=0.1, desc=desc)
    # maxinterval too: tqdm's monitor thread redraws a bar every maxinterval (10 s) else.
    return tqdm(total=total, unit="frame", file=_Lines(stream), mininterval=LINE_EVERY_S,
                maxinterval=LINE_EVERY_S, ncols=100, ascii=True, smoothing=0.1, desc=desc)
