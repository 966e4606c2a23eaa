"""The emotion classifier: an onnxruntime session around a model that carries its metadata.

Everything the app needs to know about the model (class names, input size, layout,
normalisation, crop framing, calibration temperature) is read from the ONNX file itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from emocam.cores import available as available_cores
from emocam.errors import ModelError
from emocam.integrity import verify_file
from emocam.modelinfo import ModelInfo, ModelInfoError, info_from_metadata
from emocam.offline import keep_native_libraries_offline
from emocam.preprocess import normalize
from emocam.resources import BUILTIN_MODELS, default_model_path

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
# Fastest first; the first one this onnxruntime build offers is used.
PREFERRED_PROVIDERS = (
    "CUDAExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    CPU,
)
PROVIDER_ALIASES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}
# Said where a model is chosen, in the app (Choose Model) or in a command (--model).
_MODEL_HINT = ("choose an emocam .onnx model or a built-in one (View > Built-in Model in the "
               "app; --model " + ", ".join(BUILTIN_MODELS) + " in a command)")


def _provider_name(requested: str | None) -> str | None:
    """onnxruntime's name for a requested provider (a short name or a full one); None for
    automatic ("", "auto")."""
    if requested is None or requested.strip().lower() in ("", "auto"):
        return None
    return PROVIDER_ALIASES.get(requested.strip().lower(), requested.strip())


def known_provider(requested: str) -> bool:
    """Whether ``requested`` names an execution provider of any onnxruntime build (``auto``
    and the short names included), whether or not this build has it."""
    name = _provider_name(requested)
    return name is None or name in ort.get_all_providers()


def resolve_provider(requested: str | None, available: list[str]) -> tuple[str, str | None]:
    """The execution provider to use and, when the request could not be honoured, why."""
    name = _provider_name(requested)
    if name is None:
        for preferred in PREFERRED_PROVIDERS:
            if preferred in available:
                return preferred, None
        return CPU, None
    if name in available:
        return name, None
    reason = (
        f"execution provider {requested!r} is not available in this onnxruntime build "
        f"(available: {', '.join(available)}); using CPU"
    )
    return CPU, reason


def default_model_for(provider: str | None) -> Path:
    """The built-in model to run when the user chose none, for the provider the session will
    get: int8 on the CPU, where it halves the time per face, the float model on a GPU."""
    chosen, _ = resolve_provider(provider, ort.get_available_providers())
    return default_model_path(on_cpu=chosen == CPU)


# Batches of at least this many faces (re-analysis, evaluation, crowds) use every core.
WIDE_BATCH = 16


def _session_options(threads: int = 1) -> ort.SessionOptions:
    # onnxruntime 1.32 reports usage to mobile.events.data.microsoft.com through libcurl.
    keep_native_libraries_offline()
    opts = ort.SessionOptions()
    # ORT_ENABLE_ALL (blocked NCHWc convolutions) is 1.6x faster than EXTENDED here; the
    # memory arena and the execution mode measured no difference (docs/PROFILE.md).
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # A 48-px net on a handful of faces runs no faster on two threads (measured: 2.8 ms for
    # 4 faces either way), and on a 2-core laptop video decoding and the detector's own
    # threads need the other core. Large batches have work enough for every core.
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # Spinning workers would burn the core the detector runs on between short calls.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"The emotion model file {path} does not exist; {_MODEL_HINT}.")
    if path.is_dir():
        raise ModelError(f"The emotion model path {path} is a folder, not a file; {_MODEL_HINT}.")
    if not os.access(path, os.R_OK):
        raise ModelError(f"The emotion model file {path} cannot be read; check its permissions.")
    if path.suffix.lower() in (".keras", ".h5"):
        # A training checkpoint: it was "not a valid ONNX model".
        raise ModelError(f"The emotion model file {path} is a Keras checkpoint; emocam runs "
                         f"ONNX models: export it (a fer-train checkpoint: `fer-train export "
                         f"{path}`), then give the .onnx file.")


def _static(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


class EmotionClassifier:
    """Emotion probabilities for a batch of gray face crops, one session call per batch."""

    def __init__(
        self, model_path: str | os.PathLike[str], provider: str | None = None, threads: int = 1
    ):
        """``threads``: onnxruntime's threads for batches under ``WIDE_BATCH`` faces (one by
        default: in the app the detector needs the other core)."""
        self.path = Path(model_path)
        _check_file(self.path)
        verify_file(self.path)  # a damaged built-in model still loads and runs, wrongly
        available = ort.get_available_providers()
        chosen, self.fallback_reason = resolve_provider(provider, available)
        if self.fallback_reason:
            log.warning("%s", self.fallback_reason)
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=_session_options(threads), providers=[chosen]
            )
        except Exception as e:  # onnxruntime's errors share no base class beyond Exception
            raise ModelError(
                f"The emotion model file {self.path} is not a valid ONNX model "
                f"(it may be truncated or another kind of file); {_MODEL_HINT}."
            ) from e
        self.info = self._read_info()
        self._input = self._session.get_inputs()[0]
        self._output_name = self._session.get_outputs()[0].name
        self._check_shapes()
        self.provider: str = self._session.get_providers()[0]
        if provider is not None and self.fallback_reason is None and self.provider != chosen:
            # The provider was listed as available but failed to initialise.
            self.fallback_reason = (
                f"execution provider {chosen} failed to start; using {self.provider}"
            )
            log.warning("%s", self.fallback_reason)
        self._buf = np.empty((0, self.info.input_size, self.info.input_size), np.float32)
        self._wide: ort.InferenceSession | None = None  # all cores, made on first big batch
        self._check_output()
        log.info("emotion model %s (%s) on %s", self.path, self.info.name, self.provider)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    def _fail(self, what: str) -> ModelError:
        return ModelError(f"The emotion model file {self.path} {what}; {_MODEL_HINT}.")

    def _read_info(self) -> ModelInfo:
        # The session is already built: its own metadata map, not a second read of the file.
        try:
            return info_from_metadata(self._session.get_modelmeta().custom_metadata_map)
        except ModelInfoError as e:
            raise self._fail(str(e)) from e

    def _check_shapes(self) -> None:
        info, shape = self.info, list(self._input.shape)
        if len(self._session.get_inputs()) != 1:
            raise self._fail("has more than one input")
        if self._input.type != "tensor(float)":
            raise self._fail(f"takes {self._input.type} input, not float32")
        s = info.input_size
        want = [s, s, 1] if info.layout == "NHWC" else [1, s, s]
        if len(shape) != 4 or any(
            _static(d) is not None and d != w for d, w in zip(shape[1:], want, strict=True)
        ):
            raise self._fail(
                f"has input shape {shape} but its metadata says {info.layout} {s}x{s} gray"
            )
        # A model exported with a fixed batch (often 1) takes exactly that many faces a call.
        self._fixed_batch = _static(shape[0]) if len(shape) == 4 else None
        scores = [o for o in self._session.get_outputs() if len(o.shape) == 2
                  and _static(o.shape[1]) in (None, info.num_classes)]
        if len(scores) > 1:
            # Which one holds the classes' scores cannot be known: the first was read, and
            # a model with probabilities first and logits second gave squashed numbers. (A
            # second output of another shape, an embedding, is left alone.)
            raise self._fail(f"has {len(scores)} outputs that could be the classes' scores "
                             "(logits or probabilities); export it with one")
        out_shape = list(self._session.get_outputs()[0].shape)
        if len(out_shape) != 2:
            raise self._fail(f"has output shape {out_shape}, not (batch, classes)")
        n = _static(out_shape[1])
        if n is not None and n != info.num_classes:
            raise self._fail(
                f"outputs {n} classes but its metadata names {info.num_classes}"
            )

    def _check_output(self) -> None:
        # A dynamic output dimension can only be checked by running the model once; this
        # also warms the session up so the first real frame is not slow.
        s = self.info.input_size
        try:
            # Three faces: a fixed batch of another size is found here, not on the first
            # frame with that many faces.
            # Gray, black and white: three rows that logits would hardly all make sums of 1.
            raw = self._raw(np.stack([np.full((s, s), v, np.uint8) for v in (128, 0, 255)]))
            probs = self.predict(np.full((1, s, s), 128, np.uint8))
        except ModelError:
            raise
        except Exception as e:  # a graph that loads but cannot run
            raise self._fail(f"fails to run ({str(e).splitlines()[0][:120]})") from e
        if probs.shape != (1, self.info.num_classes):
            raise self._fail(
                f"outputs shape {probs.shape} but its metadata names "
                f"{self.info.num_classes} classes"
            )
        if self.info.output == "probabilities" and (
            # Rows may sum a little off 1 when quantised (8 levels per class of 1/256).
            raw.min() < -1e-4 or np.abs(raw.sum(axis=1) - 1.0).max() > raw.shape[1] / 256 + 0.01
        ):
            # Logits read as probabilities were clipped at 0 and shown as confident labels.
            raise self._fail(
                "is said by its metadata to output probabilities, but its outputs are not "
                f"(they range from {raw.min():.3g} to {raw.max():.3g}, rows summing to "
                f"{raw.sum(axis=1)[0]:.3g}); set its metadata's output to logits"
            )
        if self.info.output == "logits" and (
            raw.min() >= 0.0 and raw.max() <= 1.0 and np.abs(raw.sum(axis=1) - 1.0).max() < 1e-3
        ):
            # Probabilities read as logits went through softmax again: a 0.9988 smile was
            # shown as 0.30, every face flagged low confidence.
            raise self._fail(
                "is said by its metadata to output logits, but its outputs are probabilities "
                "already (each row sums to 1); set its metadata's output to probabilities"
            )

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(N, S, S)`` uint8 crops -> ``(N, C)`` float32 probabilities (rows sum to 1)."""
        c = self.info.num_classes
        if len(crops) == 0:
            return np.zeros((0, c), np.float32)
        out = self._raw(crops)
        if out.shape[1] != c:
            raise self._fail(f"outputs {out.shape[1]} classes but its metadata names {c}")
        if self.info.output == "probabilities":
            out = np.clip(out, 0.0, None)
            probs = out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        else:
            probs = softmax(out, self.info.temperature)
        return self._finite(probs)

    def _raw(self, crops: np.ndarray) -> np.ndarray:
        """The model's own outputs (logits or probabilities) for ``(N, S, S)`` uint8 crops."""
        n = len(crops)
        if len(self._buf) < n:
            s = self.info.input_size
            self._buf = np.empty((max(n, 2 * len(self._buf)), s, s), np.float32)
        x = self._buf[:n]
        x[...] = crops  # uint8 -> float32 without a temporary
        x = normalize(x, self.info.normalization).astype(np.float32, copy=False)
        x = x[..., None] if self.info.layout == "NHWC" else x[:, None]
        b = self._fixed_batch
        if b is None:
            out = self._session_for(n).run([self._output_name], {self._input.name: x})[0]
            return np.asarray(out, dtype=np.float32).reshape(n, -1)
        parts = []
        for i in range(0, n, b):
            chunk = x[i : i + b]
            if len(chunk) < b:  # padded to the batch the model takes; the padding's rows go
                pad = np.zeros((b - len(chunk), *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, pad])
            out = self._session.run([self._output_name], {self._input.name: chunk})[0]
            parts.append(np.asarray(out, dtype=np.float32).reshape(b, -1)[: min(b, n - i)])
        return np.concatenate(parts)

    def _finite(self, probs: np.ndarray) -> np.ndarray:
        # The one gate every result passes: the CSV, JSON and sidecar would otherwise carry
        # NaN or inf from a model with damaged weights as if it were a reading.
        # A "probabilities" model whose row is all zeros has no answer either: it would
        # sum to 0 and its first class would be reported as the top label.
        bad = ~np.isfinite(probs).all(axis=1) | (np.abs(probs.sum(axis=1) - 1.0) > 1e-3)
        if bad.any():
            raise self._fail(
                f"gave probabilities that are not numbers (NaN or infinity) or are all zero "
                f"for {int(bad.sum())} of {len(probs)} face(s), so none of its results can "
                "be trusted"
            )
        return probs

    def _session_for(self, n: int) -> ort.InferenceSession:
        cores = available_cores()  # a batch worker's share, not the whole machine
        if n < WIDE_BATCH or cores < 2 or self.provider != CPU:
            return self._session
        if self._wide is None:
            self._wide = ort.InferenceSession(
                str(self.path), sess_options=_session_options(min(cores, 8)), providers=[CPU]
            )
        return self._wide

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]
        self._wide = None


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from ``(N, C)`` logits, calibrated: ``softmax(logits / temperature)``.

    The app and ``fer-train`` (calibration, evaluation, distillation) share it, so a model's
    figures are measured with the arithmetic the app runs."""
    z = logits / temperature  # a new array: the caller's logits stay as they were
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
