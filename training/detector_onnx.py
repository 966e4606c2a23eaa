"""BlazeFace short-range as an ONNX file, for the per-frame search around known faces.

MediaPipe runs a detector call on its own graph threads while the caller waits; on two busy
cores each hand-off waits for a core, so the 128 px call that follows known faces took ~5 ms
of a frame's critical path for ~1.5 ms of work (docs/PROFILE.md). The same network in
onnxruntime runs on the calling thread. This converts MediaPipe's own file, weights
unchanged, and checks the conversion against the TFLite original before writing it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from emocam.errors import ModelError

log = logging.getLogger(__name__)

# The largest difference allowed between the TFLite and ONNX outputs, on raw regressor
# values in input pixels and on score logits: float rounding, nothing more.
TOLERANCE = 1e-3


def convert(tflite: Path, out: Path, opset: int = 13) -> float:
    """Write ``out`` from ``tflite``; returns the largest output difference on test inputs."""
    import onnx
    import tf2onnx

    try:
        model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=opset)
    except Exception as e:  # tf2onnx's parser raises anything on a file it cannot read
        log.debug("tf2onnx cannot read %s: %r", tflite, e)
        raise ModelError(f"{tflite} is not a TensorFlow Lite model that tf2onnx can read; give "
                         "MediaPipe's face_detection_short_range.tflite.") from e
    model.producer_name = "emocam fer-train detector-onnx (tf2onnx)"
    model.doc_string = (
        f"BlazeFace short-range (MediaPipe, Apache-2.0), converted from {tflite.name}; "
        "input 1x128x128x3 RGB in [-1, 1]; outputs regressors 1x896x16, classificators 1x896x1"
    )
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / out.name
        onnx.save(model, str(candidate))
        try:
            diff = compare(tflite, candidate)
        except ValueError as e:  # another model's shapes (the full-range detector)
            raise ModelError(f"{tflite} is not the BlazeFace short-range model this converts "
                             f"({e}); give MediaPipe's face_detection_short_range.tflite.") from e
        if diff > TOLERANCE:
            raise ModelError(
                f"The ONNX conversion of {tflite} differs from it by {diff:g}; "
                "check the tf2onnx version."
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(candidate.read_bytes())
    log.info("%s: largest difference from %s %.2g", out, tflite.name, diff)
    return diff


def compare(tflite: Path, onnx_path: Path, n: int = 8) -> float:
    """Largest absolute difference of both outputs over ``n`` seeded random inputs."""
    import onnxruntime as ort
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = {d["name"]: d["index"] for d in interp.get_output_details()}
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(n):
        x = rng.uniform(-1, 1, size=inp["shape"]).astype(np.float32)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        got = dict(zip(names, session.run(None, {session.get_inputs()[0].name: x}), strict=True))
        for name, index in outs.items():
            worst = max(worst, float(np.abs(interp.get_tensor(index) - got[name]).max()))
    return worst
