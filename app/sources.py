"""Where frames come from: a webcam, a video file, one image or a folder of images.

``open_source`` picks the kind from the spec and returns a ``Source``: an iterable of
``Frame`` objects (BGR uint8, a new array per frame) that is also a context manager.

File sources hand out every decodable frame in order and never drop one. A live camera is
read by a background thread that keeps only the newest frame: a slow consumer gets the
latest picture, never a queue of stale ones.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from os import PathLike, fspath
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emocam.errors import SourceError, frames_text, some_of
from emocam.imageheader import (
    MAX_IMAGE_PIXELS,
    MAX_VIDEO_PIXELS,
    animated_file,
    declared_size,
    pictures_in,
    still_format,
    still_format_of,
    tiff_pages,
)
from emocam.inputs import check_input, empty, not_utf8, unreachable, utf8_named
from emocam.newest import NewestFrame
from emocam.picture_sizes import PictureSizes
from emocam.types import DEFAULT_FPS, Frame

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".jpe", ".jif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2",
     ".pgm", ".ppm", ".pbm", ".gif"}
)
VIDEO_EXTS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp",
     ".ts", ".mts"}
)
# Photo formats OpenCV does not read: named as such, not as videos that cannot be opened.
UNREADABLE_PHOTO_EXTS = frozenset(
    {".heic", ".heif", ".avif", ".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf"}
)
PHONE_PHOTO_EXTS = frozenset({".heic", ".heif", ".avif"})
# The photo types that may hold an animation (a video to FFmpeg): only these are opened to
# look, not every JPEG of a folder.
_MAY_ANIMATE = frozenset({".png", ".webp", ".gif"})
STALL_TIMEOUT_S = 5.0
_MAX_BAD_READS = 60  # consecutive undecodable frames skipped before a video is deemed over


class Source:
    """Frames from somewhere. Iterate for frames; ``close()`` (or ``with``) when done."""

    name: str = ""
    fps: float = DEFAULT_FPS
    frame_count: int | None = None  # None: unknown or endless (a camera)
    size: tuple[int, int] = (0, 0)  # width, height
    is_live: bool = False

    @property
    def video_fps(self) -> float:
        """The rate an annotated video of this source is written at: ``fps``, unless the
        source's rate varies and its fast parts need more."""
        return self.fps

    @property
    def pixel_aspect(self) -> Fraction:
        """The shape of the source's pixels, width over height, which its annotated video
        keeps: 1 (square) but for anamorphic video (a DVD's 16:9 picture stored 720x480)."""
        return Fraction(1)

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def seek(self, index: int) -> None:
        """Make the next frame the one at ``index`` (files only)."""
        raise SourceError(f"{self.name} is live; it cannot seek.")

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.size[0]}x{self.size[1]}>"


