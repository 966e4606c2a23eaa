"""Where the files that ship inside the package are (models, detector weights, sample video)."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

# Models shipped in emocam.models, by the short name users pass (`--model fer2013`).
BUILTIN_MODELS = {
    "ferplus": "emocam-ferplus.onnx",
    "ferplus-int8": "emocam-ferplus-int8.onnx",  # the same, quantized: faster, 0.07 points less
    # The 1.18M-parameter FER+ network, mirror-averaged: 1.25 points more accurate than
    # "ferplus" for 6.5x its time per face; chosen by the user, never automatically.
    "ferplus-large": "emocam-ferplus-large.onnx",
    "ferplus-large-int8": "emocam-ferplus-large-int8.onnx",  # the same, quantized: for the CPU
    "fer2013": "emocam-fer2013.onnx",
    "fer2013-int8": "emocam-fer2013-int8.onnx",  # the same, quantized: for the CPU
}
DEFAULT_MODEL = "ferplus"  # the reference model: its card holds the published figures
# What runs on the CPU when no model is chosen: nearly the same accuracy (86.32% against
# 86.45%) for 1.3-2.4x less CPU time per face. GPU providers run the float model.
CPU_DEFAULT_MODEL = "ferplus-int8"
SAMPLE_VIDEO_NAME = "sample.mp4"


def _packaged(package: str, name: str) -> Path:
    # An editable install or a wheel unpacked on disk gives a real path; as_file keeps
    # working should the package ever be loaded from a zip.
    with as_file(files(package).joinpath(name)) as p:
        return Path(p)


def model_file(name: str) -> Path:
    """A file in ``emocam.models`` (it may not exist; callers report that)."""
    return _packaged("emocam.models", name)


def default_model_path(on_cpu: bool = False) -> Path:
    """The built-in model used when none is chosen; ``on_cpu``: the one for a CPU session
    (the int8 model, where this installation has it)."""
    if on_cpu and (path := model_file(BUILTIN_MODELS[CPU_DEFAULT_MODEL])).is_file():
        return path
    return model_file(BUILTIN_MODELS[DEFAULT_MODEL])


def builtin_models() -> dict[str, Path]:
    """The shipped models present in this installation, the reference model first."""
    found = {name: model_file(file) for name, file in BUILTIN_MODELS.items()}
    return {name: path for name, path in found.items() if path.is_file()}


def resolve_model(spec: str | Path | None) -> Path:
    """A model argument as a file: empty for the reference model, a built-in name, or a path."""
    if not spec:
        return default_model_path()
    if isinstance(spec, str) and spec in BUILTIN_MODELS:
        return model_file(BUILTIN_MODELS[spec])
    return Path(spec).expanduser()


def sample_video_path() -> Path:
    return _packaged("emocam.assets", SAMPLE_VIDEO_NAME)
