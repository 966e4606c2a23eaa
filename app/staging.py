"""Where an output is written while it is made, and the checks before anything is.

An output that exists already (``--overwrite``) is never half-overwritten: the new one is
written beside it under a hidden ``.NAME.partial`` name and renamed over it when its run
completes, so a crash leaves the old file intact and the new one's results so far beside it.
A device or a pipe (``/dev/stdout``) is written in place. A write that fails is said with
what to do (``no_space_hint``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from emocam.errors import OutputError
from emocam.inputs import shown_name, utf8_named
from emocam.locks import being_written_by, held_sentence

log = logging.getLogger(__name__)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: Path, inputs: Iterable[Path] = (), overwrite: bool = False,
                 unfinished: bool = False, resume: bool = True) -> None:
    """Refuse to write onto an input, or onto an existing file unless ``overwrite``
    (``unfinished``: the file is of a run that did not finish, which --resume redoes where
    ``resume``, else --overwrite)."""
    for src in inputs:
        if _same_file(path, src) or path.resolve() == src.resolve():
            raise OutputError(
                f"The output {path} is the input file itself; choose another output name."
            )
    if path.is_dir():
        raise OutputError(f"The output {path} is a folder; give a file name instead.")
    if not utf8_named(path):
        # OpenCV, which reads the annotated video back, ended the process on such a name.
        raise OutputError(f"The output {shown_name(path)} is named in text that is not UTF-8; "
                          "choose a name (and folder) in UTF-8.")
    _check_name_length(path)
    who = being_written_by(path)
    if who is not None:  # --overwrite would not help: say so before it is tried
        raise OutputError(held_sentence(path, who))
    if writes_in_place(path):
        return  # a pipe or terminal (/dev/stdout): nothing there is replaced
    if path.exists() and not overwrite and unfinished:
        redo = ("pass --resume to redo that run, or --overwrite to replace it" if resume
                else "pass --overwrite to redo that run, or choose another name")
        raise OutputError(f"The output {path} is from a run that did not finish; {redo}.")
    if path.exists() and not overwrite:
        raise OutputError(
            f"The output {path} already exists; pass --overwrite to replace it or choose "
            "another name."
        )
    if not path.parent.is_dir():
        raise OutputError(f"The folder {path.parent} for the output {path} does not exist; "
                          "create it first, or name a folder that exists.")


# The most a hidden name written beside an output adds to its name: ".NAME.PID.tmp" (a pid
# has up to 7 digits); the staged copy ".STEM.partial.EXT" and the lock ".NAME.lock" add less.
_HIDDEN_EXTRA = len("..1234567.tmp")


def _check_name_length(path: Path) -> None:
    """Refuse, before anything is written, an output whose name or the hidden names beside
    it are longer than the folder's file system takes (255 bytes on most): a 78-character
    Japanese title (234 bytes) failed at its last file, leaving a broken set."""
    try:
        limit = os.pathconf(path.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # Windows, or a folder not there yet
        limit = 255
    size = len(os.fsencode(path.name))
    if size + _HIDDEN_EXTRA > limit:
        raise OutputError(
            f"The output name {path.name} is {size} bytes long, too long for its folder's file "
            f"system with the hidden names emocam writes beside it ({limit - _HIDDEN_EXTRA} "
            "bytes at most); rename the input shorter, or name the outputs with --csv, --json "
            "and --output-video.")


def staging_path(path: Path) -> Path:
    """The hidden sibling an existing ``path`` is rewritten under (suffix kept: a video's
    container is chosen by it)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def is_staged(path: Path) -> bool:
    """Whether ``path`` is named as ``staging_path`` names a rewritten output."""
    name = Path(path).name
    return name.startswith(".") and ".partial" in name


def parts_dir(path: Path) -> Path:
    """Where the sidecar ``path`` keeps its chunks while its run goes on."""
    return path.with_name(f".{path.name}.parts")


def moved_aside_path(final: Path) -> Path:
    """Where a commit keeps an earlier set's file until its own are all in place."""
    return final.with_name(f".{final.name}.old")