def input_kind(path: Path) -> str:
    """"folder", "image" or "video": what emocam takes ``path`` for, decided in this one
    place for the run, its output names, the app's export and a batch's --resume. A photo is
    known by its extension, or, without one, by its first bytes: FFmpeg opened such a photo
    as a one-frame video, sideways (no EXIF rotation), annotated into an .mp4. (Only without
    one: an .mjpeg camera stream starts as a JPEG does.) An animated WebP, PNG or GIF is a
    video: read as a photo, all but its first picture went unseen; a still GIF is a photo (it
    was a one-frame .mp4)."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTS:
        return "video" if suffix in _MAY_ANIMATE and animated_file(path) else "image"
    if not suffix and still_format_of(path) is not None:
        return "image"
    return "video"


def _plays_as_video(path: Path) -> bool:
    """Whether FFmpeg reads more than one picture from ``path``."""
    cap = cv2.VideoCapture(str(path))
    try:
        return cap.isOpened() and cap.grab() and cap.grab()
    finally:
        cap.release()


def open_source(
    spec: str | int | PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    stall_timeout_s: float = STALL_TIMEOUT_S,
    tell_left_out: bool = True,
) -> Source:
    """Open a camera (an index: ``0`` or ``"0"``), a video, an image or a folder of images.

    ``size`` asks a camera for a resolution (it may pick the nearest it has); ``fps`` sets
    the frame rate of an image folder (default 1: photos a second apart). ``tell_left_out``:
    a folder says which videos beside its photos it leaves out (not to a re-analysis, whose
    photos are the recorded run's).
    """
    if isinstance(spec, bool):
        raise SourceError(f"{spec!r} is not a camera index, video, image or folder.")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource.open(int(spec), size=size, stall_timeout_s=stall_timeout_s)
    path = Path(fspath(spec)).expanduser()
    st = check_input(path)  # the true cause for a loop, a pipe, a device, no permission
    if stat.S_ISDIR(st.st_mode):
        return ImageFolderSource(path, fps=fps or 1.0, tell_left_out=tell_left_out)
    suffix = path.suffix.lower()
    if input_kind(path) == "image" or suffix in UNREADABLE_PHOTO_EXTS:
        try:
            return ImageSource(path)
        except SourceError:
            if still_format_of(path) is None and _plays_as_video(path):
                # "cannot be decoded; it may be corrupt" was untrue of a good video.
                raise SourceError(
                    f"{path} is a video under a photo's name; rename it to a video's name "
                    f"(e.g. {path.stem}.mp4) and process that.") from None
            raise
    try:
        return VideoSource.open(path)
    except SourceError:
        # Perhaps an image with an unusual name: take it if it decodes as one.
        try:
            image = ImageSource(path)
        except SourceError:
            pass
        else:
            if animated_file(path):  # an FFmpeg older than OpenCV 5's plays no animated WebP
                log.warning("%s is an animation this OpenCV cannot play; only its first "
                            "picture is read.", path)
            return image
        raise


# --- images -----------------------------------------------------------------------------


def read_image(path: Path) -> np.ndarray:
    """Any image file as BGR uint8: gray, alpha and 16-bit are converted; EXIF rotation is
    applied (``IMREAD_COLOR`` does that); any characters in the path work (``imdecode``)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ELOOP):  # a link to nothing, a loop: their cause
            raise SourceError(unreachable(path, e)) from e
        raise SourceError(f"The image {path} cannot be read ({e.strerror}); check it.") from e
    if not data.size:
        raise SourceError(empty(path))
    _refuse_huge(path, data)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as e:  # OpenCV's own size limit, or a decoder that gave up loudly
        too_big = "MAX_IMAGE" in str(e)
        why = "declares more pixels than OpenCV decodes" if too_big else "cannot be decoded"
        raise SourceError(f"The image {path} {why}; it may be corrupt or not an image.") from e
    except MemoryError as e:
        raise SourceError(
            f"The image {path} is too large to decode in the memory available; scale it down."
        ) from e
    kind = still_format(data[:8].tobytes()) if image is None else None
    if kind == "gif":
        image = _first_picture(path)  # OpenCV before 4.11 reads no GIF; its FFmpeg does
    elif kind == "jpeg":
        # A JPEG cut short (a copy that stopped): imdecode gives nothing where imread, as
        # photo viewers do, gives the part there is (imread cannot open every path, so it
        # comes second).
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            log.warning("The image %s is damaged or cut short; the part of it that could be "
                        "decoded was read (its lower part may be grey).", path)
    if image is None:
        # Unless this OpenCV has a reader for its kind (OpenCV 5 reads AVIF): then it is the
        # file that is damaged (a cut AVIF was "an AVIF photo, which emocam cannot read").
        if path.suffix.lower() in UNREADABLE_PHOTO_EXTS and not _has_reader(path):
            kind = path.suffix.lstrip(".").upper()
            article = "an" if kind[0] in "AEIOU" else "a"
            raise SourceError(
                f"{path} is {article} {kind} photo, which emocam cannot read; convert it to "
                "JPEG or PNG (most photo viewers can export it), then process that.")
        raise SourceError(f"The image {path} cannot be decoded; it may be corrupt or not an image.")
    if still_format(data[:8].tobytes()) == "tiff":
        pages = tiff_pages(memoryview(data), most=1000)  # not a copy of the whole file
        if pages >= 2:
            # A scanner's or fax's multi-page TIFF: the faces on the other pages were not
            # looked for, unsaid.
            log.warning("The image %s holds %s pages; only its first is read (save each page "
                        "as an image of its own to read the others).", path,
                        f"{pages}" if pages < 1000 else "1000 or more")
    return image


