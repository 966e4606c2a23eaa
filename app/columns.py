"""The CSV's own columns, around one column per emotion class.

They live here, apart from the writer, because names checked elsewhere must not clash with
them: a model's class names and a re-analysis's label map (a class named ``frame`` would
give the CSV two ``frame`` columns, and a reader would take one for the other).
"""

from __future__ import annotations

from collections.abc import Iterable

BEFORE_CLASSES = ("frame", "time_ms", "face_id", "x", "y", "w", "h")
AFTER_CLASSES = ("top_label", "confidence", "uncertain", "shot")
FILE = "file"  # first, in a folder's CSV: the photo's name
FIXED = frozenset((FILE, *BEFORE_CLASSES, *AFTER_CLASSES))

# A spreadsheet takes a cell that starts with one of these for a formula ("CSV injection"): a
# photo named "=HYPERLINK(...).jpg" sent by someone else would run as one when the CSV opens.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def file_cell(name: str) -> str:
    """A photo's name for the ``file`` column: one a spreadsheet would take for a formula gets
    ``./`` before it, which names the same file and reads as text."""
    return f"./{name}" if name.startswith(_FORMULA_STARTS) else name


def taken_names(names: Iterable[str]) -> list[str]:
    """The class names that are a column of the CSV already, in any case ("Frame" and
    "frame" are one column to a reader that matches headings without case)."""
    fixed = {c.casefold() for c in FIXED}
    return sorted({n for n in names if n.casefold() in fixed})


def formula_like(names: Iterable[str]) -> list[str]:
    """The class names a spreadsheet would take for formulas (a column heading and every
    ``top_label`` cell): refused where names are chosen, since a label has no "./" to add."""
    return sorted(n for n in names if n.startswith(_FORMULA_STARTS))
