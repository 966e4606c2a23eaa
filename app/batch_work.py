"""The unit of work of a batch: one input, run by ``emocam.process`` unchanged, in whichever
worker got it (a local worker process or a Dask worker), turned into its ``Outcome``.

Before any work the worker checks that it can read the input and write the output folder: on
a cluster, a path the client sees may not be there on a worker (no shared filesystem), and the
user hears that in one sentence instead of a model load and a cryptic error later.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from emocam.batch_manifest import DONE, FAILED, PARTIAL, REFUSED, Outcome, take_counts
from emocam.errors import UserError, count_text
from emocam.jsonread import read_object

if TYPE_CHECKING:
    from emocam.process import ProcessOptions

log = logging.getLogger(__name__)

SHARED_FS_HINT = "inputs and outputs must be on a filesystem every worker shares"


@dataclass(frozen=True)
class WorkItem:
    index: int  # the input's place in the batch
    options: ProcessOptions  # the run of one input, as `emocam process INPUT` would do it
    # The outputs found at run time were written by an earlier attempt of this batch (or are
    # a partial set --resume redoes): the run replaces them whole, as --overwrite does.
    may_replace: bool
    attempt: int = 1


def access_problem(opts: ProcessOptions, worker: str) -> str | None:
    """One sentence when ``worker`` cannot read the input or write its output folder."""
    src = Path(opts.input)
    if not src.exists():
        return (f"The input {src} cannot be seen from {worker} (no such file there); "
                f"{SHARED_FS_HINT}.")
    if not os.access(src, os.R_OK):
        return f"The input {src} cannot be read from {worker} (permission denied)."
    folder = Path(opts.outdir) if opts.outdir is not None else src.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".emocam-check-"):
            pass
    except OSError as e:
        return (f"The output folder {folder} cannot be written from {worker} "
                f"({e.strerror or e}); {SHARED_FS_HINT}, writable by every worker.")
    return None


def run_item(
    item: WorkItem, worker: str, should_stop: Callable[[], bool],
    on_progress: Callable[[int], None] = lambda frames: None, check_access: bool = False,
) -> Outcome:
    """Run one input to its outcome; never raises for what a user can fix. ``check_access``:
    first check the paths from this worker (a cluster's; a local worker sees what the user
    sees, and the run's own sentences name a missing input)."""
    from emocam.process import NoFacesFound, run_process

    opts = item.options
    out = Outcome(str(opts.input), worker=worker, attempts=item.attempt)
    t0 = time.monotonic()
    problem = access_problem(opts, worker) if check_access else None
    if problem is not None:
        out.status, out.message = REFUSED, problem
        return out

    def on_frame(frames: int, _total: int | None) -> bool:
        on_progress(frames)
        return should_stop()

    opts = replace(opts, overwrite=opts.overwrite or item.may_replace, progress=False,
                   on_frame=on_frame)
    try:
        result = run_process(opts)
    except NoFacesFound as e:
        # Done: its outputs are complete, and a batch with B-roll in it could never end
        # with status 0 (it was refused). Its sentence is still said.
        out.status, out.message, out.outputs, out.frames = DONE, str(e), e.outputs, e.frames
    except UserError as e:
        out.status, out.message = REFUSED, str(e)
    except OSError as e:  # disk full, permission denied: the user's environment
        where = f" ({e.filename})" if e.filename else ""
        out.status, out.message = REFUSED, f"{e.strerror or e}{where}."
    except MemoryError:
        raise  # the worker dies of it, and the input is tried again on a fresh one
    except Exception as e:
        # An error emocam has no sentence for: the same on every retry, and a worker that
        # died of it left the manifest only "exited with status 1". Said, not tried again.
        log.exception("%s failed on %s", worker, opts.input)
        out.status = FAILED
        first = str(e).splitlines()[0][:200] if str(e) else ""
        out.message = (f"emocam could not process it ({type(e).__name__}: {first}); if the "
                       "input plays elsewhere, please report this with the log.")
    else:
        out.outputs = result.outputs
        if result.completed:
            out.status = DONE
            # Done, but not all of it could be read (damaged frames, photos): the manifest
            # says so, not only a line that scrolled by.
            out.message = result.ended_early
        elif result.frames == 0:  # its files were removed: nothing to name
            out.status, out.outputs = PARTIAL, {}
            out.message = (f"{opts.input} was stopped before its first {result.unit}; nothing "
                           "was written.")
        else:
            out.status = PARTIAL
            out.message = (f"Stopped after {count_text(result.frames, result.unit)}; the results "
                           "so far were saved.")
    out.wall_s = round(time.monotonic() - t0, 3)
    _add_counts(out)
    return out


def _add_counts(out: Outcome) -> None:
    """Frames and faces from the run's own summary (written for every outcome that ran)."""
    path = out.outputs.get("json")
    if not path:
        return
    data = read_object(Path(path))
    if data is not None:
        take_counts(out, data)
