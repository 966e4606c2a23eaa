"""The sidecar of raw numbers: streamed to disk so memory stays flat, kept by a killed run, and
any file that is not a whole sidecar refused in one sentence before a re-analysis starts."""

from __future__ import annotations

import json
import signal
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cli_helpers import run_cli, start_emocam
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reliability_helpers import assert_one_sentence, wait_for_rows

from benchmarks.media import SyntheticVideo, four_faces_plan, scaled, write_video
from emocam.errors import OutputError
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
        writer = SidecarWriter(path, {"class_names": list(NAMES), "source": "/videos/long.mp4"})
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
    proc = start_emocam("process", clip, "-o", tmp_path, "--no-video", "--model", model_path, "-q")
    wait_for_rows(proc, tmp_path / "sidecar_clip.emocam.csv", 20)
    proc.send_signal(signal.SIGKILL)  # no handler runs: a crash, a power cut
    proc.communicate(timeout=30)
    sidecar = tmp_path / "sidecar_clip.emocam.npz"
    run = run_cli(capfd, "process", "--reanalyse", sidecar, "-q")
    assert run.code == 0, run.err
    assert "stopped" in run.err  # the user hears the numbers are those of a stopped run
    numbers = load_sidecar(sidecar)
    assert numbers.header["completed"] is False and len(numbers["frame_index"]) >= 1
    assert (tmp_path / "sidecar_clip.reanalysed.csv").is_file()
    # Its summary and report do not call the analysis complete: a script that checks
    # "completed" before taking a set as whole must not take this part of the video for it.
    summary = json.loads((tmp_path / "sidecar_clip.reanalysed.json").read_text())
    assert summary["completed"] is False and summary["recorded_completed"] is False
    report = (tmp_path / "sidecar_clip.reanalysed.html").read_text()
    assert "the run re-analysed had stopped before the end" in report


def test_a_short_run_killed_loses_seconds_of_numbers_not_all_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    # The sidecar's clock alone (time.monotonic of the whole process stays as it is).
    monkeypatch.setattr("emocam.sidecar.time", SimpleNamespace(monotonic=lambda: clock[0]))
    path = tmp_path / "short.emocam.npz"
    writer = SidecarWriter(path, _header())
    for result in _results(100, faces=1):  # 10 s at 10 fps, then killed (never closed)
        writer.add(result)
        clock[0] += 0.1
    # Before: a chunk every 30 s kept the first frame alone (the CSV kept all 100).
    numbers = load_sidecar(path)
    assert len(numbers["frame_index"]) >= 100 - 21, len(numbers["frame_index"])


def test_the_chunks_of_a_run_killed_before_an_upgrade_are_still_joined(tmp_path: Path) -> None:
    path = tmp_path / "old.emocam.npz"
    writer = SidecarWriter(path, _header())
    for result in _results(3, faces=1):
        writer.add(result)  # the first frame's chunk is on disk; then the run is killed
    for chunk in parts_dir(path).glob("0*.npz"):
        with np.load(chunk, allow_pickle=False) as npz:
            older = {k: npz[k] for k in npz.files if k not in ("frame_print", "frame_shot")}
        np.savez_compressed(chunk, **older)  # as emocam wrote them before those arrays
    numbers = load_sidecar(path)
    assert numbers.header["completed"] is False and len(numbers["frame_index"]) >= 1
    assert set(numbers["frame_print"].tolist()) == {""} and not numbers["frame_shot"].any()


@pytest.mark.parametrize("optional", [True, False])
def test_a_sidecar_that_cannot_be_written_suggests_leaving_it_out_only_where_one_can(
    tmp_path: Path, optional: bool
) -> None:
    """The app's Export and recording write a whole set and have no --no-sidecar."""
    gone = tmp_path / "gone" / "x.emocam.npz"  # its folder does not exist
    with pytest.raises(OutputError) as err:
        SidecarWriter(gone, _header(), optional=optional)
    assert str(gone) in str(err.value) and "choose a folder you can write to" in str(err.value)
    assert ("--no-sidecar" in str(err.value)) is optional


# --- damaged and crafted sidecars ------------------------------------------------------------


def _header() -> dict[str, object]:
    return {"class_names": list(NAMES), "source": "/videos/gone.mp4", "input_kind": "video",
            "fps": 30.0, "frame_size": [640, 360], "min_score": 0.5, "smoothing_tau_s": 0.3,
            "uncertain_below": 0.4, "model": "emocam-ferplus", "detector": "mediapipe",
            "quality": {"min_face_px": 40.0, "min_sharpness": 10.0, "max_turn": 0.6},
            "target_fps": 15.0, "source_print": "",
            "model_accuracy": {"test_accuracy": 0.86, "test_protocol": "majority",
                               "test_images": 3137}}


