"""Records a live session as the complete output set of a run: the annotated video, the
per-face CSV, the JSON summary and the sidecar (so a recording can be re-analysed), written
by the same writers as ``emocam process`` (``emocam.run_sinks``). Qt-free: the app's source
thread (``emocam.gui.workers``) calls it for Camera > Record."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np

from emocam.errors import UserError
from emocam.output_set import OutputSet
from emocam.outputs import OutputRequest, RunFacts, export_names, plan_for
from emocam.pipeline import PipelineConfig
from emocam.run_sinks import RunDescription, RunSinks, open_sinks
from emocam.types import FrameAnalyser, FrameResult


class Recorder:
    """Opens its sinks on the first frame, when the frame size and class names are known."""

    def __init__(self, video_path: Path, csv_path: Path, fps: float,
                 config: PipelineConfig | None = None, source_name: str = "camera") -> None:
        video, _, self.json_path, self.sidecar_path = export_names(Path(video_path))
        self.video_path = video
        self.csv_path = Path(csv_path)
        self.fps = fps
        self.config = config or PipelineConfig()
        self.source_name = source_name
        self.frames = 0
        self._stack: ExitStack | None = None
        self._outset: OutputSet | None = None
        self._sinks: RunSinks | None = None
        self._t0 = 0.0

    def _open(self, image: np.ndarray, analyser: FrameAnalyser) -> RunSinks:
        req = OutputRequest(output_video=self.video_path, csv=self.csv_path,
                            json=self.json_path, sidecar=self.sidecar_path)
        base = self.video_path.with_suffix("")
        plan = plan_for(req, "video", [], base, base, sound=False)
        h, w = image.shape[:2]
        facts = RunFacts(self.fps, None, (w, h))
        desc = RunDescription(self.source_name, self.config, overlay=None, kind_label="camera",
                              sidecar_optional=False)
        stack = ExitStack()
        try:
            self._outset = stack.enter_context(OutputSet(plan))
            # The frames come drawn and are also shown: the writers copy them.
            sinks = open_sinks(plan, self._outset.writing, desc, analyser, facts, stack,
                               frames_owned=False)
        except BaseException:
            stack.close()
            raise
        self._stack, self._t0 = stack, time.perf_counter()
        return sinks

    def write(self, image: np.ndarray, result: FrameResult, analyser: FrameAnalyser) -> None:
        """Append one drawn frame and its results (``analyser``: what produced them)."""
        if self._sinks is None:
            self._sinks = self._open(image, analyser)
        fr = result.frame
        self._sinks.write(replace(fr, image=image), result)
        self.frames += 1
        if self._outset is not None:
            self._outset.frames = self.frames

    def close(self, completed: bool = True) -> None:
        """Finish every file; a failure to finish one (disk full) is raised after all of
        them are closed. ``completed``: False when a write failed."""
        sinks, stack, self._sinks, self._stack = self._sinks, self._stack, None, None
        if stack is None or sinks is None:
            return
        failure: UserError | None = None
        try:
            elapsed = time.perf_counter() - self._t0
            fps = sinks.summary.frames / elapsed if elapsed > 0 else 0.0
            sinks.finish(completed, fps_achieved=round(fps, 2), elapsed_s=round(elapsed, 3))
        except UserError as e:
            failure = e
        if self._outset is not None:
            self._outset.completed = completed and failure is None
        try:
            stack.close()
        except UserError as e:
            failure = failure or e
        if failure is not None:
            raise failure
