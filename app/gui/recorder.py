"""Records a live session: the annotated video and the per-face CSV, via emocam.sinks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emocam.errors import UserError
from emocam.sinks import AnnotatedVideoWriter, CsvSink
from emocam.types import FrameResult


class Recorder:
    """Opens its sinks on the first frame, when the frame size and class names are known."""

    def __init__(self, video_path: Path, csv_path: Path, fps: float) -> None:
        self.video_path = Path(video_path)
        self.csv_path = Path(csv_path)
        self.fps = fps
        self.frames = 0
        self._video: AnnotatedVideoWriter | None = None
        self._csv: CsvSink | None = None

    def write(self, image: np.ndarray, result: FrameResult) -> None:
        if self._video is None:
            h, w = image.shape[:2]
            self._video = AnnotatedVideoWriter(self.video_path, self.fps, (w, h))
            self._csv = CsvSink(self.csv_path, result.class_names)
        assert self._csv is not None
        self._video.write(image, result.frame.time_ms)
        self._csv.write(result)
        self.frames += 1

    def close(self) -> None:
        """Close both files; a failure to finish one (disk full) is raised after both."""
        failure: UserError | None = None
        for sink in (self._video, self._csv):
            if sink is not None:
                try:
                    sink.close()
                except UserError as e:
                    failure = failure or e
        self._video = self._csv = None
        if failure is not None:
            raise failure
