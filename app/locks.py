"""Who is writing an output: the lock file (``.NAME.lock``) beside it names the run that holds
it (pid, host, start time), and a lock whose process is gone (a killed run, a power cut) is
stale. ``emocam.output_set`` takes and gives back the locks; anything about to write or read
an output asks here first.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from emocam.jsonread import read_object

# The locks this process holds: a lock naming our own pid that is not among them was left by
# an earlier process that had the same pid (a container's emocam is often pid 1 every time).
HELD: set[Path] = set()


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _alive_on_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        # os.kill(pid, 0) on Windows would send Ctrl-C (signal 0 is CTRL_C_EVENT there).
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    except OSError:
        return False
    return True


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, or None where unknown: with the pid it names one
    process, even after the pid is reused. In the kernel's ticks on Linux; elsewhere (no
    /proc) psutil's creation time: without one, a killed run's lock held for good once
    Windows or macOS gave its pid to another process."""
    if sys.platform != "linux":
        return _created(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _created(pid: int) -> str | None:
    try:
        import psutil
    except ImportError:  # an install without it: such a lock then holds, as before
        return None
    try:
        # To the hundredth: the same process gives the same text each time it is asked.
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.Error, OSError):
        return None


def holder(lock: Path) -> dict[str, object] | None:
    """The run named in a lock file; None when it cannot be read (being written, or junk)."""
    return read_object(lock)


def stale(record: dict[str, object] | None, lock: Path) -> bool:
    """A lock whose run is gone. A lock on another host cannot be checked, so it holds; an
    unreadable one is stale once it is older than a run takes to write one."""
    if record is None:
        try:
            return time.time() - lock.stat().st_mtime > 10.0
        except OSError:
            return True
    if record.get("host") != socket.gethostname():
        return False
    pid = record.get("pid")
    if pid == os.getpid():
        return lock.resolve() not in HELD
    if not isinstance(pid, int) or not _alive(pid):
        return True
    # The pid lives, but is it the run that wrote the lock? Another process may have it now.
    started = record.get("process_start")
    return started is not None and started != process_start(pid)


def describe(record: dict[str, object] | None) -> str:
    if not record or record.get("pid") is None:  # unreadable: nothing more to say
        return "another emocam run"
    started = record.get("started")
    when = "an unknown time"
    if isinstance(started, int | float) and not isinstance(started, bool):
        # A damaged lock's 1e300 or NaN stays "an unknown time".
        with contextlib.suppress(OverflowError, ValueError, OSError):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    return (f"another emocam run (process {record.get('pid')} on {record.get('host')}, "
            f"started {when})")


class LockHeld(Exception):
    """A live run holds the lock; ``who`` describes it (``describe``)."""

    def __init__(self, who: str) -> None:
        super().__init__(who)
        self.who = who


class RecordNotWritten(Exception):
    """The lock was made but its record could not be written (a full disk); it is gone
    again. ``error`` is the ``OSError``."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def take(lock: Path, record: dict[str, object]) -> dict[str, object] | None:
    """Make ``lock`` holding ``record``, taking over a dead run's; that run's record (or
    None). Raises ``LockHeld`` while a live run holds it, ``OSError`` when it cannot be
    made, ``RecordNotWritten`` when its record does not fit: an empty lock left behind
    would be taken for a live run's by the next one, for a while."""
    dead = None
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            who = holder(lock)
            if not stale(who, lock):
                raise LockHeld(describe(who)) from None
            dead = who or {}
            lock.unlink(missing_ok=True)
            continue
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
        except OSError as e:
            lock.unlink(missing_ok=True)
            raise RecordNotWritten(e) from e
        HELD.add(lock.resolve())
        return dead
    raise LockHeld(describe(None))


def release(lock: Path) -> None:
    """Give back a lock this process took."""
    HELD.discard(lock.resolve())
    lock.unlink(missing_ok=True)


def held_sentence(path: Path, who: str) -> str:
    """The one sentence for an output another run is writing."""
    return (f"The output {path} is being written by {who}; wait for it to finish, or if it is "
            f"gone delete {lock_path(path)}.")


def being_written_by(path: Path) -> str | None:
    """Who is writing ``path`` now (a run holding its lock), or None: for readers of an
    output, which must not take a set apart while its run still writes it."""
    lock = lock_path(Path(path))
    if not lock.exists():
        return None
    who = holder(lock)
    return None if stale(who, lock) else describe(who)
