"""Results that could be silently wrong are refused in one sentence naming the file: a
damaged model file, a model whose metadata holds a value that cannot be right, a model
that gives NaN. Real shipped models and detector files, damaged here in copies."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from reliability_helpers import assert_one_sentence

from emocam.blazeface import ShortRangeFaces
from emocam.classify import EmotionClassifier
from emocam.detect import FULL_RANGE, HAAR, SHORT_RANGE, HaarDetector, MediaPipeDetector
from emocam.errors import ModelError
from emocam.integrity import SUMS
from emocam.modelinfo import ModelInfo
from emocam.resources import BUILTIN_MODELS, model_file

MODELS = model_file(SUMS).parent


def shipped_copy(folder: Path, *names: str) -> Path:
    """A copy of the shipped models folder's checksum list and of the named files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (SUMS, *names):
        shutil.copy(MODELS / name, folder / name)
    return folder


def scramble_middle(path: Path, n: int = 5000, seed: int = 0) -> None:
    """Overwrite ``n`` bytes in the middle of a file with random ones, as a bad sector or a
    broken copy would: the file keeps its size and, often, still loads."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2 - n // 2
    data[start : start + n] = np.random.default_rng(seed).integers(0, 256, n, np.uint8).tobytes()
    path.write_bytes(bytes(data))


# --- damaged built-in files ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS.values()))
def test_a_damaged_built_in_emotion_model_is_refused_in_one_sentence(
    name: str, tmp_path: Path, image_one_face: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = shipped_copy(tmp_path / "models", name)
    EmotionClassifier(folder / name).close()  # an intact copy loads
    scramble_middle(folder / name)
    run = run_cli(capfd, "process", image_one_face, "-o", tmp_path / "out",
                  "--model", folder / name)
    line = assert_one_sentence(run, str(folder / name), "damaged", "reinstall emocam")
    assert SUMS in line


@pytest.mark.parametrize("name", [SHORT_RANGE, FULL_RANGE, "face_detection_short_range.onnx",
                                  HAAR])
def test_a_damaged_detector_file_is_refused_naming_it(name: str, tmp_path: Path) -> None:
    folder = shipped_copy(tmp_path, SHORT_RANGE, FULL_RANGE, HAAR,
                          "face_detection_short_range.onnx")
    scramble_middle(folder / name, n=2000)
    with pytest.raises(ModelError) as err:
        if name == HAAR:
            HaarDetector(models=folder)
        elif name.endswith(".onnx"):
            ShortRangeFaces(folder=folder)
        else:
            MediaPipeDetector(models=folder).close()
    msg = str(err.value)
    assert str(folder / name) in msg and "damaged" in msg and "\n" not in msg


# --- metadata values that cannot be right ---------------------------------------------------


def shipped_metadata() -> dict[str, object]:
    return json.loads(EmotionClassifier(MODELS / BUILTIN_MODELS["ferplus"]).info.to_json())


def _set(d: dict[str, object], key: str, value: object) -> dict[str, object]:
    out = json.loads(json.dumps(d))
    section, _, leaf = key.rpartition(".")
    (out[section] if section else out)[leaf] = value  # type: ignore[index]
    return out


BAD_VALUES: dict[str, tuple[str, object]] = {
    "temperature 0": ("temperature", 0),
    "temperature negative": ("temperature", -1.0),
    "temperature a string": ("temperature", "1.0"),
    "normalization std 0": ("normalization.std", 0),
    "normalization scale 0": ("normalization.scale", 0.0),
    "normalization mean a string": ("normalization.mean", "0.5"),
    "crop scale NaN": ("crop.scale", math.nan),
    "crop scale a string": ("crop.scale", "big"),
    "crop shift infinite": ("crop.shift_y", math.inf),
    "crop scale 0": ("crop.scale", 0),
    "input size 0": ("input_size", 0),
    "input size fractional": ("input_size", 47.5),
    "input size a string": ("input_size", "48"),
    "input size true": ("input_size", True),
    "uncertain_below above 1": ("uncertain_below", 1.5),
    "uncertain_below NaN": ("uncertain_below", math.nan),
    "schema a string": ("schema", "1"),
    "name a number": ("name", 7),
    "normalization a list": ("normalization", [0.5, 0.5]),
    "unknown crop key": ("crop.zoom", 2.0),
    "class named twice": ("class_names", ["a", "b", "a"]),
    "class named as a CSV column": ("class_names", ["happy", "confidence"]),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_every_metadata_value_is_checked_and_the_bad_key_named(case: str) -> None:
    key, value = BAD_VALUES[case]
    text = json.dumps(_set(shipped_metadata(), key, value))  # NaN/inf written as JSON does
    with pytest.raises(ValueError) as err:
        ModelInfo.from_json(text)
    msg = str(err.value)
    assert key.rsplit(".", 1)[-1] in msg and "\n" not in msg


def test_the_shipped_metadata_passes_every_check() -> None:
    for name in BUILTIN_MODELS.values():
        info = EmotionClassifier(MODELS / name).info
        assert ModelInfo.from_json(info.to_json()) == info


onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def with_metadata(tmp_path: Path, name: str, metadata: dict[str, object]) -> Path:
    """The shipped float model with other metadata: real weights, real graph."""
    model = onnx.load(str(MODELS / BUILTIN_MODELS["ferplus"]))
    helper.set_model_props(model, {"emocam": json.dumps(metadata)})
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("key, value", [("temperature", 0), ("normalization.std", 0),
                                        ("crop.scale", math.nan), ("input_size", 0)])
def test_a_model_with_an_impossible_metadata_value_stops_emocam_process_naming_file_and_key(
    key: str, value: object, tmp_path: Path, image_one_face: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    path = with_metadata(tmp_path, "odd model.onnx", _set(shipped_metadata(), key, value))
    run = run_cli(capfd, "process", image_one_face, "-o", tmp_path / "out", "--model", path)
    assert_one_sentence(run, str(path), repr(key))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- NaN never reaches a result ----------------------------------------------------------------


def nan_on_faces(path: Path) -> Path:
    """A model that reads a flat gray crop (the load-time check) fine and gives NaN for a
    real face: logits log(0.001 - mean(x^2)), x the normalised pixels, for three classes."""
    zeros = helper.make_tensor("zeros", TensorProto.FLOAT, [3], [0.0, 0.0, 0.0])
    eps = helper.make_tensor("eps", TensorProto.FLOAT, [], [1e-3])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 48 * 48])
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "shape"], ["flat"]),
            helper.make_node("Mul", ["flat", "flat"], ["sq"]),
            helper.make_node("ReduceMean", ["sq"], ["power"], axes=[1], keepdims=1),
            helper.make_node("Sub", ["eps", "power"], ["room"]),
            helper.make_node("Log", ["room"], ["one"]),
            helper.make_node("Add", ["one", "zeros"], ["logits"]),
        ],
        "nan_on_faces",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 48, 48, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        initializer=[zeros, eps, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = ModelInfo(class_names=("neutral", "happiness", "sadness")).to_json()
    helper.set_model_props(model, {"emocam": meta})
    onnx.save(model, str(path))
    return path


def test_nan_from_a_model_never_reaches_the_outputs(
    tmp_path: Path, image_one_face: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = nan_on_faces(tmp_path / "nan.onnx")
    clf = EmotionClassifier(path)  # loads: a flat crop gives numbers
    with pytest.raises(ModelError, match="not numbers"):
        clf.predict(np.random.default_rng(0).integers(0, 256, (2, 48, 48), np.uint8))
    out = tmp_path / "out"
    run = run_cli(capfd, "process", image_one_face, "-o", out, "--model", path, "-q")
    assert_one_sentence(run, str(path), "NaN")
    # It failed on the first frame: nothing was processed, so no set is left behind (an
    # empty CSV and a summary of no frames are not results), and none holds a NaN.
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_probabilities_model_that_answers_all_zeros_is_refused_when_it_loads(
    tmp_path: Path,
) -> None:
    zeros = helper.make_tensor("zeros", TensorProto.FLOAT, [1, 3], [0.0, 0.0, 0.0])
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2], keepdims=0),
         helper.make_node("Mul", ["m", "zeros"], ["probabilities"])],
        "all_zero",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 48, 48, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
        initializer=[zeros],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    info = ModelInfo(class_names=("neutral", "happiness", "sadness"), output="probabilities")
    helper.set_model_props(model, {"emocam": info.to_json()})
    path = tmp_path / "zeros.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError) as err:
        EmotionClassifier(path)
    assert str(path) in str(err.value) and "all zero" in str(err.value)
