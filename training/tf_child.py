"""The ONNX export under TensorFlow when Keras trains on another backend (JAX, PyTorch): a
child process of its own, started with Ctrl-C blocked until its entry point hears it."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from emocam.stopping import HEAR_AFTER_START, ours
from emocam.training.settings import ConfigError

log = logging.getLogger("fer-train")


def warn_no_exporter() -> None:
    """Said at the start, not after hours of training: the ONNX export needs TensorFlow."""
    import importlib.util

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "tensorflow":
        return
    try:
        missing = importlib.util.find_spec("tensorflow") is None
    except (ImportError, ValueError):  # a stand-in module, or one half there
        missing = True
    if missing:
        log.warning("Keras runs on %s and TensorFlow is not installed here, so this run will "
                    "not be exported to ONNX at its end; its checkpoint is kept for fer-train "
                    "export where TensorFlow is (pass --no-export to leave this out).", backend)


# _train_in's answer when the run is trained but Keras runs on another backend than the
# ONNX converter needs.
EXPORT_UNDER_TENSORFLOW = -1


def keras_backend() -> str:
    from emocam.training.keras_import import keras_module

    return str(keras_module().backend.backend())


def start_child(argv: list[str], env: dict[str, str], deaf: bool) -> Any:
    """``fer-train ARGV`` in a process of its own, with Ctrl-C blocked until its entry point
    unblocks it (``emocam.stopping.hear_ctrl_c_if_asked``): the mask passes through exec, so
    one landing while its Python starts waits for that, instead of being Python's own
    traceback. ``deaf``: this process ignores Ctrl-C, and the child keeps it so."""
    import subprocess

    block = not deaf and hasattr(signal, "pthread_sigmask")
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return subprocess.Popen([sys.executable, "-m", "emocam.training.cli", *argv],
                                env={**env, HEAR_AFTER_START: "1"} if block else env)
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def under_tensorflow(argv: list[str], then: str) -> int:
    """``fer-train ARGV`` again, in a process of its own whose Keras runs on TensorFlow: the
    ONNX export converts through it (tf2onnx), and under JAX or PyTorch it was a traceback
    after the whole calibration. ``then``: the command to give when TensorFlow is missing."""
    import importlib.util

    backend = keras_backend()
    if importlib.util.find_spec("tensorflow") is None:
        raise ConfigError(f"Keras runs on {backend} here, and the ONNX export needs TensorFlow "
                          f"(install it, or run {then} where it is installed).")
    log.info("Keras runs on %s; the ONNX export runs under TensorFlow", backend)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    # The child is the work now: a Ctrl-C reaches it from the terminal and it stops in its
    # own way (this process waiting on, not killing it mid-write); a kill is passed on. Here
    # a Ctrl-C is only noted (one landing between the two was a KeyboardInterrupt here while
    # the child went on); a handler, unlike an ignoring, does not pass to the child. The
    # child starts with Ctrl-C blocked until its entry point (see start_child). (A process
    # started deaf to Ctrl-C keeps its child so.)
    heard: list[int] = []
    deaf = not ours((signal.SIGINT,))
    before = {signal.SIGINT: signal.signal(
        signal.SIGINT, signal.SIG_IGN if deaf else lambda signum, frame: heard.append(signum))}
    try:
        child = start_child(argv, env, deaf)
        before[signal.SIGTERM] = signal.signal(signal.SIGTERM,
                                               lambda signum, frame: child.terminate())
        rc = child.wait()
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    # Ended by a signal, or by a Ctrl-C as it started (one it took in its stride, it said).
    if rc < 0 or (heard and rc not in (0, 130)):
        print("fer-train: the export was stopped; run the command again to export.",
              file=sys.stderr)
        return 130
    return rc
