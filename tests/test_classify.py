"""The emotion classifier: real model, real face crops, and the model files users get wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from emocam.classify import CPU, EmotionClassifier, resolve_provider
from emocam.errors import ModelError
from emocam.modelinfo import METADATA_KEY, ModelInfo, read_model_info
from emocam.preprocess import CropSpec, crop_faces, to_gray

FER_PLUS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


# --- helpers ----------------------------------------------------------------------------


def face_crops(face_images: dict[str, np.ndarray], spec: CropSpec) -> np.ndarray:
    """The model's crops of the real faces (the fixture images are 2.4 face sides square)."""
    grays, boxes = [], []
    for img in face_images.values():
        side = img.shape[0] / 2.4
        c = img.shape[0] / 2
        grays.append(to_gray(img))
        boxes.append((c - side / 2, c - side / 2, side, side))
    return np.concatenate([crop_faces(g, [b], spec) for g, b in zip(grays, boxes, strict=True)])


def tiny_model(
    path: Path,
    *,
    input_shape: tuple[object, ...] = ("N", 48, 48, 1),
    outputs: int = 8,
    output_dim: object = None,
    metadata: str | None = None,
    seed: int = 0,
) -> Path:
    """A linear ONNX classifier: flatten -> matmul, with emocam metadata unless told otherwise."""
    features = int(np.prod([d for d in input_shape[1:] if isinstance(d, int)]))
    w = np.random.default_rng(seed).normal(0, 0.05, (features, outputs)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(input_shape))],
        [
            helper.make_tensor_value_info(
                "logits", TensorProto.FLOAT, ["N", outputs if output_dim is None else output_dim]
            )
        ],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if metadata is None:
        metadata = ModelInfo(class_names=FER_PLUS, name="tiny test model").to_json()
    if metadata:
        helper.set_model_props(model, {METADATA_KEY: metadata})
    onnx.save(model, str(path))
    return path


def assert_model_error_names(path: Path, **kwargs: object) -> str:
    with pytest.raises(ModelError) as err:
        EmotionClassifier(path, **kwargs)  # type: ignore[arg-type]
    msg = str(err.value)
    assert str(path) in msg
    assert "\n" not in msg
    return msg


# --- the real model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier(model_path: Path) -> EmotionClassifier:
    return EmotionClassifier(model_path)


def test_class_names_and_input_come_from_the_model_file(classifier: EmotionClassifier) -> None:
    assert classifier.class_names == FER_PLUS
    assert classifier.info.input_size == 48


def test_a_smiling_face_reads_as_happiness_and_a_composed_one_as_neutral(
    classifier: EmotionClassifier, face_images: dict[str, np.ndarray]
) -> None:
    # What a user sees on the label: the smiling astronaut and Grace Hopper's portrait.
    crops = face_crops(face_images, classifier.info.crop)
    probs = classifier.predict(crops)
    assert probs.shape == (len(crops), len(FER_PLUS)) and probs.dtype == np.float32
    labels = {name: FER_PLUS[i] for name, i in zip(face_images, probs.argmax(axis=1), strict=True)}
    assert labels == {"astronaut": "happiness", "grace_hopper": "neutral"}
    assert probs[0].max() > 0.9  # a broad smile is read with confidence, not as a toss-up


def test_a_batch_of_faces_gives_the_same_answer_as_one_call_per_face(
    classifier: EmotionClassifier, face_images: dict[str, np.ndarray]
) -> None:
    crops = face_crops(face_images, classifier.info.crop)
    # Four faces, as in a group shot, including a mirrored one.
    batch = np.concatenate([crops, crops[:, :, ::-1]])
    together = classifier.predict(batch)
    one_by_one = np.concatenate([classifier.predict(batch[i : i + 1]) for i in range(len(batch))])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_a_crowd_batch_on_every_core_gives_the_same_answer_as_small_batches(
    classifier: EmotionClassifier, face_images: dict[str, np.ndarray]
) -> None:
    crops = face_crops(face_images, classifier.info.crop)
    crowd = np.concatenate([crops, crops[:, :, ::-1]] * 16)  # 64 faces: the wide session
    together = classifier.predict(crowd)
    in_fours = np.concatenate([classifier.predict(crowd[i : i + 4]) for i in range(0, 64, 4)])
    np.testing.assert_allclose(together, in_fours, atol=1e-5)


def test_a_frame_without_faces_gives_an_empty_result(classifier: EmotionClassifier) -> None:
    probs = classifier.predict(np.empty((0, 48, 48), np.uint8))
    assert probs.shape == (0, len(FER_PLUS))


def test_the_provider_in_use_is_reported(classifier: EmotionClassifier) -> None:
    assert classifier.provider in ort.get_available_providers()
    assert classifier.fallback_reason is None


def test_an_unavailable_provider_falls_back_to_cpu_with_a_reason(
    model_path: Path, face_images: dict[str, np.ndarray]
) -> None:
    c = EmotionClassifier(model_path, provider="NoSuchExecutionProvider")
    assert c.provider == CPU
    assert "NoSuchExecutionProvider" in (c.fallback_reason or "")
    # What the user gets after the fallback: the same reading of real faces as on the CPU.
    crops = face_crops(face_images, c.info.crop)
    cpu = EmotionClassifier(model_path, provider="cpu")
    np.testing.assert_allclose(c.predict(crops), cpu.predict(crops), atol=1e-5)


