"""Running the command-line tools as a user does, and reading what ``emocam process`` writes.

Every test that runs ``emocam`` or ``fer-train`` goes through here:

- ``run_cli``: ``emocam ARGS`` in this process (no interpreter start-up), output captured;
- ``run_emocam``: a command in a process of its own, waited for (``tool="fer-train"`` for
  the training tool), with an optional wrapper (``prefix``) and file-size limit;
- ``start_emocam``: the same, not waited for, to stop, kill or watch while it runs.

Subprocesses run ``python -m`` with this interpreter, so they run this checkout's code;
``emocam_command(console_script=True)`` is the installed ``emocam`` script where a test is
about what a user types.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from emocam.cli import main

_MODULES = {"emocam": "emocam", "fer-train": "emocam.training.cli",
            "lease": "emocam.training.lease"}

# The shipped model's classes, in the order of the CSV's columns.
NAMES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
HEADER = [
    "frame", "time_ms", "face_id", "x", "y", "w", "h", *NAMES, "top_label", "confidence",
    "uncertain", "shot",
]


# --- in this process ----------------------------------------------------------------------


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


@contextmanager
def _process_state_restored() -> Iterator[None]:
    # ``main`` configures logging and SIGTERM for a whole process; give them back to pytest.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stops = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
        for s, h in stops.items():
            signal.signal(s, h)


def run_cli(capfd: pytest.CaptureFixture[str], *args: object) -> CliRun:
    """``emocam ARGS`` in this process (no interpreter start-up), as a user would see it."""
    capfd.readouterr()
    with _process_state_restored():
        code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return CliRun(code, out, err)


# --- in a process of its own ------------------------------------------------------------


def skip_unless_installed(*modules: str) -> None:
    """Skip the test unless ``modules`` are installed, without importing them: a test that
    runs a tool in a child process must not load TensorFlow into the suite's own process,
    where it would stay beside MediaPipe and Qt for every test after it."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def emocam_command(*args: object, tool: str = "emocam",
                   console_script: bool = False) -> list[str]:
    """The command line of ``tool ARGS``: ``python -m`` with this interpreter, or with
    ``console_script`` the installed script next to it where there is one."""
    script = Path(sys.executable).with_name(tool)
    if console_script and script.exists():
        return [str(script), *map(str, args)]
    return [sys.executable, "-m", _MODULES[tool], *map(str, args)]


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    # MediaPipe's C++ core logs every graph start to stderr; tests read stderr line by line.
    return {"GLOG_minloglevel": "2", **(os.environ if env is None else env)}


def _child_setup(limit_bytes: int | None,
                 ignoring: Sequence[int] = ()) -> Callable[[], None]:
    """Ctrl-C, SIGTERM and SIGHUP as a terminal delivers them and, if asked, a file-size
    limit (a disk that fills up, without root). A suite started in the background (``nohup
    pytest &``) runs with SIGINT and SIGHUP ignored, which children inherit; emocam then
    rightly ignores them too, and the tests of stopping would fail for a reason that is not
    emocam's. ``ignoring``: signals the child is started deaf to, as a script's background
    job is to SIGINT, or ``nohup``'s to SIGHUP."""

    def setup() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        for signum in ignoring:
            signal.signal(signum, signal.SIG_IGN)
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return setup


def run_emocam(*args: object, tool: str = "emocam", timeout: float = 120,
               env: Mapping[str, str] | None = None, prefix: Sequence[str] = (),
               limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """``tool ARGS`` in its own process, waited for; stdout and stderr captured as text.
    ``env``: the whole environment (default: this one); ``prefix``: a wrapper command, such
    as one that drops privileges."""
    return subprocess.run(
        [*prefix, *emocam_command(*args, tool=tool)], capture_output=True, text=True,
        timeout=timeout, env=_environment(env), preexec_fn=_child_setup(limit_bytes),
    )


def start_emocam(*args: object, tool: str = "emocam", env: Mapping[str, str] | None = None,
                 limit_bytes: int | None = None, new_session: bool = False,
                 console_script: bool = False,
                 ignoring: Sequence[int] = ()) -> subprocess.Popen[str]:
    """``tool ARGS`` started and left running, to stop, kill or watch; stdout and stderr are
    pipes. ``new_session``: its own process group, so a signal to the group reaches its
    children too, as Ctrl-C in a terminal does. ``ignoring``: see ``_child_setup``."""
    return subprocess.Popen(
        emocam_command(*args, tool=tool, console_script=console_script),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=_environment(env), preexec_fn=_child_setup(limit_bytes, ignoring),
        start_new_session=new_session,
    )


# --- what emocam process writes ---------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of an ``emocam process`` CSV, checking its header and every row's width."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header[-len(HEADER) :] == HEADER
    assert all(len(r) == len(header) for r in rows), "a row has the wrong number of fields"
    return [dict(zip(header, r, strict=True)) for r in rows]


def video_facts(path: Path) -> tuple[int, tuple[int, int], float, int]:
    """Frames reported, size, fps and frames that really decode."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    fps = cap.get(cv2.CAP_PROP_FPS)
    decoded = 0
    while cap.grab():
        decoded += 1
    cap.release()
    return reported, size, fps, decoded


def photo_folder(folder: Path, photo: Path, *names: str) -> Path:
    """``folder``, made, holding a copy of ``photo`` under each of ``names``."""
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(photo.read_bytes())
    return folder