def _has_reader(path: Path) -> bool:
    """Whether this OpenCV reads photos of ``path``'s kind: AVIF alone of those phones make,
    where OpenCV 5 has libavif (whose check of a file's start also takes a HEIC's)."""
    if path.suffix.lower() != ".avif":
        return False
    try:
        return bool(cv2.haveImageReader(str(path)))
    except cv2.error:
        return False


def _first_picture(path: Path) -> np.ndarray | None:
    cap = _capture(path)
    try:
        ok, image = cap.read()
        return image if ok else None
    finally:
        cap.release()


def _refuse_huge(path: Path, data: np.ndarray) -> None:
    # Checked before decoding: a small file may declare billions of pixels (a bomb).
    size = declared_size(data[: 1 << 16].tobytes())
    if size is None or size[0] * size[1] <= MAX_IMAGE_PIXELS:
        return
    w, h = size
    raise SourceError(
        f"The image {path} declares {w}x{h} pixels ({w * h / 1e6:,.0f} megapixels, "
        f"{w * h * 3 / 1e9:,.1f} GB decoded), more than the {MAX_IMAGE_PIXELS / 1e6:.0f} "
        "megapixels emocam decodes; scale it down if it is a real photo."
    )


class ImageSource(Source):
    """One image: one frame."""

    fps = 1.0
    frame_count = 1

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self._image = read_image(path)
        self.size = (self._image.shape[1], self._image.shape[0])
        self._next = 0

    def __iter__(self) -> Iterator[Frame]:
        while self._next < 1:
            self._next += 1
            yield Frame(self._image.copy(), 0, 0.0, str(self.path))

    def seek(self, index: int) -> None:
        self._next = 0 if index <= 0 else 1


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
        self._unreadable: set[int] = set()  # found so when looking for the first size
        self._animations: set[int] = set()  # named already
        self.size = self._first_size()
        self._next = 0

    @property
    def skipped(self) -> int:
        """How many photos could not be read so far."""
        return len(self._unreadable)

    @property
    def ended_early(self) -> str:
        """The photos that could not be read so far, in one sentence ("" if none): said at
        the end, as a video's early end is, since each was only a log line."""
        if not self._unreadable:
            return ""
        # A photo deleted or moved while the folder played is said as such: "could not be
        # read as a photo" sent the user looking for damage in a file that was gone.
        gone = [i for i in sorted(self._unreadable) if not os.path.lexists(self.files[i])]
        bad = [i for i in sorted(self._unreadable) if i not in gone]
        parts = []
        for group, what in ((bad, ("could not be read as a photo and was",
                                   "could not be read as photos and were")),
                            (gone, ("was gone (deleted or moved) when its turn came and was",
                                    "were gone (deleted or moved) when their turn came and "
                                    "were"))):
            if group:
                names = [self.files[i].name for i in group]
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more"
                                                if len(names) > 3 else "")
                parts.append(f"{shown} {what[len(names) > 1]} skipped")
        total = len(self._unreadable)
        return (f"In {self.name}, {'; '.join(parts)} ({total} of {len(self.files)}).")

    def _first_size(self) -> tuple[int, int]:
        """The size of the first image that reads: a bad first file is skipped with a
        warning, as it would be in any other place."""
        for i, path in enumerate(self.files):
            try:
                first = read_image(path)
            except SourceError as e:
                log.warning("%s Skipped.", e)
                self._unreadable.add(i)
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
                log.warning("%s Skipped.", e)
                self._unreadable.add(i)
                continue
            if (i not in self._animations and self.files[i].suffix.lower() in _MAY_ANIMATE
                    and animated_file(self.files[i])):
                self._animations.add(i)  # said once, not at each pass (the app seeks back)
                log.warning("%s is an animation; in a folder only its first picture is read. "
                            "Process it on its own to read every picture.", self.files[i])
            yield Frame(image, i, i * 1000.0 / self.fps, str(self.files[i]))

    def seek(self, index: int) -> None:
        self._next = min(max(0, index), len(self.files))


