"""The metadata an emotion model carries inside its ONNX file.

``fer-train`` writes it at export and the app reads it, so nothing else in the project knows
class names, input size, normalisation or crop framing. It is stored as JSON under the ONNX
metadata key ``emocam``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

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

    def to_json(self) -> str:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        """Parse metadata; raises ``ValueError`` with a readable reason when it is wrong."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"its metadata is not valid JSON ({e.msg})") from e
        if not isinstance(d, dict):
            raise ValueError("its metadata is not a JSON object")
        names = d.get("class_names")
        if not isinstance(names, list) or len(names) < 2 or not all(
            isinstance(n, str) and n for n in names
        ):
            raise ValueError("its metadata lacks a list of at least two class names")
        if d.get("schema", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ValueError(
                f"its metadata schema {d['schema']} is newer than this emocam understands"
            )
        if d.get("layout", "NHWC") not in ("NHWC", "NCHW"):
            raise ValueError(f"its input layout {d.get('layout')!r} is not NHWC or NCHW")
        if d.get("output", "logits") not in ("logits", "probabilities"):
            raise ValueError(f"its output kind {d.get('output')!r} is not logits or probabilities")
        size = int(d.get("input_size", 48))
        crop = dict(d.get("crop") or {})
        crop["size"] = size
        return cls(
            class_names=tuple(names),
            input_size=size,
            layout=d.get("layout", "NHWC"),
            normalization=Normalization(**(d.get("normalization") or {})),
            crop=CropSpec(**crop),
            output=d.get("output", "logits"),
            temperature=float(d.get("temperature", 1.0)),
            uncertain_below=(
                float(d["uncertain_below"]) if d.get("uncertain_below") is not None else None
            ),
            name=str(d.get("name", "emotion model")),
            metrics=dict(d.get("metrics") or {}),
            training=dict(d.get("training") or {}),
            schema=int(d.get("schema", SCHEMA_VERSION)),
        )
