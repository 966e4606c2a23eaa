"""A folder of photos as a source: its photos in natural name order, one frame each, and what
of the folder is left out (its videos, its subfolders, names that are not UTF-8).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emocam.errors import SourceError, some_of
from emocam.imageheader import (
    animated_file,
    still_format_of,
)
from emocam.input_kinds import IMAGE_EXTS, MAY_ANIMATE, PHONE_PHOTO_EXTS, VIDEO_EXTS
from emocam.inputs import not_utf8, shown_name, utf8_named
from emocam.photo_source import read_image
from emocam.read_notes import ReadNotes
from emocam.source_base import Source
from emocam.types import Frame

# Every source logs under one name: the app shows what reading its file warns of from it
# (emocam.gui.input_notes).
log = logging.getLogger("emocam.sources")


def videos_in(folder: Path) -> list[Path]:
    """The video files directly in ``folder``, in natural name order."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS and _a_file(p)),
                  key=_natural_key)


def _tell_videos_left(folder: Path) -> None:
    """Videos beside a folder's photos are not part of that input: said (in the app's
    banner too), rather than left for the user to find unprocessed."""
    from emocam.outputs import is_output_name

    left = [v.name for v in videos_in(folder) if not is_output_name(v)]
    if left:
        one = len(left) == 1
        log.warning("%s is read as a folder of photos; its %s %s not part of that (open %s "
                    "or give %s by name to process %s)", folder, some_of(left),
                    "is" if one else "are", "it" if one else "them", "it" if one else "them",
                    "it" if one else "them")


def photos_in(folder: Path) -> list[Path]:
    """The photos a folder run reads, in natural name order: its image files (not its
    subfolders'), but not an earlier run's annotated copies beside them (NAME.emocam.jpg:
    read as one more photo, its drawn face counted again). A phone's HEIC photos are
    listed, to be named as skipped; a camera's RAW files are not (they come with a JPEG of
    the same shot)."""
    return _readable_names(photo_files(folder))


def _readable_names(files: list[Path]) -> list[Path]:
    """``files`` but those named in text other than UTF-8 (a folder run says it leaves
    them out), in natural name order."""
    return sorted((p for p in files if utf8_named(p)), key=_natural_key)


def photo_files(folder: Path) -> list[Path]:
    """A folder's photo files, whatever their names' encoding (see ``photos_in``)."""
    from emocam.outputs import is_output_name

    photos = IMAGE_EXTS | PHONE_PHOTO_EXTS
    entries = list(folder.iterdir())
    found = [p for p in entries
             if p.suffix.lower() in photos and _a_file(p) and not is_output_name(p)]
    if found or any(p.suffix.lower() in VIDEO_EXTS for p in entries):
        return found
    # A folder of files without suffixes (a camera's or a scanner's dump: 0001, 0002): its
    # photos are known by their content, as each is when given alone. Only there: opening
    # every file of any folder cost seconds on a network drive, and one such JPEG made a
    # folder of videos a folder of photos.
    return [p for p in entries if not p.suffix and p.is_file() and still_format_of(p)]


def _folders_of_photos(folder: Path, depth: int = 3, looked: int = 2000) -> list[str]:
    """The subfolders of ``folder`` that hold photos, up to ``depth`` levels down, as paths
    from it ("set0/sub0"), nearest first (said when it holds none). Photos two levels down
    were "choose a folder of photos". At most ``looked`` folders are opened (a network
    drive's tree), and the search stops at the first level that has some."""
    level = [folder]
    for _ in range(depth):
        found, below = [], []
        for parent in level:
            try:
                subs = sorted((d for d in parent.iterdir() if d.is_dir()), key=_natural_key)
            except OSError:
                continue
            for d in subs:
                looked -= 1
                if looked < 0:
                    return [str(f.relative_to(folder)) for f in found]
                try:
                    (found if photos_in(d) else below).append(d)
                except OSError:
                    continue
        if found:
            return [str(f.relative_to(folder)) for f in found]
        level = below
    return []