# --- video files --------------------------------------------------------------------------


_ESTIMATED_COUNT_SUFFIXES = frozenset({".mkv", ".webm"})


def _capture(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    # A phone held upright stores its picture lying down with a rotation flag; show it as
    # the phone did. OpenCV 4.11 turned this off by default, 4.12 and 5.0 on.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def _sane_fps(fps: float, where: str) -> float:
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        log.warning(
            "%s reports no usable frame rate (%r); assuming %g fps.", where, fps, DEFAULT_FPS
        )
        return DEFAULT_FPS
    return fps


# A forward jump of the container's clock believed without the file's length to vouch for it.
_MAX_UNVOUCHED_JUMP_MS = 10_000.0


# The fastest frame rate an annotated video is written at (a phone's slow motion).
_MAX_VIDEO_FPS = 240.0


def _track_ms(stream: Any) -> float:
    """How long a track says it is, in ms (0 where it does not say): its own duration, or
    the DURATION tag Matroska keeps per track ("00:00:05.000000000")."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base) * 1000.0
    tag = (stream.metadata or {}).get("DURATION", "")
    try:
        h, m, sec = tag.split(":")
        return (int(h) * 3600 + int(m) * 60 + float(sec)) * 1000.0
    except ValueError:
        return 0.0


def _clock_facts(path: Path, mean_fps: float) -> tuple[float, float, float, Fraction]:
    """How long the file says it is, from its first frame, in ms (0 where it does not say),
    the frame rate that holds each of its frames, how long its picture track says it is (0
    where it does not say), and the shape of its pixels (width over height: 32/27 for a
    16:9 DVD picture stored 720x480; 1 where it does not say).

    That rate is FFmpeg's guess of the stream's own rate, where it is above the mean. OpenCV
    reports the mean, which a variable-rate file's slow or still parts pull down (a screen
    recording with a still minute: 4 fps for a 30 fps picture); an annotated video written
    at the mean would drop most frames of the fast parts."""
    import av

    try:
        with av.open(str(path)) as container:
            length_ms = max(container.duration or 0, 0) / 1000.0  # microseconds
            stream = container.streams.best("video")  # the one OpenCV reads
            guessed = float(stream.guessed_rate or 0) if stream is not None else 0.0
            picture_ms = _track_ms(stream) if stream is not None else 0.0
            sar = stream.sample_aspect_ratio if stream is not None else None
    except (av.FFmpegError, OSError, ValueError):
        return 0.0, mean_fps, 0.0, Fraction(1)
    # 5% spares a constant-rate file whose mean is rounded (29.97 against 30) a repeat now
    # and then.
    steady = guessed if mean_fps * 1.05 < guessed <= _MAX_VIDEO_FPS else mean_fps
    pixel = Fraction(sar) if sar and 0.25 <= sar <= 4 else Fraction(1)
    return length_ms, steady, picture_ms, pixel


def _refuse_without_pictures(path: Path) -> None:
    """Say so when a media file holds nothing to read, if that is why OpenCV read nothing:
    sound alone (an .m4a renamed, a screen recorder's sound track), or a picture track
    without a frame (a recording stopped at once). Those were called corrupt or of an
    unknown codec."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                why = ("holds sound only, no pictures" if container.streams.audio
                       else "holds no pictures")
            elif any(p.size for p in container.demux(container.streams.video[0])):
                return
            else:
                why = "holds no frames (its recording may have stopped before the first)"
    except (av.FFmpegError, OSError, ValueError):
        return
    raise SourceError(f"The video {path} {why}; give a video with pictures.")


def counted_frames(path: Path, cap: cv2.VideoCapture, pictures: int | None = None
                   ) -> int | None:
    """The frames of the video ``cap`` reads from ``path``, as its container says; None
    where it does not. An animated WebP or PNG: FFmpeg counts none of its pictures, and the
    file says how many (``pictures``, where the caller counted them already; before, the
    app showed such a file as "live")."""
    n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    if math.isfinite(n) and n > 0:
        return int(n)
    if pictures is None:
        pictures = pictures_in(path, most=1 << 20)  # by content: a name may have no suffix
    return pictures if pictures >= 2 else None


