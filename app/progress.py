"""The progress of ``emocam process`` on stderr: a live bar on a terminal, plain lines in a file.

A bar redraws itself with carriage returns ten times a second. In a file or a pipe (a
``nohup`` log, CI, a scheduler's log) that is one line megabytes long that ``less`` and
``grep`` cannot read. There the same bar is written as a line every ``LINE_EVERY_S``
seconds, each input's last state once more at its end.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TextIO

from tqdm import tqdm

from emocam.errors import count_text

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


@dataclass(frozen=True)
class Count:
    """What a run's bar counts, in the units its summary counts them.

    A video's frames: ``total`` is what its container says (None: a stream, or a container
    that says nothing), an estimate that a run read to its end brings down to what it read.
    A folder's photos (``by_place``): ``total`` is every photo of the folder, as the
    summary's ``photos`` counts them; a photo that cannot be read moves the bar on as one
    that is read does, those left out for their names are counted before the first
    (``before``), and a completed run ends at the total (it ended 6/6 beside "2 of 8").
    """

    total: int | None
    unit: str = "frame"
    before: int = 0
    by_place: bool = False

    def at(self, done: int, index: int) -> int:
        """The bar's count once frame ``index`` is done, the ``done``-th read."""
        return self.before + index + 1 if self.by_place else done

    def at_end(self, done: int) -> int:
        """The bar's count (and its total) once a run has read its input to the end."""
        return self.total if self.by_place and self.total is not None else done


# The rate is always per second ("0.40 photos/s"): tqdm's seconds per unit, below one a
# second, read "2.50s/ photos" with the unit in words.
_KNOWN = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
_UNKNOWN = "{counted} [{elapsed}, {rate_noinv_fmt}{postfix}]"


class _Bar(tqdm):
    """tqdm with its count in words where there is no total: "180 frames [00:02, 81.16
    frames/s]" (tqdm's own read "180frame [00:02, 81.16frame/s]")."""

    def __init__(self, *args: Any, noun: str, **kwargs: Any) -> None:
        self._noun = noun
        super().__init__(*args, unit=f" {noun}s", **kwargs)

    @property
    def format_dict(self) -> dict[str, Any]:  # tqdm's documented place for a custom format
        d = super().format_dict
        n, total = d["n"], d["total"]
        if total and n < total + 0.5:  # tqdm's own test: a count past its total has none
            d["bar_format"] = _KNOWN
        else:
            d["bar_format"] = ("{desc}: " if d["prefix"] else "") + _UNKNOWN
            # Every digit, as tqdm's own count: ":g" read 1,234,567 frames "1.23457e+06".
            d["counted"] = count_text(int(n), self._noun)
        return d


def progress_bar(total: int | None, desc: str, enabled: bool,
                 stream: TextIO | None = None, unit: str = "frame", initial: int = 0) -> tqdm:
    """A bar counting frames (``unit``: what one is, in words; ``total``: None where the
    count is unknown: the bar then shows the count and the time so far, no end);
    ``enabled`` False gives a bar that writes nothing, so the loop that updates it stays
    the same."""
    stream = stream or sys.stderr
    if _is_terminal(stream) or not enabled:
        return _Bar(total=total, noun=unit, file=stream, disable=not enabled, initial=initial,
                    dynamic_ncols=True, smoothing=0.1, desc=desc)
    # maxinterval too: tqdm's monitor thread redraws a bar every maxinterval (10 s) else.
    return _Bar(total=total, noun=unit, file=_Lines(stream), mininterval=LINE_EVERY_S,
                maxinterval=LINE_EVERY_S, ncols=100, ascii=True, smoothing=0.1, desc=desc,
                initial=initial)
