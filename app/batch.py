"""``emocam process INPUTS... --jobs N``: N inputs at once, each in a worker process of its own.

Each worker runs ``emocam.process`` unchanged on one input at a time (``emocam.batch_work``)
with ``cores // N`` cores for its thread pools (``emocam.cores``), so N workers do not
oversubscribe the machine. The parent hands out inputs, shows one progress bar over every
input's frames, and keeps the manifest (``emocam.batch_manifest``) up to date after each
outcome.

- **A worker that dies** (SIGKILL, out of memory) is noticed by its process sentinel; its input
  goes to a fresh worker, up to ``retries`` more times. The retry replaces the dead attempt's
  files as one set (``emocam.output_set``: the dead run's lock is stale and is taken over, the
  new set is staged and renamed over the old), so the two never mix.
- **Ctrl-C, SIGTERM, SIGHUP** reach only the parent (workers have their own process group):
  it asks every busy worker to stop after its current frame, as the app's Cancel does, and
  waits for their outcomes (partial, results kept) before writing the manifest. A second
  Ctrl-C only says so (the workers are closing their outputs); a third kills them.

Workers are started with the spawn method: no copy of the parent's threads, locks or
onnxruntime sessions, and the same behaviour on Linux, macOS and Windows.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emocam import cores
from emocam.batch_manifest import (
    ABSENT,
    COMPLETE,
    DONE,
    FAILED,
    NOT_STARTED,
    PARTIAL,
    PARTIAL_SET,
    REFUSED,
    Manifest,
    Outcome,
    changed_since,
    done_already,
    from_summary,
    full_path,
    made_from_another,
    made_otherwise,
    manifest_path,
    output_state,
    planned_set,
    read_earlier,
)
from emocam.batch_progress import BatchBar
from emocam.batch_work import WorkItem, run_item
from emocam.errors import UserError, some_of
from emocam.staging import staging_path
from emocam.stopping import counted_stops

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event

    from emocam.process import ProcessOptions

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 2  # a killed worker's input is tried this many more times
_PROGRESS_EVERY_S = 0.2  # a worker reports its frames at most this often


@dataclass
class BatchOptions:
    inputs: list[Path]
    options: ProcessOptions  # every input's run; ``input`` is replaced per input
    jobs: int = 1
    retries: int = DEFAULT_RETRIES
    resume: bool = False
    progress: bool = True


@dataclass
class Prepared:
    """What is left to run, and the manifest with the inputs already settled."""

    items: list[WorkItem]
    manifest: Manifest
    path: Path  # where the manifest is written


OnOutcome = Callable[[Outcome], None]


# --- before any work ----------------------------------------------------------------------


def prepare(bopts: BatchOptions, engine: str) -> Prepared:
    """An item per input to run; with ``resume``, inputs whose outputs are complete are
    settled from the earlier manifest (or their summary) and not run again."""
    path = manifest_path(bopts.options.outdir, bopts.inputs)
    earlier = read_earlier(path)
    outcomes: list[Outcome] = []
    items: list[WorkItem] = []
    replaced: set[str] = set()  # the outputs this batch may write over, as full paths
    untouched: set[str] = set()  # refused as done: their earlier lines still describe them
    for i, src in enumerate(bopts.inputs):
        opts = replace(bopts.options, input=src, progress=False)
        plan = planned_set(src, opts.request())
        state = output_state(plan)
        line = earlier.get(full_path(src))
        # Complete, yet the last batch into this folder was to run it and did not get to it:
        # that batch replaced complete sets (--overwrite), and --resume carries on with it. The
        # set there is the one it was replacing (made with its earlier settings: --resume
        # refused it as "made with other settings", with no way on but redoing every input).
        replacing = (bopts.resume and state == COMPLETE and line is not None
                     and line.get("status") in (NOT_STARTED, PARTIAL))
        if bopts.resume and state == COMPLETE and plan is not None and not replacing:
            # Skipping a set made with other settings would leave a folder of mixed results.
            otherwise = made_otherwise(plan, opts)
            if otherwise is not None:
                raise UserError(
                    f"{plan.json} was made with other settings ({otherwise}); --resume "
                    "finishes a batch with the options it was started with: give those, or "
                    "pass --overwrite without --resume to redo every input."
                )
            # Nor may it file another video's results under this one.
            another = made_from_another(plan, src)
            if another is not None:
                raise UserError(
                    f"{plan.json} holds {another}, not of {src}; --resume would count them "
                    "as this input's. Give inputs that share a name their own -o folders, or "
                    "pass --overwrite without --resume to process every input again.")
            left = [staging_path(f) for f in plan.files() if staging_path(f).exists()]
            if left:
                # A later --overwrite of it that was stopped: its files were left unsaid.
                log.warning("%s is done, and the results of a later run of it that was "
                            "stopped are beside it (%s%s); delete them, or pass --overwrite "
                            "to redo it.", src, left[0].name,
                            f" and {len(left) - 1} more" if len(left) > 1 else "")
            outcomes.append(_skipped(src, line, plan))
            continue
        if state == COMPLETE and plan is not None and not opts.overwrite and not replacing:
            # Said before any work, with the flag that skips it: "pass --overwrite" alone led
            # a user to redo a whole batch of complete inputs.
            outcomes.append(Outcome(str(src), REFUSED, message=done_already(src, plan)))
            untouched.add(full_path(src))
            continue
        if bopts.resume and state == PARTIAL_SET and plan is not None:
            changed = changed_since(plan)
            if changed:
                log.warning("%s: its outputs were changed after its run (%s); it is done "
                            "again.", src, ", ".join(changed))
        outcomes.append(Outcome(str(src)))
        # Outputs there before the batch are the user's: replaced only with --overwrite, or
        # by --resume when they are a partial set. Any found later are this batch's own.
        may_replace = (opts.overwrite or state == ABSENT or replacing
                       or (bopts.resume and state == PARTIAL_SET))
        items.append(WorkItem(i, opts, may_replace))
        if may_replace and plan is not None:
            replaced.update(full_path(f) for f in plan.files())
    # The earlier lines it keeps are chosen at each write (the first comes before any work).
    # A rerun that forgot --resume keeps the earlier lines of the inputs it refused as done
    # (they were replaced by "refused", 0 frames, and a --resume then lost their times).
    manifest = Manifest(engine, outcomes, inputs=list(bopts.inputs), replaced=replaced,
                        untouched=untouched)
    return Prepared(items, manifest, path)


def _skipped(src: Path, earlier: dict[str, Any] | None, plan: Any) -> Outcome:
    if earlier is not None:
        fields = {k: v for k, v in earlier.items() if k in Outcome.__dataclass_fields__}
        out = Outcome(**fields)
        # An input without faces, which batches before this one refused with its outputs
        # complete, is done; any other refusal (its outputs existed, a rerun without
        # --resume) is not this set's story: its summary is.
        if out.status == REFUSED and out.outputs:
            out.status = DONE
        if out.status == DONE:
            out.skipped = True
            return out
    return from_summary(src, plan)


def tell_skipped(manifest: Manifest, on_outcome: OnOutcome) -> None:
    """Each input settled before any work (skipped by --resume, or refused as done already)
    is told once, as a run's outcome is."""
    for outcome in manifest.outcomes:
        if outcome.skipped or outcome.status == REFUSED:
            on_outcome(outcome)


