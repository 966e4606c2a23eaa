"""The metadata an emotion model carries inside its ONNX file.

``fer-train`` writes it at export and the app reads it, so nothing else in the project knows
class names, input size, normalisation or crop framing. It is stored as JSON under the ONNX
metadata key ``emocam``.

:func:`read_model_info` is the one reader: the classifier, ``fer-train evaluate`` and the
app's model menu and About dialog all get a model's metadata through it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from emocam import columns
from emocam.errors import ModelError
from emocam.offline import keep_native_libraries_offline
from emocam.preprocess import CropSpec, Normalization

METADATA_KEY = "emocam"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModelInfo:
    class_names: tuple[str, ...]
    input_size: int = 48
    layout: str = "NHWC"  # NHWC or NCHW, one gray channel
    normalization: Normalization = field(default_factory=Normalization)
    crop: CropSpec = field(default_factory=CropSpec)
    output: str = "logits"  # "logits" or "probabilities"
    temperature: float = 1.0  # calibration: softmax(logits / temperature)
    # Calibrated top probability below which a label is shown as "uncertain" (None: the
    # app's default).
    uncertain_below: float | None = None
    name: str = "emotion model"
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def accuracy(self) -> dict[str, Any]:
        """What the model's card says it scores, for the summary and the report: each value
        kept only when it is what fer-train writes (hand-made metadata may hold a percentage
        or text where a fraction or a count belongs; the field is shown, not computed on)."""
        m = self.metrics
        acc = m.get("test_accuracy")
        images = m.get("test_images")
        protocol = m.get("test_protocol")
        test_set = m.get("test_set")  # the data scored on: "FER+", "Your photos"
        return {
            "test_set": test_set if isinstance(test_set, str) else None,
            "test_accuracy": (float(acc) if isinstance(acc, int | float)
                              and not isinstance(acc, bool) and 0.0 <= acc <= 1.0 else None),
            "test_protocol": protocol if isinstance(protocol, str) else None,
            "test_images": (images if isinstance(images, int) and not isinstance(images, bool)
                            and images >= 0 else None),
        }

    def to_json(self) -> str:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        """Parse metadata; raises ``ValueError`` naming the bad key when a value is wrong.

        Every value is checked, since a wrong one does not fail loudly later: a temperature
        or normalisation std of 0 gives NaN probabilities, a crop scale of 0 an empty crop.
        """
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"its metadata is not valid JSON ({e.msg})") from e
        except RecursionError as e:
            raise ValueError("its metadata is nested too deeply to be read") from e
        if not isinstance(d, dict):
            raise ValueError("its metadata is not a JSON object")
        names = d.get("class_names")
        if not isinstance(names, list) or len(names) < 2:
            raise ValueError("its metadata lacks a list of at least two class names")
        if not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError("its metadata key 'class_names' holds a name that is empty or "
                             "not text")
        if any(n != n.strip() or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in n)
               for n in names):
            # They head CSV columns: "neutral\n" split the header line for a line reader.
            # (Joiners and other format characters belong to names in some scripts.)
            raise ValueError("its metadata key 'class_names' holds a name with spaces at its "
                             "ends, a line break or another control character")
        if len({n.casefold() for n in names}) != len(names):
            # "Neutral" and "neutral" are one class to a reader of the CSV.
            raise ValueError("its metadata key 'class_names' names a class twice")
        clash = columns.taken_names(names)
        if clash:
            raise ValueError(f"its metadata key 'class_names' names {', '.join(clash)}, "
                             "which is a column of emocam's CSV already")
        formulas = columns.formula_like(names)
        if formulas:
            raise ValueError(f"its metadata key 'class_names' names {', '.join(formulas)}, "
                             "which a spreadsheet would run as a formula")
        schema = _integer(d, "schema", SCHEMA_VERSION, 1, 10**6)
        if schema > SCHEMA_VERSION:
            raise ValueError(f"its metadata schema {schema} is newer than this emocam understands")
        if d.get("layout", "NHWC") not in ("NHWC", "NCHW"):
            raise ValueError(f"its input layout {d.get('layout')!r} is not NHWC or NCHW")
        if d.get("output", "logits") not in ("logits", "probabilities"):
            raise ValueError(f"its output kind {d.get('output')!r} is not logits or probabilities")
        size = _integer(d, "input_size", 48, *_INPUT_SIZES)
        norm = _section(d, "normalization", ("scale", "mean", "std"))
        crop = _section(d, "crop", ("size", "scale", "shift_y"))
        defaults_n, defaults_c = Normalization(), CropSpec()
        normalization = Normalization(
            scale=_number(norm, "normalization.scale", defaults_n.scale, nonzero=True),
            mean=_number(norm, "normalization.mean", defaults_n.mean),
            std=_number(norm, "normalization.std", defaults_n.std, nonzero=True),
        )
        if "size" in crop:  # the crop is always made at the input size; the key is checked
            _integer(crop, "crop.size", size, *_INPUT_SIZES)
        crop_spec = CropSpec(
            size=size,
            scale=_number(crop, "crop.scale", defaults_c.scale, lo=0.1, hi=10.0),
            shift_y=_number(crop, "crop.shift_y", defaults_c.shift_y, lo=-2.0, hi=2.0),
        )
        temperature = _number(d, "temperature", 1.0, lo=TEMPERATURES[0], hi=TEMPERATURES[1])
        uncertain = d.get("uncertain_below")
        name = d.get("name", "emotion model")
        if not isinstance(name, str):
            raise ValueError(f"its metadata key 'name' is {name!r}, not a string")
        return cls(
            class_names=tuple(names),
            input_size=size,
            layout=d.get("layout", "NHWC"),
            normalization=normalization,
            crop=crop_spec,
            output=d.get("output", "logits"),
            temperature=temperature,
            uncertain_below=(
                None if uncertain is None
                else _number(d, "uncertain_below", 0.5, lo=0.0, hi=1.0)
            ),
            name=name,
            metrics=_section(d, "metrics"),
            training=_section(d, "training"),
            schema=schema,
        )


class ModelInfoError(ValueError):
    """A model's metadata is missing or wrong; the message completes "The model file X ..."."""


