"""Errors a user can cause, reported as one sentence without a traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

# Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it), with outputs closed.
EXIT_INTERRUPTED = 130
# What was printed went to a reader that stopped (| head): 128 + SIGPIPE, as shells report
# a tool the pipe ended.
EXIT_READER_GONE = 141
# What stops a run as Ctrl-C does: `kill` (SIGTERM), and a terminal closed or an ssh session
# dropped (SIGHUP, which Windows does not have).
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def quiet_closed_stdout() -> None:
    """After a BrokenPipeError on standard output: the reader has had what it wanted and
    what goes to files is written, so nothing is said (other tools say nothing either).
    Standard output is pointed at the null device, or the interpreter's own flush at exit
    would complain of the broken pipe after all."""
    # No real stdout (a GUI build, a test's capture): nothing to point away.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class UserError(Exception):
    """A problem with the user's input, files or devices.

    The message is one complete sentence that names the file or device and says what to do;
    the command line prints it and exits with ``exit_code``.
    """

    exit_code = 2


class ModelError(UserError):
    """The model file is missing, unreadable or does not match its metadata."""


class SourceError(UserError):
    """A camera, video or image cannot be opened or stops delivering frames."""


class OutputError(UserError):
    """An output cannot be written."""


def count_text(n: int, unit: str = "frame") -> str:
    """'1 frame', '2 frames', '3 photos': ``n`` of what a run counts (its ``Count.unit``).
    A photo's run counted "1 frame" as it stopped."""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def frames_text(n: int) -> str:
    """'1 frame', '2 frames'."""
    return count_text(n)


def inputs_text(n: int) -> str:
    """'1 input', '2 inputs'."""
    return f"{n} input" if n == 1 else f"{n} inputs"


def not_all_processed(total: int, others: list[str]) -> str:
    """The closing sentence of several inputs when some had a problem, said above each."""
    return (f"{total - len(others)} of {inputs_text(total)} processed without a problem; see "
            f"above for: {', '.join(others)}.")


def some_of(names: list[str], shown: int = 3) -> str:
    """Up to ``shown`` names for a sentence, then how many more: 'a, b, c and 4 more'."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
