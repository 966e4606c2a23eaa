"""``Source``: what every source of frames is (a camera, a video, a photo, a folder of photos):
an iterable of ``Frame`` objects that is also a context manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from emocam.errors import SourceError
from emocam.read_notes import ReadNotes
from emocam.types import DEFAULT_FPS, Frame

# A file's pixel shape outside this is a broken header, not a picture anyone made (the widest
# anamorphic formats are 2:1): such a file, and a value that is no number, is read square.
_PLAUSIBLE_ASPECT = (Fraction(1, 4), Fraction(4))


def plausible_pixel_aspect(value: object) -> Fraction:
    """``value`` (a PyAV ratio, a recorded "32/27") as a pixel shape; 1 where unsaid or
    implausible."""
    try:
        aspect = Fraction(str(value)) if value else Fraction(1)
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    low, high = _PLAUSIBLE_ASPECT
    return aspect if low <= aspect <= high else Fraction(1)


class Source:
    """Frames from somewhere. Iterate for frames; ``close()`` (or ``with``) when done."""

    name: str = ""
    fps: float = DEFAULT_FPS
    frame_count: int | None = None  # None: unknown or endless (a camera)
    size: tuple[int, int] = (0, 0)  # width, height
    is_live: bool = False
    ended_early: str = ""  # why the input ended before its end, once it has (one sentence)
    # Where the first frame stands on the file's own timeline (a video whose sound starts
    # first); frames' times count from the first frame. None: no file, no such timeline.
    first_frame_ms: float | None = None

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

    def read_notes(self) -> ReadNotes:
        """What of the input could not be read so far, as its outputs record it."""
        return ReadNotes(self.ended_early)

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