@pytest.fixture(scope="module")
def good_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sidecar") / "good.emocam.npz"
    writer = SidecarWriter(path, _header())
    for result in _results(12, faces=2):
        writer.add(result)
    writer.close(completed=True)
    return path


def _reanalyse_once(capfd, sidecar: Path, out: Path) -> None:
    """Re-analyse ``sidecar``: it works (exit 0) or fails with exit 2 and one sentence
    naming the file, never another exception."""
    run = run_cli(capfd, "process", "--reanalyse", sidecar, "-o", out, "--no-video",
                  "--overwrite", "-q")
    if run.code != 0:
        line = assert_one_sentence(run)
        assert str(sidecar) in line or "No face was found" in line, line


def test_the_good_sidecar_of_these_tests_reanalyses(good_sidecar: Path, tmp_path: Path,
                                                    capfd) -> None:
    run = run_cli(capfd, "process", "--reanalyse", good_sidecar, "-o", tmp_path, "--no-video",
                  "-q")
    assert run.code == 0, run.err


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_a_truncated_or_bit_flipped_sidecar_is_one_sentence(
    good_sidecar: Path, tmp_path: Path, capfd, data: st.DataObject
) -> None:
    raw = bytearray(good_sidecar.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut at")]
    else:
        for at in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
    damaged = tmp_path / "damaged.emocam.npz"
    damaged.write_bytes(bytes(raw))
    _reanalyse_once(capfd, damaged, tmp_path / "out")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from([*_header(), "format", "version"]),
                               st.one_of(st.just("<drop>"), JSON), min_size=1, max_size=4))
def test_a_crafted_header_is_one_sentence(
    good_sidecar: Path, tmp_path: Path, capfd, changes: dict[str, object]
) -> None:
    with np.load(good_sidecar, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(str(arrays["header"]))
    for key, value in changes.items():
        if value == "<drop>":
            header.pop(key, None)
        else:
            header[key] = value
    arrays["header"] = np.array(json.dumps(header))
    crafted = tmp_path / "crafted.emocam.npz"
    np.savez(crafted, **arrays)
    _reanalyse_once(capfd, crafted, tmp_path / "out")


ARRAY = hnp.arrays(
    dtype=st.sampled_from([np.int64, np.float64, np.float32, np.uint8, np.bool_,
                           np.dtype("<U3"), np.complex64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=30),
)


@FUZZ
@given(key=st.sampled_from(["frame_index", "frame_time_ms", "frame_file", "frame_shot",
                            "frame_print", "frame", "time_ms", "face_id", "box", "score",
                            "keypoints", "raw_probs", "size_px", "sharpness", "turn"]),
       value=st.one_of(st.none(), ARRAY))
def test_a_crafted_array_is_one_sentence(
    good_sidecar: Path, tmp_path: Path, capfd, key: str, value: np.ndarray | None
) -> None:
    with np.load(good_sidecar, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    crafted = tmp_path / "crafted.emocam.npz"
    np.savez(crafted, **arrays)
    _reanalyse_once(capfd, crafted, tmp_path / "out")


@pytest.mark.parametrize("change", ["nan box", "huge box", "1-d keypoints", "fewer times",
                                    "a .npy renamed", "faces of frames not recorded",
                                    "frames reversed", "times reversed", "a face's time moved"])
def test_the_damage_seen_in_the_wild_is_one_sentence(
    good_sidecar: Path, tmp_path: Path, capfd, change: str
) -> None:
    with np.load(good_sidecar, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    crafted = tmp_path / "crafted.emocam.npz"
    if change == "a .npy renamed":
        with open(crafted, "wb") as fh:
            np.save(fh, arrays["raw_probs"])
    else:
        if change == "nan box":
            arrays["box"][0, 0] = np.nan
        elif change == "huge box":
            arrays["box"][0, 2] = 1e30
        elif change == "1-d keypoints":
            arrays["keypoints"] = arrays["keypoints"].reshape(-1)
        elif change == "faces of frames not recorded":
            arrays["frame"] = arrays["frame"] + 1000  # was "No face was found"
        # These three re-analysed into a CSV whose first frame came at the video's end.
        elif change == "frames reversed":
            arrays["frame_index"] = arrays["frame_index"][::-1].copy()
        elif change == "times reversed":
            arrays["frame_time_ms"] = arrays["frame_time_ms"][::-1].copy()
        elif change == "a face's time moved":
            arrays["time_ms"][3] += 5000.0
        else:
            arrays["time_ms"] = arrays["time_ms"][:-1]
        np.savez(crafted, **arrays)
    run = run_cli(capfd, "process", "--reanalyse", crafted, "-o", tmp_path, "-q")
    assert_one_sentence(run, str(crafted), "not an emocam sidecar")