# --- the worker process -------------------------------------------------------------------


class _Channel:
    """The worker's end of its pipe; the run's threads (reading ahead, writing video) log
    too, and a connection must not be written from two threads at once."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, msg: tuple[Any, ...]) -> None:
        with self._lock:
            self.conn.send(msg)


class _ToParent(logging.Handler):
    """A worker's log records go to the parent, which shows them as its own."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__(logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError, ValueError):  # the parent is gone: nobody to tell
            self.channel.send(("log", record.levelno, record.getMessage()))


def _worker_main(conn: Connection, name: str, ncores: int, stop: Event, level: int) -> None:
    """A worker process: runs the items it is sent until told to end (None) or orphaned."""
    if hasattr(os, "setpgrp"):
        # The terminal's Ctrl-C goes to the parent alone, which stops us after a frame; a
        # second signal here would cut a frame in half.
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM (a stray `kill`, a session's end) stops a run after its frame, as in
    # `emocam process`, while the run's loop is on; after it, while the outputs are
    # closed, it waits: a kill there left the set partial and locked.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    cores.limit_to(ncores)
    name = f"{name} (pid {os.getpid()})"
    channel = _Channel(conn)
    root = logging.getLogger()
    root.handlers[:] = [_ToParent(channel)]
    root.setLevel(level)
    parent = os.getppid()

    def should_stop() -> bool:
        return stop.is_set() or os.getppid() != parent  # asked to, or the parent died

    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        outcome = run_item(item, name, should_stop, _Throttled(channel, item.index))
        channel.send(("done", item.index, outcome))


class _Throttled:
    """Reports an item's frames to the parent at most every ``_PROGRESS_EVERY_S``."""

    def __init__(self, channel: _Channel, index: int) -> None:
        self.channel, self.index, self._last = channel, index, 0.0

    def __call__(self, frames: int) -> None:
        now = time.monotonic()
        if now - self._last >= _PROGRESS_EVERY_S:
            self._last = now
            self.channel.send(("progress", self.index, frames))


@dataclass
class _Worker:
    name: str
    proc: BaseProcess
    conn: Connection
    item: WorkItem | None = None
    frames: int = 0  # frames of the current item done, as it last said
    killed: bool = False  # by the user's third Ctrl-C


class LocalPool:
    """N worker processes and the inputs handed to them."""

    def __init__(self, jobs: int, retries: int, bar: BatchBar, on_outcome: OnOutcome) -> None:
        self.jobs = jobs
        self.retries = retries
        self.bar = bar
        self.on_outcome = on_outcome
        self._ctx = mp.get_context("spawn")
        self._stop = self._ctx.Event()
        self._workers: list[_Worker] = []
        self._spawned = 0
        self._ncores = cores.share(jobs)
        self._level = logging.getLogger().getEffectiveLevel()
        self.stopping = False
        self._more_stops = 0  # Ctrl-Cs after the first

    def _spawn(self) -> _Worker:
        self._spawned += 1
        parent_end, child_end = self._ctx.Pipe()
        name = f"local worker {self._spawned}"
        proc = self._ctx.Process(
            target=_worker_main, name=name, daemon=True,
            args=(child_end, name, self._ncores, self._stop, self._level),
        )
        proc.start()
        child_end.close()  # ours closed: the worker's death reads as EOF on parent_end
        worker = _Worker(f"{name} (pid {proc.pid})", proc, parent_end)
        self._workers.append(worker)
        return worker

    def run(self, items: list[WorkItem], outcomes: list[Outcome]) -> None:
        """Run every item; ``outcomes`` (indexed by input) are filled in as they end."""
        pending = deque(items)
        for _ in range(min(self.jobs, len(pending))):
            self._spawn()
        taken = 0
        try:
            with counted_stops() as stops:
                while pending or any(w.item for w in self._workers):
                    while taken < stops.n:  # between steps: never inside one (an outcome
                        taken += 1          # half recorded would leave its worker "busy")
                        self._request_stop(pending)
                    self._dispatch(pending)
                    self._serve(pending, outcomes)  # waits 0.5 s at most
        finally:
            self._shutdown()

    def _request_stop(self, pending: deque[WorkItem]) -> None:
        if self.stopping:
            # The running inputs are closing their outputs (the sidecar joined, the report
            # written): a kill now would leave them partial and locked, so only a third
            # Ctrl-C, for a worker that hangs, does.
            self._more_stops += 1
            busy = [w for w in self._workers if w.item is not None and w.proc.is_alive()]
            if self._more_stops == 1:
                if busy:
                    log.warning("still closing the outputs of %s; Ctrl-C again to kill %s "
                                "(the outputs then stay partial)",
                                some_of([str(w.item.options.input) for w in busy if w.item]),
                                "it" if len(busy) == 1 else "them")
                return
            for w in busy:
                w.killed = True
                w.proc.kill()
            return
        self.stopping = True
        pending.clear()  # never started: NOT_STARTED in the manifest
        self._stop.set()
        log.warning("stopping the batch after the current frame of each running input")

    def _dispatch(self, pending: deque[WorkItem]) -> None:
        for w in self._workers:
            if w.item is None and pending and not self.stopping:
                item = pending.popleft()
                try:
                    w.conn.send(item)
                except OSError:
                    # Gone since it last spoke: its end is seen by _serve, which starts
                    # another; the input waits for it.
                    pending.appendleft(item)
                    continue
                w.item = item
                self.bar.started(item)

    def _serve(self, pending: deque[WorkItem], outcomes: list[Outcome]) -> None:
        by_conn = {w.conn: w for w in self._workers}
        by_sentinel = {w.proc.sentinel: w for w in self._workers}
        for ready in wait([*by_conn, *by_sentinel], timeout=0.5):
            w = by_conn.get(ready) or by_sentinel.get(ready)  # type: ignore[call-overload]
            if w is None or w not in self._workers:
                continue
            if not self._drain(w, outcomes):
                self._died(w, pending, outcomes)

    def _drain(self, w: _Worker, outcomes: list[Outcome]) -> bool:
        """Every message the worker sent; False when it is gone."""
        while True:
            try:
                if not w.conn.poll():
                    break
                msg = w.conn.recv()
            except (EOFError, OSError):
                return False
            # Outside the try: an error of ours in handling it (a line to a closed terminal)
            # is no sign of the worker's death, and took a live worker for a dead one.
            self._handle(w, msg, outcomes)
        return w.proc.is_alive()

    def _handle(self, w: _Worker, msg: tuple[Any, ...], outcomes: list[Outcome]) -> None:
        kind = msg[0]
        if kind == "log":
            log.log(msg[1], "%s", msg[2])
        elif kind == "progress" and w.item is not None:
            w.frames = msg[2]
            self.bar.frames(msg[1], msg[2])
        elif kind == "done":
            outcome: Outcome = msg[2]
            outcomes[msg[1]] = outcome
            w.item, w.frames = None, 0
            self.bar.ended(msg[1], outcome)
            self.on_outcome(outcome)

    def _died(self, w: _Worker, pending: deque[WorkItem], outcomes: list[Outcome]) -> None:
        w.proc.join(timeout=5)
        self._workers.remove(w)
        w.conn.close()
        code = w.proc.exitcode
        how = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exited with status {code}")
        item = w.item
        if item is None:
            log.warning("%s %s while idle", w.name, how)
        else:
            self.bar.lost(item.index)  # the retry counts its frames again
            if w.killed:
                outcome = Outcome(
                    str(item.options.input), PARTIAL, frames=w.frames, worker=w.name,
                    attempts=item.attempt,
                    message=f"{item.options.input} was stopped while its outputs were being "
                    "closed (a third Ctrl-C); they are partial, for a rerun with --resume.")
                outcomes[item.index] = outcome
                self.bar.ended(item.index, outcome)
                self.on_outcome(outcome)
            elif item.attempt <= self.retries and not self.stopping:
                log.warning("%s %s while processing %s; trying it again on another worker "
                            "(attempt %d of %d)", w.name, how, item.options.input,
                            item.attempt + 1, self.retries + 1)
                pending.appendleft(replace(item, attempt=item.attempt + 1))
            else:
                outcome = Outcome(
                    str(item.options.input), FAILED, worker=w.name, attempts=item.attempt,
                    message=f"{item.options.input} was not processed: the worker processing "
                    f"it {how} on each of {item.attempt} attempt(s); its partial outputs are "
                    "kept for a rerun with --resume.",
                )
                outcomes[item.index] = outcome
                self.bar.ended(item.index, outcome)
                self.on_outcome(outcome)
        if pending and not self.stopping:
            self._spawn()

    def _shutdown(self) -> None:
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        deadline = time.monotonic() + 10
        for w in self._workers:
            w.proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join(timeout=5)
            if w.proc.is_alive():  # a hung worker may hold SIGTERM off (see _worker_main)
                w.proc.kill()
                w.proc.join(timeout=5)
            w.conn.close()
        self._workers.clear()


# --- the batch ----------------------------------------------------------------------------


def run_batch(bopts: BatchOptions, on_outcome: OnOutcome) -> Manifest:
    """Run every input of the batch on ``bopts.jobs`` local workers; the manifest is
    written after every outcome and at the end."""
    jobs = max(1, bopts.jobs)
    prep = prepare(bopts, f"local, {jobs} worker(s)")
    manifest, outcomes = prep.manifest, prep.manifest.outcomes
    prep.path.parent.mkdir(parents=True, exist_ok=True)
    manifest.write(prep.path)
    tell_skipped(manifest, on_outcome)

    with BatchBar(prep.items, prep.manifest.outcomes, bopts.progress) as bar:

        def told(outcome: Outcome) -> None:
            on_outcome(outcome)
            manifest.write(prep.path)

        pool = LocalPool(min(jobs, max(1, len(prep.items))), bopts.retries, bar, told)
        pool.run(prep.items, outcomes)
    manifest.stopped = pool.stopping
    manifest.write(prep.path)
    return manifest
