"""Whether a video or photo is still the file a run analysed.

A re-analysis draws the recorded boxes on the source's frames again. On a file replaced under
the same name (a trimmed re-export of a video, another photo saved over one of a folder's)
they would land on other faces, with nothing to say so. A fingerprint of each file is kept
in the sidecar and compared first: the file's size and a hash of its bytes, all of them for
a photo, the first and last ``SAMPLE`` bytes of a larger file (a video: a trim or a re-encode
changes its size and its ends, and a few milliseconds stay a few however long the video).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

SAMPLE = 4 << 20  # bytes hashed at each end of a file larger than twice this


def fingerprint(path: Path | str) -> str:
    """``"SIZE:HASH"`` of a regular file; "" for anything else (a camera, a pipe, a device,
    a file that cannot be read): nothing is then compared."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return ""  # checked before opening: opening a pipe would wait for its writer
        with open(path, "rb") as fh:
            h = hashlib.blake2b(digest_size=8)
            if st.st_size <= 2 * SAMPLE:
                h.update(fh.read())
            else:
                h.update(fh.read(SAMPLE))
                fh.seek(st.st_size - SAMPLE)
                h.update(fh.read(SAMPLE))
    except OSError:
        return ""
    return f"{st.st_size}:{h.hexdigest()}"


def folder_fingerprint(photos: Sequence[Path]) -> str:
    """``"photos:N:HASH"`` of a folder's photos: their names, sizes and times of change (not
    their bytes: a folder of a thousand phone photos would be gigabytes to read before a
    --resume could skip it). A photo added, removed or saved over changes it."""
    h = hashlib.blake2b(digest_size=8)
    for path in photos:
        try:
            st = os.stat(path)
        except OSError:
            continue  # a link to nothing: named as skipped when the folder is read
        h.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "replace"))
    return f"photos:{len(photos)}:{h.hexdigest()}"


def input_fingerprint(path: Path) -> str:
    """:func:`fingerprint` of a file, :func:`folder_fingerprint` of a folder's photos."""
    if path.is_dir():
        from emocam.photo_folder import photos_in

        try:
            return folder_fingerprint(photos_in(path))
        except OSError:
            return ""
    return fingerprint(path)


def changed(path: Path | str, recorded: object) -> bool:
    """True when ``path`` is known not to be the file recorded: both fingerprints exist and
    differ. A sidecar from before fingerprints (or a file unreadable now) says nothing."""
    if not isinstance(recorded, str) or not recorded:
        return False
    now = fingerprint(path)
    return bool(now) and now != recorded
