"""The terminal ``emocam`` writes to: only emocam's own lines (native libraries' start-up
chatter sent away), each above the progress bar."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from emocam.errors import quiet_closed_stdout

log = logging.getLogger("emocam")


def quiet_native_logs() -> None:
    # MediaPipe's and TensorFlow Lite's C++ cores log to stderr at start-up; a user sees
    # only our own messages unless they ask for more.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # FFmpeg's own complaints about a broken file would print before our one-sentence error.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


@contextmanager
def native_stderr_to_devnull(enabled: bool) -> Iterator[None]:
    """Native libraries (LiteRT, TensorFlow, FFmpeg) write straight to file descriptor 2,
    bypassing every Python setting. Point descriptor 2 at /dev/null and give Python's
    ``sys.stderr`` a private copy of the real one, so the user sees only emocam's lines."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no usable descriptor 2 (pythonw)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = sys.stderr
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)
        sys.stderr.close()
        sys.stderr = saved


class AboveProgressBar(logging.StreamHandler):
    """A message goes on its own line above the progress bar, not onto the bar's line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def say(text: str, file: TextIO | None = None) -> None:
    """A line of what a run did (``file``: standard output), above the progress bar. A
    reader that stopped taking them (``emocam process a b c | head -1``) is let go and the
    run goes on: the outputs are what matters, and the inputs after it were left undone."""
    from tqdm import tqdm

    out = file or sys.stdout
    try:
        tqdm.write(text, file=out)
        out.flush()  # here, where it can be caught, not at some later write or at exit
    except BrokenPipeError:
        if out is sys.stdout:
            quiet_closed_stdout()
