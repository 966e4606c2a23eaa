"""Helpers shared by the tests of failures and long runs: wait for a running ``emocam`` to
write, check that a failure is one sentence, and measure the resources a process holds.
Running the tools is cli_helpers.py's."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from cli_helpers import CliRun


def wait_for_rows(proc: subprocess.Popen[str], csv_path: Path, lines: int) -> None:
    """Until ``csv_path`` has more than ``lines`` lines, while ``proc`` runs."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if csv_path.exists() and csv_path.read_bytes().count(b"\n") > lines:
            return
        time.sleep(0.05)  # polling a file another process writes; there is no event
    raise AssertionError(f"no rows appeared in {csv_path}: {proc.communicate()[1]}")


def assert_one_sentence(run: CliRun, *words: str, code: int = 2) -> str:
    """Exit ``code``, no traceback, exactly one line on stderr holding every word."""
    assert run.code == code, run.err
    assert "Traceback" not in run.err
    lines = run.lines()
    assert len(lines) == 1, run.err
    for w in words:
        assert w in lines[0], lines[0]
    assert lines[0].rstrip().endswith((".", ")")), lines[0]
    return lines[0]


@dataclass(frozen=True)
class Resources:
    rss_mb: float
    threads: int  # native threads, Python's and the libraries' own
    python_threads: int
    fds: int

    @classmethod
    def now(cls) -> Resources:
        p = psutil.Process()
        # tqdm keeps one monitor thread per process for all its bars: not a leak.
        ours = [t for t in threading.enumerate() if t.name != "tqdm_monitor"]
        return cls(p.memory_info().rss / 2**20, p.num_threads(), len(ours), _fds(p))

    @classmethod
    def settled(cls, within_s: float = 5.0) -> Resources:
        """The process once threads that are ending have ended: the fewest threads seen while
        polling, so a worker still winding down is not mistaken for a leak (or a baseline)."""
        deadline = time.monotonic() + within_s
        best = cls.now()
        steady = 0
        while time.monotonic() < deadline and steady < 5:
            time.sleep(0.05)
            sample = cls.now()
            steady = steady + 1 if sample.threads >= best.threads else 0
            if sample.threads <= best.threads:
                best = sample
        return best


def _fds(p: psutil.Process) -> int:
    return p.num_fds() if hasattr(p, "num_fds") else len(os.listdir("/proc/self/fd"))
