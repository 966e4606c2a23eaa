"""Writes a run's outputs as one set: never two runs into it at once, never a mix of an old
set and a new one.

- **One writer.** Each output gets a lock file (``.NAME.lock``) created exclusively and naming
  the run that holds it (pid, host, start time). A second run into the same outputs is refused
  in one sentence naming the holder. A lock whose process is gone (a killed run, a power cut)
  is stale and is taken over.
- **Replaced as a whole.** When outputs already exist (``--overwrite``), the new set is written
  under partial names (``.NAME.partial.csv``, ...) and only when the whole run completed is
  each file renamed over its old one; the old set stays as it was until then. A run that is
  stopped or fails keeps what it wrote under those partial names, beside the intact old set.
  A completed run also removes the old set's files it does not write again (the sidecar
  under ``--no-sidecar``), so a new CSV never sits beside an old sidecar.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from emocam.errors import OutputError
from emocam.locks import (
    LockHeld,
    RecordNotWritten,
    describe,
    held_sentence,
    holder,
    lock_path,
    process_start,
    release,
    stale,
    take,
)
from emocam.outputs import OutputPlan
from emocam.staging import (
    moved_aside_path,
    no_space_hint,
    parts_dir,
    put_back_moved_aside,
    staging_path,
    writes_in_place,
)

log = logging.getLogger(__name__)


class OutputSet:
    """Holds a plan's outputs for one run: locks them on enter, and on exit renames a staged
    set into place when the run ``completed`` (set by the run loop), or leaves it partial."""

    def __init__(self, plan: OutputPlan, overwrite: bool = False) -> None:
        self.plan = plan
        self._overwrite = overwrite
        self._locks: list[Path] = []
        # Staged only when there is an old set to keep intact: a new set is written in place,
        # so a reader can follow it as it grows.
        self._staged = overwrite and any(_replaceable(p) for p in plan.files())
        self.writing = _staged_plan(plan) if self._staged else plan
        # (partial, final) for each staged output; only these partial paths are ever removed
        # or renamed (a device written in place is not among them).
        self._pairs = [(new, final) for new, final in
                       zip(self.writing.files(), plan.files(), strict=True) if new != final]
        self.completed = False
        self.frames = 0  # frames written; a staged set that got none is not worth keeping

    # --- locking --------------------------------------------------------------------

    def _lock(self, path: Path, me: dict[str, object]) -> dict[str, object] | None:
        """Lock ``path`` with ``me``; the record of the dead run it was taken over from."""
        lock = lock_path(path)
        try:
            dead = take(lock, dict(me, output=str(path)))
        except LockHeld as e:
            raise OutputError(held_sentence(path, e.who)) from None
        except RecordNotWritten as e:
            raise OutputError(f"The output {path} cannot be written "
                              f"({no_space_hint(e.error)}).") from e
        except OSError as e:
            # Taking the lock is the first write into the folder: said as a write, of the
            # lock itself where the trouble is its own name (a folder named as it).
            what = lock if e.errno in (errno.EISDIR, errno.ENAMETOOLONG) else path
            raise OutputError(f"The output {what} cannot be written "
                              f"({no_space_hint(e)}).") from e
        self._locks.append(lock)
        return dead

    def _unlock(self) -> None:
        for lock in self._locks:
            with contextlib.suppress(OSError):
                release(lock)
        self._locks.clear()

    # --- the context ----------------------------------------------------------------

    def __enter__(self) -> OutputSet:
        try:
            # One record for every lock of this run: a reader sees one run holding them.
            me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                  "process_start": process_start(os.getpid())}
            # Each dead run's outputs, said once per run (by process and host).
            taken: dict[tuple[object, object], tuple[dict[str, object], list[str]]] = {}
            for path in self.plan.files():
                if _is_device(path):
                    continue  # /dev/stdout and the like: nothing to lock beside them
                dead = self._lock(path, me)
                if dead is not None:
                    key = (dead.get("pid"), dead.get("host"))
                    taken.setdefault(key, (dead, []))[1].append(str(path))
            for dead, paths in taken.values():
                log.warning("taking over %s %s from %s, which is no longer running",
                            "the output" if len(paths) == 1 else "the outputs",
                            ", ".join(paths), describe(dead))
            if self._staged:  # a set neither old nor new, which this run replaces
                for old in put_back_moved_aside(self.plan.files(), ours=True):
                    _remove(old)
            for partial, _ in self._pairs:
                _remove(partial)  # a dead run's partial set: we hold the lock now
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # A run holds Ctrl-C meanwhile (stopping.HeldSignals): the set ends whole.
        try:
            if self._staged:
                if exc_type is None and self.completed:
                    self._commit()
                elif self.frames == 0:
                    for partial, _ in self._pairs:
                        _remove(partial)  # nothing was processed: no partial set to keep
                else:
                    log.warning("the earlier outputs were kept as they were; this run's results "
                                "so far are in %s", ", ".join(
                                    str(p) for p, _ in self._pairs if p.exists()))
            elif not self.completed and self.frames == 0:
                # Stopped or failed before its first frame: an empty CSV and a video no
                # player opens are not results. Every file here is this run's (an existing
                # one would have been refused, or staged under --overwrite).
                for path in self.writing.files():
                    if path.exists() and not _is_device(path):
                        _remove(path)
                if self.writing.sidecar is not None:
                    _remove(parts_dir(self.writing.sidecar))
            # After the commit: a commit that fails keeps the old set whole, these included.
            if exc_type is None and self.completed and self._overwrite:
                self._drop_left_out()
        finally:
            self._unlock()

    def _drop_left_out(self) -> None:
        """An earlier set's files that this run does not write again (its sidecar under
        --no-sidecar) go, so the folder holds one set."""
        gone = [p for p in self.plan.left_out if p.exists() and not _is_device(p)
                and self._only_ours(p)]
        for path in gone:
            _remove(path)
        for path in self.plan.left_out:
            # A killed run's sidecar chunks, which a reader would join into that sidecar, and
            # its lock on an output this run does not write (so did not take over).
            if parts_dir(path).is_dir():
                _remove(parts_dir(path))
            lock = lock_path(path)
            if lock.exists() and stale(holder(lock), lock):
                _remove(lock)
        if gone:
            log.warning("removed %s of the earlier outputs, which this run does not write "
                        "again", ", ".join(map(str, gone)))

    def _only_ours(self, path: Path) -> bool:
        """A folder of annotated photos is removed only when it holds nothing but photos
        named as this run's: anything else in it may be the user's."""
        if not path.is_dir():
            return True
        ours = {p.name for p in self.plan.images}
        others = [p.name for p in path.iterdir() if p.name not in ours or not p.is_file()]
        if others:
            log.warning("kept %s, an earlier output folder, as it holds files emocam did not "
                        "write (%s); it no longer matches this run's outputs", path,
                        ", ".join(others[:3]))
        return not others

    def _commit(self) -> None:
        """Each staged file over its old one, all or none: the old files are moved aside
        first, then the new ones put in place, and a refusal on the way puts every old file
        back. On Windows a file another program has open (a CSV in Excel) cannot be moved
        or replaced: one by one, the set became the new video beside the old CSV, summary
        and sidecar."""
        pairs = [(new, final) for new, final in self._pairs if new.exists()]
        aside: list[tuple[Path, Path]] = []  # (final, where the old file waits)
        placed: list[tuple[Path, Path]] = []  # (staged, final)
        final = Path()
        try:
            for _, final in pairs:
                if final.exists() or final.is_symlink():
                    old = moved_aside_path(final)
                    _remove(old)
                    os.replace(final, old)
                    aside.append((final, old))
            for new, final in pairs:
                os.replace(new, final)
                placed.append((new, final))
        except OSError as e:
            for new, done in reversed(placed):
                with contextlib.suppress(OSError):
                    os.replace(done, new)
            stuck = []
            for done, old in reversed(aside):
                try:
                    os.replace(old, done)
                except OSError:
                    stuck.append(str(old))
            earlier = ("The earlier outputs are kept as they were" if not stuck else
                       "Of the earlier outputs, " + ", ".join(stuck) + " could not be put "
                       "back (the next run into this folder does)")
            raise OutputError(
                f"The output {final} could not be replaced ({e.strerror or e}); if another "
                f"program has it open, close it there and run again. {earlier}; this run's "
                f"are in {', '.join(str(n) for n, _ in pairs)}.") from e
        for _, old in aside:
            _remove(old)
        if self.plan.sidecar is not None:
            # A killed run's sidecar chunks under the final name: its set is replaced now.
            _remove(parts_dir(self.plan.sidecar))


def _is_device(path: Path) -> bool:
    return writes_in_place(path)


def _replaceable(path: Path) -> bool:
    return (path.is_file() or path.is_dir()) and not writes_in_place(path)


def _staged_plan(plan: OutputPlan) -> OutputPlan:
    """The plan with each replaceable output under its partial name (devices in place)."""

    def staged(path: Path | None) -> Path | None:
        if path is None or _is_device(path):
            return path
        return staging_path(path)

    return replace(plan, annotated=staged(plan.annotated), csv=staged(plan.csv),
                   json=staged(plan.json) or plan.json, sidecar=staged(plan.sidecar),
                   report=staged(plan.report))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
