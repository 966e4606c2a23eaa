"""A training run's folder (``--out``): checked before the data is read, held by one
run at a time, and its records written whole or not at all."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emocam import atomic
from emocam.training.made_folders import make_folder
from emocam.training.settings import ConfigError


def write_json(path: Path, data: dict[str, Any]) -> None:
    # Whole or not at all: one cut short by an interrupt would be read as damaged.
    atomic.write_text(path, json.dumps(data, indent=2) + "\n")


def check_run_folder(run: Path, resume: bool) -> bool:
    """True when the run already finished training (a resume then only re-exports)."""
    started = any((run / n).exists() for n in ("best.keras", "backup", "history.csv"))
    if started and not resume:
        raise ConfigError(f"{run} already holds a training run; pass --resume to continue it "
                          "or choose another --out.")
    return (run / "train_info.json").is_file() and not (run / "backup").exists()


def check_writable(run: Path) -> None:
    """The run folder can be made and written, said in one sentence now."""
    where = run
    while not where.exists() and where != where.parent:
        where = where.parent
    if where.exists() and not where.is_dir():
        raise ConfigError(f"{where} is a file, so the run folder {run} cannot be made there; "
                          "choose another --out.")
    if not os.access(where, os.W_OK):
        raise ConfigError(f"{where} cannot be written (read-only, or not yours), so the run "
                          f"folder {run} cannot be made there; choose another --out.")


@contextmanager
def training_lock(run: Path) -> Iterator[None]:
    """One training at a time in a run folder: two at once both trained, wrote one
    history.csv between them and left a run neither export nor --resume could read. The
    lock (``.RUN.lock`` beside it) names its process; a dead one's is taken over."""
    from emocam.locks import LockHeld, RecordNotWritten, lock_path, process_start, release, take

    lock = lock_path(run)
    make_folder(lock.parent)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
          "process_start": process_start(os.getpid())}
    try:
        take(lock, me)
    except LockHeld as e:
        raise ConfigError(
            f"{run} is being trained by {e.who.replace('emocam', 'fer-train')}; wait for it "
            f"to finish, or train into another --out (if it is gone, delete {lock}).") from None
    except RecordNotWritten as e:
        raise e.error from e  # a full disk: said as any other
    try:
        yield
    finally:
        release(lock)