class VideoSource(Source):
    """A video file, every frame in order.

    Timestamps come from the container (``CAP_PROP_POS_MSEC``) while they increase and stay
    within the file's length, else from the frame index and fps. Frames that fail to decode
    mid-file are skipped with a warning; a file that yields no frame at all is an error.
    """

    def __init__(self, path: Path, cap: cv2.VideoCapture, first: np.ndarray):
        self.path = path
        self.name = path.name
        self._cap = cap
        self.fps = _sane_fps(cap.get(cv2.CAP_PROP_FPS), str(path))
        # An animated WebP, PNG or GIF cannot be sought in (a seek gave the next picture in
        # order): a seek reads forward from its start.
        pictures = pictures_in(path, most=1 << 20)
        self._forward_only = pictures >= 2
        self.frame_count = counted_frames(path, cap, pictures)
        # Matroska (.mkv, .webm: OBS's default) stores no frame count: OpenCV estimates one
        # from the file's duration, which the longest track sets, often the sound. Ending
        # short of such a count is no sign of damage.
        self._count_estimated = path.suffix.lower() in _ESTIMATED_COUNT_SUFFIXES
        self.size = (first.shape[1], first.shape[0])
        # A frame read but not handed out yet, with its container time (image None: the
        # read failed): the first one, read by ``open``, or one read ahead to check a jump.
        self._ahead: tuple[np.ndarray | None, float] | None = (first, 0.0)
        self._next = 0
        self._decoded = 1  # frames up to the last one decoded (not those a seek skipped)
        self._sought = 0  # where the last seek landed
        self._last_ms = -math.inf
        # fps is the mean rate (durations, progress); video_fps the annotated video's.
        (self._length_ms, self._video_fps, self._picture_ms,
         self._pixel_aspect) = _clock_facts(path, self.fps)
        self.ended_early = ""  # why the file ended before its frame count, once it has
        self._lock = threading.Lock()
        # A picture that changes size mid-way: OpenCV squeezes it into the first size.
        self._sizes = PictureSizes(path, self.size)

    @property
    def video_fps(self) -> float:
        return self._video_fps

    @property
    def pixel_aspect(self) -> Fraction:
        return self._pixel_aspect

    @classmethod
    def open(cls, path: Path) -> VideoSource:
        cap = _capture(path)
        if not cap.isOpened():
            cap.release()
            _refuse_without_pictures(path)
            if path.suffix.lower() in VIDEO_EXTS:  # "use a video" to a .mp4 helps no one
                raise SourceError(
                    f"{path} cannot be opened as a video: it may be damaged or not a video "
                    "at all, or use a codec this build cannot decode; check that it plays in a "
                    "video player, or convert it to H.264 MP4.")
            raise SourceError(
                f"{path} cannot be opened as a video; use a video (.mp4, .avi, .mov, .mkv) "
                "or an image (.jpg, .png) file, check that it is not corrupt, or convert it "
                "to H.264 MP4 if it uses a codec this build cannot decode."
            )
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w * h > MAX_VIDEO_PIXELS:  # before a frame is decoded: it may not fit in memory
            cap.release()
            raise SourceError(
                f"The video {path} has frames of {w}x{h} pixels ({w * h / 1e6:,.0f} "
                f"megapixels), more than the {MAX_VIDEO_PIXELS / 1e6:.0f} megapixels a frame "
                "emocam decodes; scale it down first (for example to 3840 pixels wide).")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            _refuse_without_pictures(path)
            raise SourceError(
                f"The video {path} opens but no frame can be decoded; "
                "the file may be corrupt or truncated."
            )
        return cls(path, cap, first)

    def __iter__(self) -> Iterator[Frame]:
        bad = 0
        while True:
            with self._lock:
                if self._cap is None:
                    return
                image, pos_ms = self._read()
                vouched = image is not None and self._jump_carries_on(pos_ms)
            if image is None:
                if not self._more_expected(bad):
                    self._warn_if_short()
                    return
                bad += 1
                self._next += 1
                continue
            if bad:
                log.warning("%s: skipped %s that could not be decoded.", self.path,
                            frames_text(bad))
                bad = 0
            index = self._next
            self._next += 1
            self._decoded = max(self._decoded, self._next)
            image = self._sizes.fit(image, index)
            yield Frame(image, index, self._timestamp(index, pos_ms, vouched), str(self.path))

    def _read(self) -> tuple[np.ndarray | None, float]:
        """The next frame (None: it failed to decode) and its container time; locked."""
        assert self._cap is not None
        if self._ahead is not None:
            got, self._ahead = self._ahead, None
            return got
        ok, image = self._cap.read()
        return (image if ok else None), self._cap.get(cv2.CAP_PROP_POS_MSEC)

    def _jump_carries_on(self, pos_ms: float) -> bool:
        """Whether a jump of the clock longer than any container glitch is real: the next
        frame carries on from it (one bad timestamp is followed by good ones, behind it).
        The last frame has no next: the file's length must reach it. Locked."""
        if self._last_ms == -math.inf or not pos_ms >= self._last_ms + _MAX_UNVOUCHED_JUMP_MS:
            return False
        self._ahead = self._read()
        image, next_ms = self._ahead
        if image is None:
            return pos_ms <= self._length_ms + 1000.0 / self.video_fps
        return pos_ms < next_ms < pos_ms + _MAX_UNVOUCHED_JUMP_MS

    def _more_expected(self, bad: int) -> bool:
        # Only a known frame count says a failed read is damage rather than the end.
        return (
            self.frame_count is not None and self._next < self.frame_count and bad < _MAX_BAD_READS
        )

    def _warn_if_short(self) -> None:
        # Where decoding stopped, not where a seek past the damage landed.
        good_until = self._decoded
        if self.frame_count is not None and good_until < self.frame_count - 1:
            if self._count_estimated:
                # No frame count, but a length: a download cut short ended at 2.6 s of a
                # declared 5.0 without a word. The picture track's own, where it says; else
                # the file's, which sound running on after the picture (OBS) can pass by a
                # little, hence the margin: a second, or a tenth of the length.
                declared = self._picture_ms or self._length_ms
                frames3 = 3000.0 / self.video_fps
                margin = frames3 if self._picture_ms else max(1000.0, 0.1 * declared, frames3)
                if declared and declared - self._last_ms > margin:
                    self.ended_early = (
                        f"{self.path.name} ended at {self._last_ms / 1000:.1f} s of the "
                        f"{declared / 1000:.1f} s it declares; the file may be truncated.")
                    log.warning("%s", self.ended_early.replace(self.path.name, str(self.path), 1))
                    return
                log.debug("%s ended after %d frames (%d estimated).", self.path, good_until,
                          self.frame_count)
                return
            # A seek past the damage (a player's slider) read nothing from where it landed.
            n = self.frame_count
            where = (f"ended after {good_until} of {n} frames" if good_until > self._sought
                     else f"could not be read from frame {self._sought} of {n} on")

            # Kept for a player to show: the log reaches only a terminal.
            def ended(name: object) -> str:
                # Not only the end: a decoder that skips a damaged middle says nothing, and
                # the frames after it then come early (read, not measured, times).
                return (f"{name} {where}; the file may be truncated, or damaged in places "
                        "(the frames after a damaged part then carry times that are too "
                        "early).")

            self.ended_early = ended(self.path.name)  # the player's banner has little room
            log.warning("%s", ended(self.path))

    def _timestamp(self, index: int, pos_ms: float, vouched: bool = False) -> float:
        """``vouched``: a long jump of the clock that the next frame carries on from."""
        step = 1000.0 / self.video_fps
        if self._last_ms == -math.inf:
            expected, sane = index * step, math.isfinite(pos_ms) and pos_ms >= 0
        else:
            expected = self._last_ms + step
            # Some containers report 0, garbage or jumps; those fall back to index / fps. A
            # long jump is real when vouched for: a screen recording sends no frame while
            # the screen is still, a clip joined to another leaves a pause.
            sane = math.isfinite(pos_ms) and self._last_ms < pos_ms and (
                vouched or pos_ms < self._last_ms + _MAX_UNVOUCHED_JUMP_MS)
        t = pos_ms if sane else expected
        self._last_ms = t
        return t

    def seek(self, index: int) -> None:
        index = max(0, index)
        if self.frame_count is not None:
            index = min(index, self.frame_count)
        with self._lock:
            if self._cap is None:
                return
            if self._forward_only:
                self._cap.release()
                self._cap = _capture(self.path)
                for _ in range(index):
                    self._cap.grab()
            else:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._ahead = None
            self._next = self._sought = index
            self._last_ms = -math.inf

    def close(self) -> None:
        self._sizes.close()
        # A read hung on a lost network drive holds the lock; closing must not hang with it.
        if not self._lock.acquire(timeout=2.0):
            log.warning("%s is stuck in a read; leaving it to the operating system.", self.path)
            return
        try:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
        finally:
            self._lock.release()


