"""Plain data passed between the pipeline stages (no behaviour beyond small helpers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

Box = tuple[float, float, float, float]  # x, y, width, height in frame pixels
Point = tuple[float, float]


@dataclass(frozen=True)
class Frame:
    """One decoded frame: BGR uint8 ``(H, W, 3)``, its position and its timestamp."""

    image: np.ndarray
    index: int
    time_ms: float
    source: str = ""
    # Its pixels' width over their height: an anamorphic video's (32/27 for a 16:9 DVD
    # stored 720x480). Faces are cropped square as shown, not as stored.
    pixel_aspect: float = 1.0


@dataclass(frozen=True)
class Detection:
    """A face found by a detector.

    ``box`` follows BlazeFace's framing (brows to chin, cheek to cheek) whatever the detector,
    so the crop framing stored with the model fits every detector. ``keypoints`` are in
    frame pixels; ``eyes`` is (image-left eye, image-right eye) when the detector gives them.
    ``predicted``: the box is where the tracker expects the face, on a frame the detection
    schedule skipped, not where a detector found it.
    """

    box: Box
    score: float
    keypoints: tuple[Point, ...] = ()
    eyes: tuple[Point, Point] | None = None
    predicted: bool = False


@dataclass(frozen=True)
class FaceQuality:
    """What one frame shows of one face (see ``emocam.quality``): box side in pixels,
    sharpness of the aligned crop and head turn (NaN without keypoints)."""

    size_px: float
    sharpness: float
    turn: float


@dataclass
class FaceResult:
    """A tracked face in one frame with its emotion probabilities."""

    face_id: int
    box: Box
    score: float
    probs: np.ndarray  # smoothed over time, sums to 1
    raw_probs: np.ndarray  # this frame's classifier output, sums to 1
    keypoints: tuple[Point, ...] = ()
    quality: FaceQuality | None = None
    uncertain: str = ""  # why the label should not be trusted ("small", "blurred"...), or ""

    @property
    def top_index(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def confidence(self) -> float:
        """The calibrated probability of the top emotion (smoothed like ``probs``)."""
        return float(self.probs[self.top_index])


@dataclass
class FrameResult:
    """Everything the pipeline knows about one frame."""

    frame: Frame
    faces: list[FaceResult]
    class_names: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # How the detector's work was spread when this frame was processed (emocam.schedule's
    # ScheduleConfig); None where no detector ran (a replay of recorded numbers).
    schedule: Any = None
    # Which shot of the video the frame belongs to: 0 until the first hard cut, then one
    # more per cut (emocam.cuts); a camera or a photo stays at 0.
    shot: int = 0
    # Boxes the privacy options hide that are not faces of the results: where a face the
    # detector missed in this frame probably is (emocam.face_trail), and in a re-analysis the
    # faces its higher threshold leaves out. Hiding only the faces found showed a face sharp
    # in each frame its detector missed.
    hidden: list[Box] = field(default_factory=list)

    def top_label(self, face: FaceResult) -> str:
        return self.class_names[face.top_index]


class FrameAnalyser(Protocol):
    """What turns frames into results for the sinks: the pipeline, or a replay of a run's
    recorded numbers (``emocam.reanalyse``)."""

    @property
    def class_names(self) -> tuple[str, ...]: ...

    @property
    def info(self) -> dict[str, Any]: ...

    def process(self, frame: Frame) -> FrameResult: ...

    def reset(self) -> None: ...


# A detection scoring below this is not kept as a face (``--min-score`` changes it).
DEFAULT_MIN_SCORE = 0.5
# The frame rate of a source that does not say its own (a video without one, a camera that
# has not yet measured it).
DEFAULT_FPS = 30.0


@runtime_checkable
class Detector(Protocol):
    """Finds faces in a BGR frame, and says what the detection schedule may do with it."""

    name: str
    # Its full scan splits into passes the schedule spreads over frames (``PassDetector``),
    # and it re-finds known faces cheaply; without it, the schedule runs ``detect`` whole.
    scans_in_passes: bool
    # A smaller input is cheaper (Haar); a network with a fixed input size (BlazeFace) only
    # loses small faces when the frame is shrunk first.
    cost_follows_size: bool

    def detect(self, image_bgr: np.ndarray, time_ms: float | None = None) -> list[Detection]:
        """All faces in ``image_bgr`` (uint8 ``(H, W, 3)``); ``time_ms`` is the frame's time."""
        ...

    def close(self) -> None: ...


class PassDetector(Detector, Protocol):
    """A detector whose scan the schedule runs in passes (``scans_in_passes``). A pass is
    the detector's own object: the schedule picks passes and hands them back."""

    def pass_levels(self, width: int, height: int) -> list[list[Any]]:
        """The scan's passes, by level: the whole frame first, then finer tiles."""
        ...

    def run_passes(self, rgb: np.ndarray, passes: Sequence[Any]) -> list[Detection]: ...

    def redetect(self, rgb: np.ndarray, boxes: Sequence[Box]) -> list[Detection]:
        """The faces near ``boxes`` (known faces), found again with a fresh box."""
        ...

    def twin(self) -> PassDetector:
        """A second detector like this one, for the scan on another thread."""
        ...
