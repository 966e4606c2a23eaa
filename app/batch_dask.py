"""``emocam process INPUTS... --dask tcp://HOST:PORT`` (or ``--dask local``): the inputs of a
batch as tasks on a Dask distributed cluster. Dask schedules them, moves them off a worker
that dies and retries them (``distributed.scheduler.allowed-failures``); emocam writes no
scheduler of its own.

Each task is ``emocam.batch_work.run_item``, as on a local worker: it checks the input and the
output folder from where it runs, then runs ``emocam.process`` unchanged. Inputs and outputs
are paths, so they must be on a filesystem every worker shares; a worker that cannot see them
says so in one sentence. Ctrl-C sets a cluster-wide ``distributed.Event`` that running tasks
read after each frame (they stop with their results kept) and queued ones read before they
start (they end as not started).

Dask is the ``cluster`` extra (``pip install "emocam[cluster]"``); nothing else imports it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from emocam import cores
from emocam.batch import BatchOptions, OnOutcome, prepare, tell_skipped
from emocam.batch_manifest import FAILED, NOT_STARTED, Manifest, Outcome
from emocam.batch_progress import BatchBar
from emocam.batch_work import WorkItem, run_item
from emocam.errors import UserError

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

LOCAL = "local"
_STOP_POLL_S = 1.0  # a task asks the scheduler whether to stop at most this often
_PROGRESS_EVERY_S = 1.0  # a task tells the client its frames at most this often


try:  # the cluster extra; without it, --dask is refused in one sentence (_import_distributed)
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:
    WorkerPlugin = object


class IgnoreTerminalCtrlC(WorkerPlugin):  # type: ignore[misc, valid-type]
    """A LocalCluster's workers share the terminal's process group, so Ctrl-C would kill
    them mid-frame and leave the batch waiting for workers that are gone. They ignore it;
    the client stops their tasks after a frame through the stop event instead. Set up on
    every worker, a restarted one included."""

    def setup(self, worker: Any) -> None:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UserError('--dask needs Dask, which the plain install leaves out; install it '
                        'with `pip install "emocam[cluster]"`.') from None
    return distributed


# --- on the worker ------------------------------------------------------------------------


def dask_task(item: WorkItem, stop_name: str, threads_by_host: dict[str, int]) -> Outcome:
    """One input on the Dask worker that runs this task."""
    from distributed import Event, Variable, get_worker

    worker = get_worker()
    name = f"Dask worker {worker.address}"
    stop = Event(stop_name)
    if stop.is_set():  # Ctrl-C came while this task waited in the queue
        return Outcome(str(item.options.input), NOT_STARTED)
    # Dask reruns a task whose worker died without telling it: count the attempts on the
    # scheduler (set to 0 by the client before submitting), for the manifest.
    tries = Variable(_attempts_name(stop_name, item))
    attempt = int(tries.get()) + 1
    tries.set(attempt)
    item = replace(item, attempt=attempt)
    # The host's cores shared by every task slot the cluster has there, so tasks on one
    # machine do not oversubscribe it.
    host = worker.address.rsplit(":", 1)[0]
    slots = max(1, threads_by_host.get(host, worker.state.nthreads))
    cores.limit_to(max(1, (os.cpu_count() or 1) // slots))
    last = [0.0, False]

    def should_stop() -> bool:
        now = time.monotonic()
        if now - float(last[0]) >= _STOP_POLL_S:
            last[0], last[1] = now, stop.is_set()
        return bool(last[1])

    topic = _progress_topic(stop_name)
    worker.log_event(topic, (item.index, 0))  # started: the client names it as going
    said = [time.monotonic()]

    def on_progress(frames: int) -> None:
        # Through the scheduler, as the stop event comes: a few messages a second at most.
        now = time.monotonic()
        if now - said[0] >= _PROGRESS_EVERY_S:
            said[0] = now
            worker.log_event(topic, (item.index, frames))

    return run_item(item, name, should_stop, on_progress, check_access=True)


def _progress_topic(stop_name: str) -> str:
    return f"{stop_name}-progress"


def _attempts_name(stop_name: str, item: WorkItem) -> str:
    return f"{stop_name}-attempts-{item.index}"


# --- on the client ------------------------------------------------------------------------


@contextmanager
def connect(address: str, workers: int, retries: int,
            announce: Callable[[str], None]) -> Iterator[Client]:
    """A client of the cluster at ``address``, or of a LocalCluster of ``workers`` processes
    on 127.0.0.1 (``local``), closed on leaving."""
    distributed = _import_distributed()
    import dask

    # Dask logs its start-up and shutdown at INFO; the user sees them with -v only.
    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    logging.getLogger("distributed").setLevel(logging.INFO if verbose else logging.WARNING)

    if address == LOCAL:
        # The retries of a task whose worker died: a setting of the scheduler, which starts
        # here. One thread per worker process: emocam's own threads use its cores.
        # The workers' statistical profiler samples every thread's stack 100 times a
        # second, and emocam runs several threads a task: measured, it doubled a task's time.
        with dask.config.set({"distributed.scheduler.allowed-failures": retries,
                              "distributed.worker.profile.enabled": False}):
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
            )
        try:
            with distributed.Client(cluster) as client:
                client.register_plugin(IgnoreTerminalCtrlC(), name="emocam-ignore-ctrl-c")
                if importlib.util.find_spec("bokeh") is not None:
                    announce(f"Dask dashboard: {cluster.dashboard_link}")
                else:  # Dask gives the link even when nothing can serve it
                    announce('no Dask dashboard: it needs bokeh (pip install "emocam[cluster]")')
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise UserError(f"The Dask scheduler at {address} cannot be reached ({e}); check the "
                        "address (tcp://HOST:PORT) and that the scheduler is running.") from None
    with client:
        if not client.scheduler_info().get("workers"):
            raise UserError(f"The Dask cluster at {address} has no workers; start some "
                            "(`dask worker ADDRESS --nthreads 1`) and run this again.")
        yield client


def _threads_by_host(client: Client) -> dict[str, int]:
    threads: dict[str, int] = {}
    for addr, info in client.scheduler_info().get("workers", {}).items():
        host = addr.rsplit(":", 1)[0]
        threads[host] = threads.get(host, 0) + int(info.get("nthreads", 1))
    return threads


def run_on_dask(bopts: BatchOptions, address: str, on_outcome: OnOutcome,
                announce: Callable[[str], None] = log.info) -> Manifest:
    """Run every input of the batch as a task on the cluster; the manifest is written after
    every outcome and at the end."""
    _import_distributed()
    from distributed import Event, KilledWorker, Variable, as_completed

    workers = max(1, bopts.jobs)
    engine = f"dask {address}" + (f", {workers} worker(s)" if address == LOCAL else "")
    prep = prepare(bopts, engine)
    manifest, outcomes = prep.manifest, prep.manifest.outcomes
    with connect(address, workers, bopts.retries, announce) as client, \
            BatchBar(prep.items, prep.manifest.outcomes, bopts.progress) as bar:
        prep.path.parent.mkdir(parents=True, exist_ok=True)
        manifest.write(prep.path)  # once the cluster answers: every input not started yet
        tell_skipped(manifest, on_outcome)
        stop = Event(f"emocam-stop-{uuid.uuid4().hex}", client=client)
        threads = _threads_by_host(client)
        by_index = {item.index: item for item in prep.items}

        def heard(event: tuple[float, tuple[int, int]]) -> None:
            index, frames = event[1]
            if frames == 0:  # a task's start, or its retry's on another worker
                bar.lost(index)
                bar.started(by_index[index])
            bar.frames(index, frames)

        client.subscribe_topic(_progress_topic(stop.name), heard)
        for item in prep.items:
            Variable(_attempts_name(stop.name, item), client=client).set(0)
        futures = {client.submit(dask_task, item, stop.name, threads, pure=False,
                                 key=f"emocam-{item.index}-{uuid.uuid4().hex[:8]}"): item
                   for item in prep.items}
        pending = as_completed(futures)
        while True:
            try:
                for fut in pending:
                    item = futures[fut]
                    outcome = _outcome(fut, item, KilledWorker, bopts.retries)
                    outcomes[item.index] = outcome
                    bar.ended(item.index, outcome)
                    if outcome.status != NOT_STARTED:
                        on_outcome(outcome)
                    manifest.write(prep.path)
                break
            except KeyboardInterrupt:
                if manifest.stopped:
                    raise  # a second Ctrl-C: leave the cluster to it
                manifest.stopped = True
                stop.set()
                log.warning("stopping the batch after the current frame of each running input")
    manifest.write(prep.path)
    return manifest


def _outcome(fut: Any, item: WorkItem, killed: type[BaseException], retries: int) -> Outcome:
    src = str(item.options.input)
    try:
        return fut.result()
    except killed:
        return Outcome(src, FAILED, attempts=retries + 1, message=(
            f"{src} was not processed: the Dask workers processing it died on each attempt; "
            "its partial outputs are kept for a rerun with --resume."))
    except Exception as e:  # the task broke on the cluster: say which input, keep the rest
        return Outcome(src, FAILED, message=f"{src} was not processed: its task failed on "
                       f"the cluster ({type(e).__name__}: {e}).")
