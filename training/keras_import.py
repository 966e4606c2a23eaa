"""Keras, imported on first use, with a failure to load its backend said in one sentence.

Keras imports the backend ``KERAS_BACKEND`` names when it is first imported: a missing one or
a misspelt name raised ImportError or ValueError from deep inside it, after fer-train had
already decoded the data. Every module of the training tool imports Keras through here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from emocam.console import native_stderr_to_devnull
from emocam.errors import ModelError, UserError


def keras_module() -> ModuleType:
    loaded = sys.modules.get("keras")  # None there: an import that fails, said below
    if loaded is not None:
        return loaded
    # TensorFlow's start-up chatter, written by its C++ core straight to descriptor 2 whatever
    # its log level: on a machine without a GPU, "E ... failed call to cuInit: CUDA error",
    # which reads as a fault. Kept where the user set TF_CPP_MIN_LOG_LEVEL to see it, and on a
    # machine with an NVIDIA device, where CUDA's complaints say why training runs on the CPU.
    chatter = "TF_CPP_MIN_LOG_LEVEL" in os.environ or Path("/dev/nvidiactl").exists()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with native_stderr_to_devnull(not chatter):
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.config.list_physical_devices()  # where the CUDA probe speaks
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == _backend():
            raise _no_backend(e) from e
        # Keras itself, or one of its own dependencies (optree, namex, h5py): a .keras file
        # given to evaluate or compare without the training extras.
        raise UserError(f"Keras cannot be imported ({e}); install the training extras: pip "
                        'install "emocam[train]".') from e
    except (ImportError, ValueError) as e:
        raise _no_backend(e) from e
    return keras


def load_keras_file(path: Path) -> Any:
    """The Keras model in ``path``; a damaged or foreign file is a ``ModelError`` naming it."""
    keras = keras_module()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a bad file
        # Its own words for a damaged file are "File not found", which is untrue of one
        # that exists.
        why = ("it may be cut short or another kind of file" if Path(path).is_file()
               else str(e))
        raise ModelError(f"{path} is not a readable Keras model ({why}).") from e


def _backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def _no_backend(e: Exception) -> UserError:
    return UserError(f"Keras cannot load its backend {_backend()!r} ({e}); install it "
                     "(tensorflow, jax or torch), or set KERAS_BACKEND to one that is installed.")