# --- cameras ------------------------------------------------------------------------------


class CameraSource(Source):
    """A live camera read on a background thread that keeps only the newest frame.

    Iterating waits for a frame newer than the last one handed out. If the camera delivers
    nothing for ``stall_timeout_s`` (unplugged, taken by another app), iteration raises
    ``SourceError``. Timestamps are the capture times on a monotonic clock.
    """

    is_live = True
    frame_count = None

    def __init__(
        self,
        cap: cv2.VideoCapture,
        name: str,
        *,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        pace_fps: float | None = None,
    ):
        self._cap = cap
        self.name = name
        self.stall_timeout_s = stall_timeout_s
        self.fps = _sane_fps(cap.get(cv2.CAP_PROP_FPS), name)
        self.size = (
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._pace = 1.0 / pace_fps if pace_fps else 0.0  # for file stand-ins in tests
        self._captured = 0
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        # The driver is read on its own thread; only the newest frame is kept.
        self._reader: NewestFrame[Frame] = NewestFrame(
            self._read(), clock=time.monotonic, name="emocam-camera"
        )

    @classmethod
    def open(
        cls,
        index: int,
        *,
        size: tuple[int, int] | None = None,
        stall_timeout_s: float = STALL_TIMEOUT_S,
    ) -> CameraSource:
        name = f"Camera {index}"
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"{name} cannot be opened; check that it is connected and not in use by "
                "another app."
            )
        # One buffered frame: a driver queue would hand out old pictures.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if size is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        return cls(cap, name, stall_timeout_s=stall_timeout_s)

    def _read(self) -> Iterator[Frame]:
        while not self._stop.is_set():
            started = time.monotonic()
            ok, image = self._cap.read()
            now = time.monotonic()
            if ok and image is not None:
                if self.size == (0, 0):
                    self.size = (image.shape[1], image.shape[0])
                frame = Frame(image, self._captured, (now - self._t0) * 1000.0, self.name)
                self._captured += 1
                yield frame
            else:
                self._stop.wait(0.01)  # a hiccup or a dead camera; the reader times out
            rest = self._pace - (time.monotonic() - started)
            if rest > 0:
                self._stop.wait(rest)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = None
            while item is None:
                if self._stop.is_set():
                    return
                waited = time.monotonic() - self._reader.last_at
                if waited >= self.stall_timeout_s:
                    raise SourceError(
                        f"{self.name} stopped delivering frames for "
                        f"{self.stall_timeout_s:g} s; check its connection and that no "
                        "other app uses it, then try again."
                    )
                item = self._reader.wait(min(0.1, self.stall_timeout_s - waited))
                if item is None and self._reader.done and not self._stop.is_set():
                    # The driver raised: no frame will come, so no need to wait out the stall.
                    raise SourceError(
                        f"{self.name} stopped delivering frames ({self._reader.error}); check "
                        "its connection and that no other app uses it, then try again."
                    )
            yield item[0]

    @property
    def captured(self) -> int:
        """Frames read from the camera so far (handed out or replaced by newer ones)."""
        return self._captured

    def close(self) -> None:
        self._stop.set()
        if not self._reader.stop(2.0):
            # Releasing under a blocked read can crash some drivers; the thread is a daemon.
            log.warning("%s did not stop in time; leaving it to the operating system.", self.name)
            return
        self._cap.release()
