"""Shipped model files are checked against the checksums shipped with them.

A model file damaged on disk (a bad sector, an interrupted copy, a hand edit) often still
loads: the emotion model then labels every face with the same wrong emotion, with
confidence, and the run ends as if all were well. ``models/SHA256SUMS`` lists every file
emocam ships; a file listed in the ``SHA256SUMS`` beside it is hashed each time it is
loaded (about 2 ms for the largest) and refused when it differs. A user's own model, in a
folder without that list, is not checked.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from emocam import atomic
from emocam.errors import ModelError, OutputError

log = logging.getLogger(__name__)

SUMS = "SHA256SUMS"


def listed_digest(folder: Traversable | Path, name: str) -> str | None:
    """The SHA256 that ``folder``'s ``SHA256SUMS`` gives for ``name``, or None if unlisted."""
    try:
        text = (folder / SUMS).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        parts = line.split()
        # sha256sum's format: digest, then the name (with '*' before it in binary mode).
        if len(parts) == 2 and parts[1].lstrip("*") == name:
            return parts[0].lower()
    return None


def verify(folder: Traversable | Path, name: str, data: bytes) -> None:
    """Raise ``ModelError`` when ``data`` is not the file ``name`` that ``SHA256SUMS`` lists."""
    want = listed_digest(folder, name)
    if want is None:
        return
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        log.debug("%s: sha256 %s, listed %s", name, got, want)
        raise ModelError(
            f"The model file {folder / name} is damaged (its SHA256 checksum differs from "
            f"the one in {folder / SUMS}); reinstall emocam ('pip install --force-reinstall "
            f"emocam', or in a source checkout 'git checkout -- {folder / name}')."
        )


def verify_file(path: Path) -> None:
    """``verify`` for a file on disk, when the folder it lies in lists it."""
    if listed_digest(path.parent, path.name) is None:
        return
    try:
        data = path.read_bytes()
    except OSError:
        return  # unreadable: the loader names that cause itself
    verify(path.parent, path.name, data)


def model_bytes(name: str, folder: Traversable | Path | None = None) -> bytes:
    """The checked bytes of a bundled face-detector model (bytes, so that paths with any
    characters work), from ``folder`` or the installed ``emocam.models``."""
    where = folder if folder is not None else resources.files("emocam.models")
    path = where / name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(
            f"The face-detector model {path} is missing or unreadable; reinstall emocam."
        ) from e
    if not data:
        raise ModelError(f"The face-detector model {path} is empty; reinstall emocam.")
    verify(where, name, data)  # a damaged copy could still load and find wrong faces
    return data


def relist(path: Path) -> bool:
    """Give ``path``'s line in the ``SHA256SUMS`` beside it the file's digest now, when the
    list names it: a shipped file remade on purpose (any ``fer-train`` command writing
    into ``models/``) is then not refused as damaged. True when the list was changed."""
    sums = path.parent / SUMS
    if listed_digest(path.parent, path.name) is None:
        return False
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines = sums.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == path.name:
                lines[i] = f"{digest}  {parts[1]}"
        # Whole or not at all: a list cut short would call every file after it damaged.
        atomic.write_text(sums, "\n".join(lines) + "\n")
    except OSError as e:
        raise OutputError(
            f"{path} was written, but its line in {sums} could not be updated "
            f"({e.strerror or e}), so emocam would refuse it as damaged; update it with "
            f"'cd {path.parent} && sha256sum {path.name}'."
        ) from e
    return True
