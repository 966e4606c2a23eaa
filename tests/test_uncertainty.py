"""Honest uncertainty: faces too small, too blurred, too turned or too doubtful to read are
marked "uncertain" (overlay, CSV, summary), while their probabilities are still kept."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.media import Placement, render
from emocam.csv_sink import CsvSink
from emocam.overlay import UNCERTAIN_COLOR, OverlayOptions, draw
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.quality import QualityConfig, head_turn, uncertain_reason
from emocam.types import FaceQuality, Frame, FrameResult


@pytest.fixture(scope="module")
def pipeline(model_path: Path) -> Iterator[Pipeline]:
    with Pipeline(PipelineConfig(model_path=model_path)) as p:
        yield p


def analyse(pipeline: Pipeline, image: np.ndarray) -> FrameResult:
    pipeline.reset()
    return pipeline.process(Frame(image, 0, 0.0, "test"))


def only_face(result: FrameResult):
    assert len(result.faces) == 1, f"expected one face, found {len(result.faces)}"
    return result.faces[0]


def tiny_face_image() -> np.ndarray:
    # A 20-px portrait in a 640x480 frame: the detector still finds it (box ~28 px).
    return render((640, 480), [Placement("hopper", 320, 240, 20)], seed=4)


def blurred_face_image() -> np.ndarray:
    # A 160-px face out of focus: a Gaussian blur of 9 px (about 6% of the face side).
    frame = render((640, 480), [Placement("astronaut", 320, 240, 160)], seed=4)
    return cv2.GaussianBlur(frame, (0, 0), 9)


def test_a_clear_160_px_face_is_read_with_confidence(
    pipeline: Pipeline, image_one_face: Path
) -> None:
    face = only_face(analyse(pipeline, cv2.imread(str(image_one_face))))
    assert face.uncertain == ""
    assert face.quality is not None and face.quality.size_px > 120
    assert face.confidence >= pipeline.uncertain_below


def test_a_tiny_face_is_uncertain_because_it_is_small(pipeline: Pipeline) -> None:
    face = only_face(analyse(pipeline, tiny_face_image()))
    assert face.uncertain == "small"
    assert face.probs.sum() == pytest.approx(1.0, abs=1e-4)  # still kept, only marked


def test_a_heavily_blurred_face_is_uncertain_because_it_is_blurred(pipeline: Pipeline) -> None:
    face = only_face(analyse(pipeline, blurred_face_image()))
    assert face.quality is not None and face.quality.size_px >= 120  # big, yet unreadable
    assert face.uncertain == "blurred"
    assert face.raw_probs.sum() == pytest.approx(1.0, abs=1e-4)


def test_a_doubtful_label_is_uncertain_but_keeps_its_probabilities(
    model_path: Path, image_one_face: Path, pipeline: Pipeline
) -> None:
    image = cv2.imread(str(image_one_face))
    sure = only_face(analyse(pipeline, image))
    just_above = sure.confidence + 1e-3  # a stricter user than this face can satisfy
    strict = PipelineConfig(
        model_path=model_path, quality=QualityConfig(uncertain_below=just_above)
    )
    with Pipeline(strict) as p:
        doubtful = only_face(analyse(p, image))
    assert p.uncertain_below == just_above
    assert doubtful.uncertain == "low confidence"
    np.testing.assert_allclose(doubtful.probs, sure.probs, atol=1e-6)


def test_the_confidence_is_calibrated_with_the_model_temperature(pipeline: Pipeline) -> None:
    info = pipeline.model_info
    assert info.temperature != 1.0  # the shipped model was calibrated at export
    crop = np.full((1, info.input_size, info.input_size), 128, np.uint8)
    probs = pipeline.classifier.predict(crop)[0]
    # softmax(logits / T): recover logits up to a constant and check T sharpened them.
    logits_t = np.log(probs)
    assert np.ptp(logits_t) > 0
    assert math.isclose(probs.sum(), 1.0, abs_tol=1e-5)


def test_head_turn_is_near_zero_for_a_frontal_face_and_large_in_profile() -> None:
    eyes = ((100.0, 100.0), (160.0, 100.0))
    assert head_turn((*eyes, (130.0, 130.0))) == pytest.approx(0.0)
    assert head_turn((*eyes, (168.0, 130.0))) > 1.0  # nose tip beyond the right eye
    assert math.isnan(head_turn(()))  # Haar gives no keypoints: not judged
    turned = FaceQuality(size_px=150, sharpness=400, turn=1.2)
    assert uncertain_reason(turned, 0.9, QualityConfig(), 0.4) == "turned"


def test_the_overlay_draws_uncertain_faces_grey_and_the_csv_says_why(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    image = tiny_face_image()
    result = analyse(pipeline, image)
    face = only_face(result)
    drawn = draw(image.copy(), result, OverlayOptions(show_bars=False))
    x, y, w, _ = (round(v) for v in face.box)
    edge = drawn[y - 1 : y + 2, x : x + w].reshape(-1, 3)
    assert (edge == np.array(UNCERTAIN_COLOR, np.uint8)).all(axis=1).any()
    with CsvSink(tmp_path / "faces.csv", result.class_names) as sink:
        sink.write(result)
    with open(tmp_path / "faces.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["uncertain"] == "small"
    assert float(row["confidence"]) == pytest.approx(face.confidence, abs=1e-4)
