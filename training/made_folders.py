"""The folders a fer-train command makes for what it writes, taken back when it ends without
writing there: a mistyped command (a bad --set, missing --data) left an empty folder behind."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

_made: list[Path] = []


def make_folder(folder: Path) -> None:
    """``folder`` made with its missing parents, each remembered for ``take_back``."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    _made.extend(missing)


def forget() -> None:
    """A new command starts: folders an earlier one made in this process are not its own."""
    _made.clear()


def take_back() -> None:
    """Remove the folders made since ``forget`` that are still empty, the deepest first. One
    that holds anything stays, and one that existed before was never remembered."""
    for folder in sorted(set(_made), key=lambda p: len(p.parts), reverse=True):
        with suppress(OSError):  # it holds something (this command's, or another's): kept
            folder.rmdir()
    _made.clear()
