"""What an input path really is, and the true reason it cannot be read.

``Path.exists()`` says False for a symbolic-link loop and for a path behind a folder the
user may not enter, and ``stat().st_size`` is 0 for a named pipe or ``/dev/zero``; the
messages built on them named the wrong cause ("does not exist", "is empty"). Here each
case is told apart with one ``stat`` and one ``open``, and named in one sentence.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from emocam.errors import SourceError

_WHAT = "emocam reads video and image files and folders of images"


def shown_name(path: Path) -> str:
    """``path`` as text that can be printed and written to a CSV: a name that is not UTF-8
    (Latin-1 ``caf\xe9.mp4`` from an old camera or archive) shows its odd bytes escaped."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def utf8_named(path: Path) -> bool:
    """Whether ``path``'s name is UTF-8 text: OpenCV crashed the whole process (a
    segmentation fault) on any other, and the CSV and report could not hold it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_utf8(path: Path) -> str:
    return (f"The name of {shown_name(path)} is not UTF-8 text, which the video and image "
            "libraries cannot open; rename it (convmv -f latin1 -t utf8 renames such files).")


def check_input(path: Path) -> os.stat_result:
    """The input's ``stat``; ``SourceError`` naming the true cause when it cannot be read."""
    if not utf8_named(path):
        raise SourceError(not_utf8(path))
    try:
        st = path.stat()
    except OSError as e:
        raise SourceError(unreachable(path, e)) from e
    mode = st.st_mode
    if stat.S_ISFIFO(mode):
        raise SourceError(
            f"{path} is a named pipe, not a file; save what it carries to a video or image "
            "file and give that file instead."
        )
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise SourceError(
            f"{path} is a device, not a file; {_WHAT} (the desktop app opens cameras)."
        )
    if stat.S_ISSOCK(mode):
        raise SourceError(f"{path} is a socket, not a file; {_WHAT}.")
    if stat.S_ISDIR(mode):
        try:
            with os.scandir(path):
                pass
        except OSError as e:
            raise SourceError(
                f"The folder {path} cannot be read ({e.strerror}); check its permissions."
            ) from e
        return st
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as e:
        raise SourceError(
            f"{path} cannot be read ({e.strerror}); check its permissions, or copy it "
            "somewhere you can read."
        ) from e
    if st.st_size == 0:
        raise SourceError(empty(path))
    return st


def empty(path: Path) -> str:
    """That the file ``path`` holds nothing, in one sentence."""
    return f"{path} is empty (0 bytes); it may be an unfinished copy or download."


def unreachable(path: Path, e: OSError) -> str:
    """Why ``path`` cannot be reached (a link to nothing, a loop, a folder not let in), in
    one sentence."""
    if e.errno == errno.ELOOP:
        return (f"{path} is a symbolic link that leads back to itself (a loop); point it at "
                "the real file.")
    if e.errno == errno.ENOENT and path.is_symlink():
        return (f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                "point it at the real file.")
    if e.errno == errno.ENOENT:
        return f"{path} does not exist; check the path and try again."
    if e.errno in (errno.EACCES, errno.EPERM):
        return (f"{path} cannot be reached ({e.strerror}): a folder on its path does not let "
                "you in; check the folders' permissions.")
    if e.errno == errno.ENOTDIR:
        return f"{path} does not exist: a part of its path is a file, not a folder."
    return f"{path} cannot be opened ({e.strerror or e})."
