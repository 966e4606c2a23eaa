"""Long runs: memory, threads and open files stay bounded over thousands of frames, and over
many sources opened and closed. (The 10,000-frame soak lives in benchmarks/.)"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from reliability_helpers import Resources

from benchmarks.media import Placement, SyntheticVideo, render
from emocam.camera_source import CameraSource
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.process import ProcessOptions, run_process
from emocam.sources import open_source

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SOAK_FRAMES = 1000  # ~10 s; benchmarks/ runs 10,000


@pytest.fixture(scope="module")
def soak_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 frames at 320x240 of a real face that moves; 12 rendered frames, cycled."""
    path = tmp_path_factory.mktemp("soak") / "soak.mp4"
    frames = [
        render((320, 240), [Placement("astronaut", 120 + 8 * i, 120, 110 + 2 * i)], seed=9)
        for i in range(12)
    ]
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (320, 240))
    for i in range(SOAK_FRAMES):
        w.write(frames[i % 12])
    w.release()
    return path


def test_a_1000_frame_run_keeps_memory_threads_and_files_bounded(
    soak_video: Path, model_path: Path, tmp_path: Path
) -> None:
    samples: dict[int, Resources] = {}

    def sample(done: int, _total: int | None) -> bool:
        if done in (150, SOAK_FRAMES):  # after warm-up (arenas, caches) and at the end
            samples[done] = Resources.now()
        return False

    before, threads_before = Resources.now(), set(threading.enumerate())
    opts = ProcessOptions(soak_video, outdir=tmp_path, progress=False, on_frame=sample)
    opts.pipeline.model_path = model_path
    result = run_process(opts)
    after = Resources.now()
    assert result.completed and result.frames == SOAK_FRAMES
    warm, end = samples[150], samples[SOAK_FRAMES]
    assert end.rss_mb - warm.rss_mb < 40, (warm, end)
    assert end.threads <= warm.threads + 2 and end.fds <= warm.fds + 2, (warm, end)
    # Everything the run opened is closed again.
    left = set(threading.enumerate()) - threads_before
    assert not [t.name for t in left if t.name != "tqdm_monitor"]
    assert after.fds <= before.fds + 2, (before, after)


def test_opening_and_closing_a_video_100_times_leaks_nothing(
    video_face_at_edge: SyntheticVideo,
) -> None:
    def cycle() -> None:
        with open_source(video_face_at_edge.path) as src:
            frames = iter(src)
            next(frames)
            next(frames)

    cycle()
    before = Resources.now()
    for _ in range(100):
        cycle()
    after = Resources.settled()
    # Fewer is no leak: an earlier test's files may close meanwhile (seen: 19 before, 17 after).
    assert after.fds <= before.fds and after.threads <= before.threads + 2
    assert after.rss_mb - before.rss_mb < 30


def test_starting_and_stopping_a_camera_100_times_leaves_no_thread_behind(
    video_face_at_edge: SyntheticVideo,
) -> None:
    before = Resources.now()
    for _ in range(100):
        # emocam's own CameraSource on a real capture of a file, as a webcam stand-in.
        cam = CameraSource(cv2.VideoCapture(str(video_face_at_edge.path)), "Test camera",
                           stall_timeout_s=5.0)
        with cam:
            next(iter(cam))
        assert not cam._reader.alive
    after = Resources.now()
    assert not [t for t in threading.enumerate() if t.name == "emocam-camera"]
    assert after.fds <= before.fds + 1


def test_fifty_files_in_a_row_through_one_pipeline_leak_nothing(
    tmp_path: Path, model_path: Path
) -> None:
    files = []
    for i in range(50):
        image = render((320, 240), [Placement("hopper", 100 + 2 * i, 120, 110)], seed=i)
        path = tmp_path / f"photo {i}.jpg"
        cv2.imwrite(str(path), image)
        files.append(path)
    with Pipeline(PipelineConfig(model_path=model_path)) as pipeline:
        found = []
        before = None
        for i, path in enumerate(files):
            if i == 5:
                before = Resources.now()
            pipeline.reset()
            with open_source(path) as src:
                for frame in src:
                    found.append(len(pipeline.process(frame).faces))
        after = Resources.settled()
    assert before is not None
    assert np.mean(found) > 0.9
    assert after.fds <= before.fds + 1 and after.threads <= before.threads + 2
    assert after.rss_mb - before.rss_mb < 30