def info_from_metadata(metadata: Mapping[str, str]) -> ModelInfo:
    """The :class:`ModelInfo` in an ONNX file's metadata map (``custom_metadata_map``)."""
    text = metadata.get(METADATA_KEY)
    if text is None:
        raise ModelInfoError(
            f"has no {METADATA_KEY!r} metadata (it was not exported by fer-train)"
        )
    try:
        return ModelInfo.from_json(text)
    except (ValueError, TypeError) as e:
        raise ModelInfoError(f"cannot be used: {e}") from e


def read_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """The metadata of the ONNX model at ``path``, without making it ready to run; raises
    :class:`ModelError` naming the file.

    Cached per file version (path, size, modification time), so a menu can label the built-in
    models on the GUI thread: only the first call per file reads it.
    """
    p = Path(path)
    try:
        st = p.stat()
        return _read_cached(str(p.resolve()), st.st_size, st.st_mtime_ns)
    except OSError as e:
        raise ModelError(f"The model file {p} cannot be read ({e.strerror or e}).") from e
    except ModelInfoError as e:
        raise ModelError(f"The model file {p} {e}.") from e


@functools.lru_cache(maxsize=32)
def _read_cached(path: str, size: int, mtime_ns: int) -> ModelInfo:
    del size, mtime_ns  # part of the cache key only: a rewritten file is read again
    keep_native_libraries_offline()  # onnxruntime's own usage reports (emocam.offline)
    opts = ort.SessionOptions()
    # Only the metadata is wanted: no graph optimisation, which is most of a session's cost.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(path, sess_options=opts,
                                       providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's errors share no base class beyond Exception
        raise ModelInfoError(
            "is not a valid ONNX model (it may be truncated or another kind of file)"
        ) from e
    return info_from_metadata(session.get_modelmeta().custom_metadata_map)


# A face crop's side in pixels: FER models use 48-112; beyond this range a value is an error.
_INPUT_SIZES = (8, 1024)
TEMPERATURES = (1e-3, 1e3)  # the calibration temperatures a model file may carry


def _number(
    d: dict[str, Any],
    key: str,
    default: float,
    *,
    lo: float = -1e6,
    hi: float = 1e6,
    nonzero: bool = False,
) -> float:
    """A finite number in ``[lo, hi]`` (not a bool or a string), or ``default`` if absent."""
    short = key.rsplit(".", 1)[-1]
    value = d.get(short, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and not (math.isfinite(value) and lo <= value <= hi and (value != 0 or not nonzero)):
        ok = False
    if not ok:
        need = f"a number between {lo:g} and {hi:g}" + (" other than 0" if nonzero else "")
        raise ValueError(f"its metadata key {key!r} is {value!r}, not {need}")
    return float(value)


def _integer(d: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    """A whole number in ``[lo, hi]`` (48.0 counts; 48.5, "48" and true do not)."""
    short = key.rsplit(".", 1)[-1]
    value = d.get(short, default)
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not lo <= value <= hi:
        raise ValueError(f"its metadata key {key!r} is {value!r}, not a whole number "
                         f"between {lo} and {hi}")
    return int(value)


def _section(
    d: dict[str, Any], key: str, allowed: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """An optional JSON object under ``key``; with ``allowed``, only those keys."""
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"its metadata key {key!r} is {value!r}, not a JSON object")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(f"its metadata key '{key}.{unknown[0]}' is not one emocam knows "
                             f"(it knows {', '.join(allowed)})")
    return value
