"""Files written whole or not at all: to a hidden name beside the file, then renamed over it.

A reader (a ``--resume``, a browser, a second run, a training run resumed after a Ctrl-C)
never sees half a file; a write that fails or is interrupted leaves the old file as it was
and nothing beside it. Each writer had its own copy of this, and two left their temporary
file behind when the write failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temporary_name(path: Path) -> Path:
    """The hidden name ``path`` is written under first: ``.NAME.PID.tmp`` (the pid keeps
    two processes writing one file from writing into each other's)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def replacing(path: Path, binary: bool = False, durable: bool = False) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content into; it replaces ``path`` when the ``with``
    ends without an error. ``durable``: on the disk before it replaces the old one (a power
    cut then leaves one of the two, never an empty file)."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
                  ) as fh:
            yield fh
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, durable: bool = False) -> None:
    """``path`` holds ``text`` (UTF-8), whole or not at all."""
    with replacing(path, durable=durable) as fh:
        fh.write(text)
