"""The short-range BlazeFace in onnxruntime gives MediaPipe's answers, on real faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import run_emocam, skip_unless_installed

from emocam.blazeface import INPUT, SHORT_RANGE_ONNX, ShortRangeFaces
from emocam.detect import SHORT_RANGE, import_mediapipe
from emocam.errors import ModelError
from emocam.integrity import SUMS, model_bytes


@pytest.fixture(scope="module")
def mediapipe_short():
    mp, base_options, vision = import_mediapipe()
    options = vision.FaceDetectorOptions(
        base_options=base_options(model_asset_buffer=model_bytes(SHORT_RANGE)),
        running_mode=vision.RunningMode.IMAGE,
    )
    det = vision.FaceDetector.create_from_options(options)
    yield lambda rgb: det.detect(
        mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
    ).detections
    det.close()


def _mosaics(face_images: dict[str, np.ndarray]) -> list[np.ndarray]:
    """128 px inputs as the tracker builds them: one face alone, four to a 2x2 grid (two
    people, mirrored, at several sizes in their cells), and one with no face."""
    rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in face_images.values()]
    single = [cv2.resize(f, (INPUT, INPUT), interpolation=cv2.INTER_AREA) for f in rgb]
    grid = np.zeros((INPUT, INPUT, 3), np.uint8)
    cell = INPUT // 2
    for k, f in enumerate([rgb[0], rgb[1], rgb[1][:, ::-1], rgb[0][:, ::-1]]):
        cy, cx = (k // 2) * cell, (k % 2) * cell
        grid[cy : cy + cell, cx : cx + cell] = cv2.resize(f, (cell, cell))
    empty = np.full((INPUT, INPUT, 3), 90, np.uint8)
    return [*single, grid, empty]


def test_faces_followed_in_onnxruntime_are_the_ones_mediapipe_finds(
    face_images, mediapipe_short
) -> None:
    ours = ShortRangeFaces()
    counts = []
    for image in _mosaics(face_images):
        theirs = sorted(mediapipe_short(image), key=lambda d: (d.keypoints[0].y, d.keypoints[0].x))
        mine = sorted(ours.detect(image), key=lambda d: (d.keypoints[0][1], d.keypoints[0][0]))
        assert len(mine) == len(theirs)
        counts.append(len(mine))
        for m, t in zip(mine, theirs, strict=True):
            b = t.bounding_box
            # MediaPipe rounds its box to whole pixels; ours keeps the fraction.
            assert np.allclose(m.box, (b.origin_x, b.origin_y, b.width, b.height), atol=2.0)
            kps = [(k.x * INPUT, k.y * INPUT) for k in t.keypoints]
            assert np.allclose(m.keypoints, kps, atol=0.05)
            assert m.score == pytest.approx(t.categories[0].score, abs=1e-4)
            assert m.eyes == (m.keypoints[0], m.keypoints[1])
    assert counts == [1, 1, 4, 0]


def test_scores_below_the_threshold_are_dropped(face_images) -> None:
    image = _mosaics(face_images)[0]
    (face,) = ShortRangeFaces().detect(image)
    assert ShortRangeFaces(min_score=min(face.score + 0.01, 0.999)).detect(image) == []


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_a_missing_or_corrupt_onnx_detector_is_a_model_error(tmp_path: Path, kind: str) -> None:
    if kind == "corrupt":
        (tmp_path / SHORT_RANGE_ONNX).write_bytes(b"not a model " * 100)
    with pytest.raises(ModelError) as err:
        ShortRangeFaces(folder=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / SHORT_RANGE_ONNX) in msg and "\n" not in msg and msg.endswith(".")


def test_fer_train_remakes_the_shipped_onnx_detector(tmp_path: Path, face_images) -> None:
    skip_unless_installed("tensorflow", "tf2onnx")
    from emocam.resources import model_file as packaged

    (tmp_path / "shipped").mkdir()
    (tmp_path / "shipped" / SHORT_RANGE_ONNX).write_bytes(packaged(SHORT_RANGE_ONNX).read_bytes())
    # Remade into a folder whose checksum list names it, as in models/: the file differs in
    # its bytes (tf2onnx is not byte-for-byte reproducible), so its line must be made true.
    (tmp_path / SUMS).write_bytes(packaged(SUMS).read_bytes())
    # In a process of its own, to keep TensorFlow out of this one (skip_unless_installed).
    done = run_emocam("-q", "detector-onnx", packaged(SHORT_RANGE),
                      "--out", tmp_path / SHORT_RANGE_ONNX, tool="fer-train", timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"its line in {tmp_path / SUMS} was updated" in done.stdout
    remade, shipped = ShortRangeFaces(folder=tmp_path), ShortRangeFaces(folder=tmp_path / "shipped")
    for image in _mosaics(face_images):
        a, b = remade.detect(image), shipped.detect(image)
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert np.allclose(x.box, y.box, atol=1e-3) and abs(x.score - y.score) < 1e-5
