"""What several inputs show while they run, in one story whether they run one at a time or
side by side (``--jobs``, ``--dask``): how many inputs are done of how many, and how the
others that ended ended (``Tally``), and which are going now, before the bar; each input's
outcome a line above it as it ends; the inputs that failed named at the end
(``emocam.batch_cli``, ``emocam.process_command``).

One at a time, each input has a bar of its own frames. Side by side, one bar counts every
input's frames as its own bar would (``emocam.process.share_of``, beside ``count_of``): a
folder's as its photos, every photo of it, as its summary counts them; a video's as its
container says (a Matroska recording's as its picture track's length), brought down to what
was read once it is done (an estimate, as one input's bar does).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from emocam.batch_manifest import DONE, FAILED, NOT_STARTED, PARTIAL, REFUSED, Outcome
from emocam.batch_work import WorkItem
from emocam.inputs import shown_name
from emocam.process import share_of
from emocam.progress import progress_bar

_NAMES_SHOWN = 2  # the inputs going named before the bar; the others counted
_NAME_CHARS = 24  # a long name's start and end, so the bar keeps its line


def _short(name: str) -> str:
    if len(name) <= _NAME_CHARS:
        return name
    half = (_NAME_CHARS - 3) // 2
    return f"{name[:half]}...{name[-half:]}"


# How an input that ended without being done is counted, in the manifest's words: each was
# said in a line of its own as it ended. Counted "finished", a batch stopped by Ctrl-C read
# "2/3 inputs finished" with none of them done.
_NOT_DONE = {REFUSED: "refused", FAILED: "failed", PARTIAL: "stopped"}


@dataclass
class Tally:
    """How the inputs of several ended so far, for the words before their bar: the one rule
    of a batch on local workers, on Dask, and of inputs run one after another. The closing
    line counts the same: "1 of 3 inputs processed without a problem" beside "1/3 inputs
    done (2 refused)"."""

    n: int  # every input given (those settled before any work too)
    ended: dict[str, int] = field(default_factory=dict)  # by status

    def add(self, status: str) -> None:
        if status != NOT_STARTED:  # a stopped batch never began it: it did not end
            self.ended[status] = self.ended.get(status, 0) + 1

    def text(self) -> str:
        """In words: "2/3 inputs done", "0/3 inputs done (1 refused, 1 stopped)"."""
        others = ", ".join(f"{self.ended[s]} {word}" for s, word in _NOT_DONE.items()
                           if self.ended.get(s))
        return f"{self.ended.get(DONE, 0)}/{self.n} inputs done" + \
            (f" ({others})" if others else "")


def going_text(tally: Tally, going: Sequence[str]) -> str:
    """The words before a bar of several inputs: "1/3 inputs done; going: b.mp4"."""
    text = tally.text()
    if not going:
        return text
    names = ", ".join(_short(g) for g in going[:_NAMES_SHOWN])
    more = f" and {len(going) - _NAMES_SHOWN} more" if len(going) > _NAMES_SHOWN else ""
    return f"{text}; going: {names}{more}"


class BatchBar:
    """The one bar of inputs run side by side, fed by whoever runs them: which started,
    the frames each has done so far, how each ended. Thread-safe: a Dask client hears of
    the inputs going in a thread of its own."""

    def __init__(self, items: list[WorkItem], outcomes: list[Outcome], enabled: bool) -> None:
        """``outcomes``: the manifest's, one an input, those settled before any work
        (skipped by --resume, refused as done already) counted as the closing line counts
        them."""
        enabled = enabled and bool(items)  # every input settled already: no "0/0" bar
        self._tally = Tally(len(outcomes))
        for o in outcomes:
            self._tally.add(o.status)
        self._share = {i.index: share_of(Path(i.options.input)) for i in items} \
            if enabled else {}
        self._folders = {i.index for i in items if Path(i.options.input).is_dir()}
        self._going: dict[int, str] = {}
        self._counted: dict[int, int] = {}  # frames on the bar of each input going
        self._ended: set[int] = set()
        self._lock = threading.Lock()
        self.bar = progress_bar(sum(self._share.values()) or None, going_text(self._tally, []),
                                enabled)

    def __enter__(self) -> BatchBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bar.close()

    def _show(self) -> None:
        self.bar.set_description_str(
            going_text(self._tally, list(self._going.values())))

    def started(self, item: WorkItem) -> None:
        with self._lock:
            if item.index in self._ended:
                return  # heard of after its end (a cluster's message late)
            self._going[item.index] = shown_name(Path(Path(item.options.input).name))
            self._counted.setdefault(item.index, 0)
            self._show()

    def frames(self, index: int, frames: int) -> None:
        """``frames`` of input ``index`` are done (its run's count so far)."""
        with self._lock:
            if index not in self._going:
                return  # a late report of an input that ended
            self.bar.update(frames - self._counted[index])
            self._counted[index] = frames

    def lost(self, index: int) -> None:
        """Input ``index`` stopped without an outcome (its worker died): a retry counts
        its frames again."""
        with self._lock:
            self.bar.update(-self._counted.pop(index, 0))
            self._going.pop(index, None)
            self._show()

    def ended(self, index: int, outcome: Outcome) -> None:
        with self._lock:
            self._ended.add(index)
            self._end(index, outcome)

    def _end(self, index: int, outcome: Outcome) -> None:
        counted = self._counted.pop(index, 0)
        self._going.pop(index, None)
        share = self._share.get(index, 0)
        done = outcome.frames
        if outcome.status == DONE and not outcome.skipped and self.bar.total is not None:
            if index in self._folders:
                done = max(share, done)  # its photos not read are counted, as in its summary
            else:  # the container's count was an estimate: the share is what was read
                self.bar.total += done - share
        self.bar.update(done - counted)
        self._tally.add(outcome.status)
        self._show()