def test_provider_short_names_and_automatic_order() -> None:
    available = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_provider(None, available) == ("CUDAExecutionProvider", None)
    assert resolve_provider("cpu", available) == (CPU, None)
    assert resolve_provider("cuda", available) == ("CUDAExecutionProvider", None)
    chosen, reason = resolve_provider("directml", available)
    assert chosen == CPU and reason and "directml" in reason
    assert resolve_provider(None, ["CPUExecutionProvider"]) == (CPU, None)


# --- calibration and layout from the metadata ---------------------------------------------


def test_calibration_temperature_from_the_metadata_softens_probabilities(tmp_path: Path) -> None:
    plain = tiny_model(tmp_path / "t1.onnx", seed=3)
    warm_meta = ModelInfo(class_names=FER_PLUS, temperature=4.0).to_json()
    warm = tiny_model(tmp_path / "t4.onnx", seed=3, metadata=warm_meta)
    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    p1 = EmotionClassifier(plain).predict(x)
    p4 = EmotionClassifier(warm).predict(x)
    assert np.all(p4.max(axis=1) < p1.max(axis=1))
    np.testing.assert_array_equal(p4.argmax(axis=1), p1.argmax(axis=1))


def test_a_channels_first_model_reads_faces_as_its_channels_last_twin(tmp_path: Path) -> None:
    # With one channel both layouts hold the pixels in the same order, so the same weights
    # give the same probabilities only if each model is fed its own layout: the wrong one is
    # refused by onnxruntime's shape check, and a transposed crop reads other pixels.
    meta = ModelInfo(class_names=FER_PLUS, layout="NCHW").to_json()
    first = tiny_model(tmp_path / "nchw.onnx", input_shape=("N", 1, 48, 48), metadata=meta)
    last = tiny_model(tmp_path / "nhwc.onnx")
    x = np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    probs = EmotionClassifier(first).predict(x)
    np.testing.assert_allclose(probs, EmotionClassifier(last).predict(x), atol=1e-6)
    assert np.ptp(probs, axis=0).max() > 0.01  # the crops read differently: not a constant


# --- bad model files ----------------------------------------------------------------------


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    msg = assert_model_error_names(tmp_path / "nope.onnx")
    assert "does not exist" in msg


def test_a_folder_given_as_model_is_named(tmp_path: Path) -> None:
    assert_model_error_names(tmp_path)


def test_a_truncated_model_file_is_named(tmp_path: Path, model_path: Path) -> None:
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(model_path.read_bytes()[:4000])
    assert "not a valid ONNX model" in assert_model_error_names(cut)


def test_a_text_file_given_as_model_is_named(tmp_path: Path) -> None:
    txt = tmp_path / "notes.onnx"
    txt.write_text("this is not a model\n")
    assert_model_error_names(txt)


def test_an_onnx_file_without_emocam_metadata_is_refused(tmp_path: Path) -> None:
    msg = assert_model_error_names(tiny_model(tmp_path / "bare.onnx", metadata=""))
    assert "metadata" in msg


def test_unreadable_metadata_is_refused(tmp_path: Path) -> None:
    bad = json.dumps({"class_names": ["only one"]})
    assert_model_error_names(tiny_model(tmp_path / "meta.onnx", metadata=bad))


def test_an_input_shape_that_disagrees_with_the_metadata_is_refused(tmp_path: Path) -> None:
    path = tiny_model(tmp_path / "big.onnx", input_shape=("N", 64, 64, 1))
    assert "input shape" in assert_model_error_names(path)


def test_a_class_count_that_disagrees_with_the_metadata_is_refused(tmp_path: Path) -> None:
    assert "classes" in assert_model_error_names(tiny_model(tmp_path / "c5.onnx", outputs=5))


def test_a_class_count_hidden_behind_a_dynamic_output_is_still_refused(tmp_path: Path) -> None:
    path = tiny_model(tmp_path / "dyn.onnx", outputs=5, output_dim="C")
    assert "classes" in assert_model_error_names(path)


# --- the one metadata reader ---------------------------------------------------------------


def test_the_metadata_reader_gives_what_the_classifier_reads(model_path: Path) -> None:
    classifier = EmotionClassifier(model_path)
    try:
        assert read_model_info(model_path) == classifier.info
    finally:
        classifier.close()


def test_the_metadata_reader_reads_a_file_again_once_it_changes(tmp_path: Path) -> None:
    path = tiny_model(tmp_path / "m.onnx")
    assert read_model_info(path).name == "tiny test model"
    renamed = ModelInfo(class_names=FER_PLUS, name="renamed model").to_json()
    tiny_model(path, metadata=renamed)
    assert read_model_info(path).name == "renamed model"


def test_the_metadata_reader_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"bare\.onnx.*has no 'emocam' metadata"):
        read_model_info(tiny_model(tmp_path / "bare.onnx", metadata=""))
    with pytest.raises(ModelError, match=r"nope\.onnx cannot be read"):
        read_model_info(tmp_path / "nope.onnx")
