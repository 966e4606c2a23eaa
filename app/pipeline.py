"""One frame in, tracked faces with emotion probabilities out.

detect -> crop (the model's own CropSpec, levelled by the eyes) -> one classifier call for
all faces -> tracker/smoother. The GUI and the CLI both drive this; it imports no Qt.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocam.classify import EmotionClassifier, default_model_for
from emocam.cuts import CutDetector
from emocam.detect import create_detector
from emocam.face_trail import FaceTrail
from emocam.governor import GovernorConfig, RateGovernor
from emocam.preprocess import crop_faces, to_gray
from emocam.quality import QualityConfig, judge, measure_all, resolve_uncertain_below
from emocam.schedule import DetectionSchedule, ScheduleConfig, ladder_for
from emocam.track import DEFAULT_TAU_S, FaceTracker, TrackerConfig
from emocam.types import DEFAULT_MIN_SCORE, Frame, FrameResult

log = logging.getLogger(__name__)


@dataclass
class PipelineConfig:
    model_path: Path | None = None  # None: the built-in model for the provider (default_model_for)
    detector: str = "mediapipe"  # or "opencv"
    provider: str | None = None  # None: fastest available
    min_score: float = DEFAULT_MIN_SCORE
    smoothing_tau_s: float = DEFAULT_TAU_S
    live: bool = False  # a camera: no cut detection (a live view has no edits to follow)
    # How detector work is spread over frames (see emocam.schedule); with target_fps set,
    # the schedule adapts to hold that rate instead.
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    target_fps: float | None = None
    quality: QualityConfig = field(default_factory=QualityConfig)  # when to say "uncertain"
    # Files: a hard cut to a new shot starts the faces afresh (emocam.cuts).
    detect_cuts: bool = True


class Pipeline:
    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or PipelineConfig()
        model_path = Path(self.config.model_path or default_model_for(self.config.provider))
        # The model first: a bad model file is the likelier user error and is cheap to find.
        self.classifier = EmotionClassifier(model_path, provider=self.config.provider)
        self.model_info = self.classifier.info
        self.uncertain_below = resolve_uncertain_below(
            self.config.quality, self.model_info.uncertain_below
        )
        # Every tile level, live too: the schedule spreads the scan over frames, so finer
        # tiles cost a camera frame no more time, only a later first sight of small faces.
        self.detector = create_detector(self.config.detector, min_score=self.config.min_score)
        self.tracker = FaceTracker(TrackerConfig(tau_s=self.config.smoothing_tau_s))
        self._trail = FaceTrail(self.tracker.config)
        self._source: str | None = None  # the file the last frame came from
        self.schedule = DetectionSchedule(self.detector, self.config.schedule)
        self.governor = (
            RateGovernor(GovernorConfig(self.config.target_fps), ladder_for(self.detector))
            if self.config.target_fps
            else None
        )
        self.cuts = CutDetector() if self.config.detect_cuts and not self.config.live else None
        self._shot = 0  # shots since the source began (FrameResult.shot)
        self._gray: np.ndarray | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.model_info.class_names

    @property
    def info(self) -> dict[str, Any]:
        return {
            "model": self.model_info.name,
            "model_path": str(self.classifier.path),
            # From the model's own card (its metadata): what the report says it scores.
            "model_accuracy": self.model_info.accuracy,
            "provider": self.classifier.provider,
            "provider_fallback_reason": self.classifier.fallback_reason,
            "detector": self.detector.name,
            "class_names": list(self.class_names),
            "smoothing_tau_s": self.config.smoothing_tau_s,
            "target_fps": self.config.target_fps,
            "min_score": self.config.min_score,
            "uncertain_below": self.uncertain_below,
        }

    def _to_gray(self, image: np.ndarray) -> np.ndarray:
        # One buffer for every frame of a video: a 720p frame's gray copy is not reallocated.
        h, w = image.shape[:2]
        if self._gray is None or self._gray.shape != (h, w):
            self._gray = np.empty((h, w), np.uint8)
        return to_gray(image, out=self._gray)

    def process(self, frame: Frame) -> FrameResult:
        t0 = time.perf_counter()
        if frame.source != self._source:
            # Separate photos (a folder's) share no tracks, smoothing or hidden boxes: in the
            # app, a folder played on kept the last photo's faces, hid the next photo's
            # until a second look, and blurred where the last photo's faces had been.
            if self._source is not None:
                self.reset()
            self._source = frame.source
        if self.governor is not None:
            self.schedule.config = self.governor.tick(t0)
        if self.cuts is not None and self.cuts.is_cut(frame.image):
            log.debug("frame %d starts a new shot: new faces, full scan", frame.index)
            self.tracker.reset()
            self.schedule.reset()
            self._trail.reset()
            self._shot += 1
        dets = self.schedule.detect(
            frame.image, self.tracker.predict(frame.time_ms), frame.time_ms
        )
        t1 = time.perf_counter()
        boxes = [d.box for d in dets]
        if dets:
            crops = crop_faces(self._to_gray(frame.image), boxes, self.model_info.crop,
                               [d.eyes for d in dets], frame.pixel_aspect)
        else:
            crops = np.empty((0, self.model_info.input_size, self.model_info.input_size), np.uint8)
        t2 = time.perf_counter()
        # Judged on what the classifier sees: the aligned crop, not the raw frame.
        qualities = measure_all(crops, boxes, [d.keypoints for d in dets])
        t_quality = time.perf_counter()
        probs = self.classifier.predict(crops)
        t3 = time.perf_counter()
        faces = self.tracker.update(
            boxes, [d.score for d in dets], probs, frame.time_ms, [d.keypoints for d in dets],
            [d.predicted for d in dets], crops,
        )
        judge(faces, qualities, self.config.quality, self.uncertain_below)  # in dets' order
        # Faces in id order in every output (the CSV listed 1, 2 in one frame and 2, 1 in
        # the next, as the detector found them, which broke diffs and row-wise joins).
        faces.sort(key=lambda f: f.face_id)
        hidden = self._trail.update(frame.time_ms, [(f.face_id, f.box) for f in faces])
        t4 = time.perf_counter()
        timings = {
            "detect": (t1 - t0) * 1e3,
            "align": (t2 - t1) * 1e3,
            "quality": (t_quality - t2) * 1e3,
            "classify": (t3 - t_quality) * 1e3,
            "track": (t4 - t3) * 1e3,
        }
        return FrameResult(frame, faces, self.class_names, timings,
                           schedule=self.schedule.config, shot=self._shot, hidden=hidden)

    def idle(self, seconds: float) -> None:
        """Time the caller spent waiting for its source (pacing to real time, a camera's next
        frame): a target frame rate budgets the work between frames, not the wait."""
        if self.governor is not None:
            self.governor.idle(seconds)

    def reset(self, restart_ids: bool = False) -> None:
        """Start a new source: forget tracks (ids keep counting up, never reused, unless
        ``restart_ids``: a looping video's faces keep their ids on every pass)."""
        self.tracker.reset(restart_ids)
        self._trail.reset()
        self.schedule.reset()
        self._shot = 0
        if self.cuts is not None:
            self.cuts.reset()
        if self.governor is not None:
            self.governor.reset()
        reset = getattr(self.detector, "reset", None)
        if callable(reset):
            reset()

    def close(self) -> None:
        self.schedule.close()
        self.detector.close()
        self.classifier.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
