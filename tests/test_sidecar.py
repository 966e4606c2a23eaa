"""The sidecar of raw numbers: streamed to disk so memory stays flat, kept by a killed run, and
any file that is not a whole sidecar refused in one sentence before a re-analysis starts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SyntheticVideo, four_faces_plan, scaled, write_video
from reliability_helpers import run_cli

from emocam.sidecar import SidecarWriter, load_sidecar, parts_dir
from emocam.types import FaceQuality, FaceResult, Frame, FrameResult

pytestmark = pytest.mark.timeout(180)

NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def _results(n: int, faces: int = 4) -> Iterator[FrameResult]:
    """Frames of four faces with the numbers a run records (one image shared: no pixels
    go into a sidecar)."""
    rng = np.random.default_rng(0)
    image = np.zeros((2, 2, 3), np.uint8)
    for i in range(n):
        found = []
        for k in range(faces):
            p = rng.dirichlet(np.ones(len(NAMES))).astype(np.float32)
            found.append(FaceResult(
                k, (100.0 + k * 90, 50.0 + i % 7, 80.0, 80.0), 0.9, p, p,
                keypoints=tuple((100.0 + j, 60.0) for j in range(6)),
                quality=FaceQuality(80.0, 120.0, 0.1)))
        yield FrameResult(Frame(image, i, i * 33.3), found, NAMES)


def test_a_long_runs_sidecar_is_streamed_to_disk_so_memory_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "long.emocam.npz"
    tracemalloc.start()
    try:
        writer = SidecarWriter(path, {"class_names": list(NAMES)})
        start = tracemalloc.get_traced_memory()[0]
        for result in _results(12_000):  # 6.7 minutes at 30 fps, 48,000 face rows
            writer.add(result)
        peak = tracemalloc.get_traced_memory()[1] - start
        writer.close(completed=True)
    finally:
        tracemalloc.stop()
    # Holding the whole run took 26 MB here (~0.5 KB a row), growing with the run.
    assert peak < 10e6, f"{peak / 1e6:.1f} MB held"
    sidecar = load_sidecar(path)
    assert sidecar.header["completed"] is True
    assert len(sidecar["frame_index"]) == 12_000 and len(sidecar["frame"]) == 48_000
    assert sidecar["frame"][-1] == 11_999 and sidecar["raw_probs"].shape == (48_000, 8)
    assert np.allclose(sidecar["raw_probs"].sum(axis=1), 1.0, atol=1e-5)
    assert not parts_dir(path).exists()  # no chunk left beside the finished file


@pytest.fixture(scope="module")
def clip(media_dir: Path) -> SyntheticVideo:
    return write_video(media_dir / "sidecar_clip.mp4", (640, 360),
                       scaled(four_faces_plan(150), 0.5), seed=8)


def test_a_killed_run_keeps_the_sidecar_so_far_and_it_can_be_reanalysed(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "emocam", "process", str(clip), "-o", str(tmp_path), "--no-video",
         "--model", str(model_path), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    csv_path = tmp_path / "sidecar_clip.emocam.csv"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if csv_path.exists() and csv_path.read_bytes().count(b"\n") > 20:
            break
        time.sleep(0.05)  # polling a file another process writes; there is no event
    proc.send_signal(signal.SIGKILL)  # no handler runs: a crash, a power cut
    proc.communicate(timeout=30)
    sidecar = tmp_path / "sidecar_clip.emocam.npz"
    run = run_cli(capfd, "process", "--reanalyse", sidecar, "-q")
    assert run.code == 0, run.err
    assert "stopped" in run.err  # the user hears the numbers are those of a stopped run
    numbers = load_sidecar(sidecar)
    assert numbers.header["completed"] is False and len(numbers["frame_index"]) >= 1
    assert (tmp_path / "sidecar_clip.reanalysed.csv").is_file()