def _a_file(path: Path) -> bool:
    """A file, or a link that should lead to one: a broken link is an input that fails with
    its own sentence, not one that silently is not there."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def _natural_key(path: Path) -> list[Any]:
    # img2 before img10, as a person would sort them.
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class ImageFolderSource(Source):
    """Every image in a folder (not its subfolders), in natural name order, one frame each.

    An unreadable image is skipped with a warning; its index stays reserved so indices keep
    matching the file list.
    """

    def __init__(self, path: Path, fps: float = 1.0, tell_left_out: bool = True):
        self.path = path
        self.name = path.name or str(path)
        self.fps = fps
        found = photo_files(path)
        self.files = _readable_names(found)
        odd = [p for p in found if p not in self.files]
        # Named in the summary too: a terminal line was the only trace of them.
        self._left_out = {shown_name(Path(p.name)): "its name is not UTF-8 text, which the "
                          "image libraries cannot open; rename it" for p in odd}
        if odd:
            log.warning("%s; left out of this folder's photos%s.", not_utf8(odd[0]).rstrip("."),
                        f", with {len(odd) - 1} more so named" if len(odd) > 1 else "")
        if not self.files:
            exts = ".jpg, .png, .webp, .bmp, .tif"  # the common ones, not the first by name
            videos = len(videos_in(path))
            inner = [] if videos else _folders_of_photos(path)
            if videos:
                # Said in the app's banner, which shows text as it is: no backquotes.
                hint = (f"it holds {videos} video(s): open one of them, or give the folder to "
                        "the command emocam process, which processes each")
            elif inner:
                more = " and more" if len(inner) > 3 else ""
                stars = Path(*["*"] * len(Path(inner[0]).parts))  # all at one depth
                hint = (f"its subfolders are not searched, and {', '.join(inner[:3])}{more} "
                        "hold photos: open one of them, or give them all to the command emocam "
                        f"process ({path / stars})")
            else:
                hint = "choose a folder of photos, or a video file"
            raise SourceError(f"The folder {path} contains no images ({exts}, ...); {hint}.")
        self.frame_count = len(self.files)
        if tell_left_out:
            _tell_videos_left(path)
        # Photos that could not be read, by index, and why (found so when looking for the
        # first size, or when their turn came).
        self._unreadable: dict[int, str] = {}
        self._animations: set[int] = set()  # named already
        self.size = self._first_size()
        self._next = 0

    @property
    def photos(self) -> int:
        """Every photo of the folder, those left out for their names too: the summary's
        ``photos`` and the progress bar's total."""
        return len(self.files) + len(self._left_out)

    @property
    def left_out(self) -> int:
        """The folder's photos left out for their names (never read, each said at the start)."""
        return len(self._left_out)

    @property
    def skipped(self) -> int:
        """How many photos could not be read so far."""
        return len(self._unreadable)

    @property
    def ended_early(self) -> str:
        """The photos that could not be read so far, and those left out for their names, in
        one sentence ("" if none was either): said at the end, as a video's early end is,
        since each was only a log line. A folder with only a name left out gets it too: its
        warning at the start was the app's message until the next one (the note of a video
        beside the photos came at once), and its summary, report and export said nothing."""
        if not self._unreadable and not self._left_out:
            return ""
        # A photo deleted or moved while the folder played is said as such: "could not be
        # read as a photo" sent the user looking for damage in a file that was gone.
        gone = [i for i in sorted(self._unreadable) if self._gone(i)]
        bad = [i for i in sorted(self._unreadable) if i not in gone]
        parts = []
        for group, what in ((bad, ("could not be read as a photo and was",
                                   "could not be read as photos and were")),
                            (gone, ("was gone (deleted or moved) when its turn came and was",
                                    "were gone (deleted or moved) when their turn came and "
                                    "were"))):
            if group:
                parts.append(f"{some_of([self.files[i].name for i in group])} "
                             f"{what[len(group) > 1]} skipped")
        # Counted over every photo of the folder, those left out for their names too, as the
        # summary's "photos" and "photos_skipped" count them (it said "1 of 7" beside 8).
        if self._left_out:
            left = list(self._left_out)
            why = ("was left out for a name that is not UTF-8 text",
                   "were left out for names that are not UTF-8 text")
            parts.append(f"{some_of(left)} {why[len(left) > 1]}")
        total = len(self._unreadable) + len(self._left_out)
        return f"In {self.name}, {'; '.join(parts)} ({total} of {self.photos})."

    def read_notes(self) -> ReadNotes:
        """What of the folder was not read whole so far: each photo skipped and why, the
        animations of which only the first picture was read."""
        skipped = {self.files[i].name: self._why(i) for i in sorted(self._unreadable)}
        return ReadNotes(self.ended_early, {**skipped, **self._left_out},
                         tuple(self.files[i].name for i in sorted(self._animations)))

    def _why(self, i: int) -> str:
        if self._gone(i):
            return "gone (deleted or moved) when its turn came"
        return self._unreadable[i]

    def _gone(self, i: int) -> bool:
        return not os.path.lexists(self.files[i])

    def _skip(self, i: int, error: SourceError) -> None:
        log.warning("%s Skipped.", error)
        # The sentence without the folder's path, which the summary names once.
        self._unreadable[i] = str(error).replace(str(self.files[i]), self.files[i].name)

    def _first_size(self) -> tuple[int, int]:
        """The size of the first image that reads: a bad first file is skipped with a
        warning, as it would be in any other place."""
        for i, path in enumerate(self.files):
            try:
                first = read_image(path)
            except SourceError as e:
                self._skip(i, e)
                continue
            return (first.shape[1], first.shape[0])
        kinds = {p.suffix.lstrip(".").upper() for p in self.files
                 if p.suffix.lower() in PHONE_PHOTO_EXTS}
        if len(kinds) == 1 and all(p.suffix.lower() in PHONE_PHOTO_EXTS for p in self.files):
            n, kind = len(self.files), kinds.pop()
            raise SourceError(
                f"The folder {self.path} holds only {kind} photos ({n}), which emocam cannot "
                "read; convert them to JPEG or PNG (most photo viewers can export them), then "
                "process that folder.")
        raise SourceError(f"None of the {len(self.files)} images in the folder {self.path} "
                          "can be read; check they are photos (JPEG, PNG, ...) and readable.")

    def __iter__(self) -> Iterator[Frame]:
        while self._next < len(self.files):
            i = self._next
            self._next += 1
            if i in self._unreadable:
                continue  # warned of already
            try:
                image = read_image(self.files[i])
            except SourceError as e:
                self._skip(i, e)
                continue
            if (i not in self._animations and self.files[i].suffix.lower() in MAY_ANIMATE
                    and animated_file(self.files[i])):
                self._animations.add(i)  # said once, not at each pass (the app seeks back)
                log.warning("%s is an animation; in a folder only its first picture is read. "
                            "Process it on its own to read every picture.", self.files[i])
            yield Frame(image, i, i * 1000.0 / self.fps, str(self.files[i]))

    def seek(self, index: int) -> None:
        self._next = min(max(0, index), len(self.files))
