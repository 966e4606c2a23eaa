"""Broken emotion models and broken datasets: one sentence naming the file, never a crash of
another type. The ONNX graphs are built here, tiny, with the ``onnx`` helper API."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import assert_one_sentence

from emocam.classify import EmotionClassifier
from emocam.errors import ModelError
from emocam.modelinfo import METADATA_KEY, ModelInfo
from emocam.training.data import DataError, load_dataset

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

NAMES = ("neutral", "happiness", "sadness")


def tiny_model(
    path: Path,
    *,
    input_shape: list[object] | None = None,
    classes: int = 3,
    out_shape: list[object] | None = None,
    metadata: str | None = None,
    softmax: bool = False,
    second_output: bool = False,
) -> Path:
    """A one-op model: flatten a 48x48 gray crop (NHWC) and multiply by a weight matrix;
    ``softmax``: its output is probabilities; ``second_output``: the logits come second."""
    input_shape = input_shape or ["N", 48, 48, 1]
    pixels = int(np.prod([d for d in input_shape[1:] if isinstance(d, int)]))
    w = helper.make_tensor(
        "w", TensorProto.FLOAT, [pixels, classes],
        np.random.default_rng(0).normal(0, 1e-3, pixels * classes).astype(np.float32),
    )
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, pixels])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    outputs = ["logits"]
    if softmax or second_output:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
        outputs = ["probs", "logits"] if second_output else ["probs"]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, out_shape or ["N", classes])
         for name in outputs],
        initializer=[w, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is None:
        metadata = ModelInfo(class_names=NAMES).to_json()
    if metadata:
        helper.set_model_props(model, {METADATA_KEY: metadata})
    onnx.save(model, str(path))
    return path


def test_a_tiny_model_that_matches_its_metadata_loads(tmp_path: Path) -> None:
    clf = EmotionClassifier(tiny_model(tmp_path / "ok.onnx"))
    probs = clf.predict(np.full((5, 48, 48), 100, np.uint8))
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


BROKEN = {
    "wrong input size": (dict(input_shape=["N", 64, 64, 1]), "input shape"),
    "colour input": (dict(input_shape=["N", 48, 48, 3]), "input shape"),
    "fewer classes than named": (dict(classes=2), "2 classes"),
    "more classes than named, dynamic": (dict(classes=5, out_shape=["N", "C"]), "names 3"),
    "no metadata": (dict(metadata=""), "metadata"),
    "metadata not json": (dict(metadata="{not json"), "not valid JSON"),
    "one class name": (dict(metadata=json.dumps({"class_names": ["x"]})), "class names"),
    # Logits said to be probabilities were clipped at 0 and shown as confident labels.
    "logits said to be probabilities": (
        dict(metadata=json.dumps({"class_names": list(NAMES), "output": "probabilities"})),
        "outputs are not"),
    # An empty name was "lacks a list of at least two class names"; a line break split the
    # CSV's header for a line reader; two names of one class were two columns.
    "an empty class name": (dict(metadata=json.dumps({"class_names": ["neutral", " ", "sad"]})),
                            "holds a name that is empty"),
    "a line break in a name": (
        dict(metadata=json.dumps({"class_names": ["neutral", "happy\n", "sad"]})), "line break"),
    "one class twice": (
        dict(metadata=json.dumps({"class_names": ["neutral", "Neutral", "sad"]})), "twice"),
    # "Frame" was taken, and a label map's "Frame" refused: one rule for both now.
    "a class named as a column in other case": (
        dict(metadata=json.dumps({"class_names": ["neutral", "Frame", "sad"]})),
        "a column of emocam's CSV"),
    # Probabilities said to be logits went through softmax again: every face low confidence.
    "probabilities said to be logits": (dict(softmax=True), "probabilities already"),
    # Probabilities first, logits second: the first was read, squashed, unsaid.
    "two outputs": (dict(second_output=True), "has 2 outputs that could be"),
}


@pytest.mark.parametrize("batch", [1, 4])
def test_a_model_exported_with_a_fixed_batch_reads_any_number_of_faces(
    tmp_path: Path, batch: int
) -> None:
    # Before: it loaded, then stopped on the first frame with more faces than its batch
    # ("Got invalid dimensions for input ... Got: 4 Expected: 1"), after outputs were opened.
    fixed = EmotionClassifier(tiny_model(tmp_path / "fixed.onnx", input_shape=[batch, 48, 48, 1],
                                         out_shape=[batch, 3]))
    dynamic = EmotionClassifier(tiny_model(tmp_path / "dynamic.onnx"))
    faces = np.random.default_rng(1).integers(0, 256, (6, 48, 48), np.uint8)
    np.testing.assert_allclose(fixed.predict(faces), dynamic.predict(faces), atol=1e-6)


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_model_that_disagrees_with_its_metadata_is_one_sentence(
    case: str, tmp_path: Path
) -> None:
    kwargs, words = BROKEN[case]
    path = tiny_model(tmp_path / f"{case.replace(' ', '_')}.onnx", **kwargs)
    with pytest.raises(ModelError) as err:
        EmotionClassifier(path)
    msg = str(err.value)
    assert str(path) in msg and words in msg and "\n" not in msg and msg.endswith(".")


@pytest.mark.parametrize("case", ["truncated", "not onnx", "a folder", "empty"])
def test_a_model_file_that_is_not_a_model_is_one_sentence(
    case: str, tmp_path: Path, model_path: Path
) -> None:
    path = tmp_path / "model.onnx"
    if case == "truncated":
        path.write_bytes(model_path.read_bytes()[: model_path.stat().st_size // 2])
    elif case == "not onnx":
        path.write_bytes(b"PK\x03\x04 a zip file, say")
    elif case == "a folder":
        path.mkdir()
    else:
        path.write_bytes(b"")
    with pytest.raises(ModelError) as err:
        EmotionClassifier(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_model_with_the_wrong_class_count_stops_emocam_process_with_exit_2(
    tmp_path: Path, video_face_at_edge, capfd
) -> None:
    bad = tiny_model(tmp_path / "bad classes.onnx", classes=7)
    run = run_cli(capfd, "process", video_face_at_edge, "-o", tmp_path / "out", "--model", bad)
    assert_one_sentence(run, "bad classes.onnx", "7 classes")


@pytest.mark.parametrize("requested", ["directml", "NoSuchExecutionProvider"])
def test_an_unavailable_provider_falls_back_to_cpu_with_a_warning(
    requested: str, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import onnxruntime as ort

    if requested == "directml" and "DmlExecutionProvider" in ort.get_available_providers():
        pytest.skip("DirectML is available here")
    with caplog.at_level(logging.WARNING, logger="emocam"):
        clf = EmotionClassifier(model_path, provider=requested)
    assert clf.provider == "CPUExecutionProvider"
    assert requested in clf.fallback_reason and "using CPU" in clf.fallback_reason
    assert requested in caplog.text


# --- datasets ------------------------------------------------------------------------------

HEADER = "emotion,pixels,Usage\n"
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
GOOD_ROW = "3," + " ".join(["128"] * 2304) + ",Training\n"


def _load(root: Path, name: str, data: bytes) -> None:
    (root / name).write_bytes(data)
    if name == "fer2013new.csv" and not (root / "fer2013.csv").exists():
        (root / "fer2013.csv").write_text(HEADER + GOOD_ROW)
    try:
        load_dataset(root)
    except DataError as e:
        msg = str(e)
        assert "\n" not in msg and name in msg, msg
    finally:
        for p in root.iterdir():
            p.unlink()


@FUZZ
@given(data=st.binary(max_size=400), name=st.sampled_from(["fer2013.csv", "fer2013new.csv"]))
def test_random_bytes_as_a_dataset_csv_give_a_data_error_naming_the_file(
    tmp_path: Path, data: bytes, name: str
) -> None:
    _load(tmp_path, name, data)


@FUZZ
@given(
    cuts=st.lists(st.tuples(st.integers(0, 9300), st.binary(min_size=0, max_size=6)),
                  min_size=1, max_size=5)
)
def test_a_garbled_fer2013_csv_gives_a_data_error_or_loads(
    tmp_path: Path, cuts: list[tuple[int, bytes]]
) -> None:
    data = bytearray((HEADER + GOOD_ROW * 3).encode())
    for at, junk in cuts:
        data[at : at + len(junk)] = junk
    _load(tmp_path, "fer2013.csv", bytes(data))


def test_a_field_bigger_than_any_row_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "fer2013.csv").write_text(HEADER + "0," + "1" * 200_000 + ",Training\n")
    with pytest.raises(DataError, match=r"fer2013.csv line 2 is not valid CSV"):
        load_dataset(tmp_path)


def test_a_label_csv_naming_a_missing_image_names_the_row(tmp_path: Path) -> None:
    from training_helpers import write_ferplus_folders

    write_ferplus_folders(tmp_path)
    (tmp_path / "FER2013Train" / "fer0000003.png").unlink()
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path)
    msg = str(err.value)
    assert "FER2013Train" in msg and "label.csv row 4" in msg and "fer0000003.png" in msg


def test_a_keras_checkpoint_given_as_the_model_says_how_to_export_it(
    tmp_path: Path, capfd
) -> None:
    checkpoint = tmp_path / "best.keras"
    checkpoint.write_bytes(b"PK\x03\x04 a Keras zip")
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((64, 64, 3), 90, np.uint8))
    run = run_cli(capfd, "process", photo, "-o", tmp_path / "out", "--model", checkpoint)
    # It was "not a valid ONNX model (it may be truncated or another kind of file)".
    assert_one_sentence(run, str(checkpoint), "Keras checkpoint", "fer-train export")