def put_back_moved_aside(finals: Iterable[Path], ours: bool = False) -> list[Path]:
    """An earlier set's files that a run killed in the middle of its commit left moved aside
    (``.NAME.old``): put back where none of that run's own files had been put in place yet,
    so the earlier set is there again whole (a run finding no outputs wrote a new set beside
    them, hidden for good). Returns the moved-aside files left, where the killed run had
    begun to put its own in place: that set is neither, and a run replacing it drops them.
    ``ours``: the caller holds the set's locks itself (else a run holding them is let be)."""
    finals = [f for f in finals if not writes_in_place(f)]
    aside = [(f, moved_aside_path(f)) for f in finals]
    aside = [(f, old) for f, old in aside if old.exists() or old.is_symlink()]
    if not aside or (not ours and any(being_written_by(f) is not None for f in finals)):
        return []  # a run committing now holds the set: its files are its own business
    if any(final.exists() or final.is_symlink() for final, _ in aside):
        return [old for _, old in aside]
    for final, old in aside:
        try:
            os.replace(old, final)
        except OSError:
            continue
    log.warning("put back %s, moved aside by a run that stopped while it replaced them",
                ", ".join(str(f) for f, _ in aside))
    return []


DEV_FD = Path("/dev/fd")  # macOS's (and the BSDs') descriptors, each a file of its own


def writes_in_place(path: Path) -> bool:
    """A device, pipe or terminal (``/dev/stdout``, also when the shell sends it to a file):
    written where it is, never staged beside or renamed over (that would replace the link
    ``/dev/stdout`` itself)."""
    path = Path(path)
    if not path.exists():
        return False
    if not (path.is_file() or path.is_dir()):
        return True
    # A regular file reached through /proc (/dev/stdout -> /proc/self/fd/1 -> a file the shell
    # opened) or macOS's /dev/fd (/dev/stdout -> fd/1, which is no link: it reads as the
    # file itself): a file under /dev/shm, say, is staged and renamed as anywhere else.
    hop = path.absolute()
    for _ in range(8):
        if hop.parts[1:2] == ("proc",) or hop.parent == DEV_FD:
            return True
        if not hop.is_symlink():
            return False
        target = Path(os.readlink(hop))
        hop = target if target.is_absolute() else hop.parent / target
    return False


def write_target(path: Path) -> Path | None:
    """Where to write while ``path`` must stay intact, or None to write in place (a new file:
    nothing to lose, and a reader can follow it as it grows; a device or a pipe)."""
    return staging_path(path) if path.is_file() and not writes_in_place(path) else None


def commit(staging: Path | None, path: Path, keep: bool) -> None:
    """Put a staged file in place (one rename), or drop it and leave the old file intact."""
    if staging is None:
        return
    if keep:
        os.replace(staging, path)
    else:
        staging.unlink(missing_ok=True)


def no_space_hint(e: OSError) -> str:
    """Why an output could not be written, and what to do: "No space left on device; free
    some disk space or choose another folder"."""
    if isinstance(e, PermissionError) or e.errno == errno.EROFS:
        hint = "choose a folder you may write to"
    elif e.errno == errno.EPIPE:
        # An output sent to a pipe whose reader stopped (| head): no disk is involved.
        hint = "the program reading it stopped before the end; write it to a file instead"
    elif e.errno == errno.EISDIR:
        hint = "a folder of that name is in the way; rename it or choose another name"
    elif e.errno == errno.ENOTDIR:
        hint = "part of the path is a file, not a folder; choose another folder"
    elif e.errno == errno.ENAMETOOLONG:
        hint = "choose a shorter name or a folder nearer the root"
    else:
        hint = "free some disk space or choose another folder"
    return f"{e.strerror or e}; {hint}"


# The errors of a write the disk had no room for: a full disk, a quota, a file-size limit.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# Errors that name a cause of their own, whatever the space left: a folder's rights, a folder
# or a file in the way, a name too long, a reader gone (no_space_hint's sentences for them).
_OTHER_CAUSE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR,
                errno.ENAMETOOLONG, errno.EPIPE, errno.ENOENT, errno.EEXIST)
# Less free than this and a write refused with a library's generic error (FFmpeg's, whose
# header write on a full disk may not say why) is the disk's: no output set fits in it (a
# video's header alone takes a filesystem page or two), and a codec or size the encoder
# refuses is refused whatever the space, which a disk with more free than this shows.
NEARLY_FULL_BYTES = 64 * 1024


def no_room(e: BaseException, folder: Path) -> OSError | None:
    """``e`` as the disk that had no room for a write into ``folder``, or None when the disk is
    not the cause: by its errno, or, when a library hid it, by the space left on the disk."""
    code = getattr(e, "errno", None)
    if code in _NO_ROOM:
        return OSError(code, os.strerror(code))
    if isinstance(e, PermissionError) or code in _OTHER_CAUSE:
        return None  # a folder in the way on a nearly full disk was called the disk's fault
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= NEARLY_FULL_BYTES:
        return None
    return OSError(errno.ENOSPC, f"only {free // 1024} KiB left on its disk")


def failure_reason(e: BaseException) -> str:
    return no_space_hint(e) if isinstance(e, OSError) and e.strerror else str(e)
