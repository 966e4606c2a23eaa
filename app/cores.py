"""How many CPU cores this process may use for its own threads.

One run uses every core by default. A batch runs N inputs at once in N worker processes, and
each worker gets ``cores // N`` of them, so N workers together do not oversubscribe the
machine (more threads than cores only adds switching). The threads that read this:
onnxruntime's sessions for large batches (``emocam.classify``), the H.264 encoder
(``emocam.encoders``) and OpenCV's own pool (set by ``limit_to``).
"""

from __future__ import annotations

import os

_budget: int | None = None  # None: every core of the machine


def available() -> int:
    """The cores this process may keep busy (at least one)."""
    return _budget if _budget is not None else max(1, os.cpu_count() or 1)


def share(workers: int) -> int:
    """Each of ``workers`` processes' share of this machine's cores (at least one)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def limit_to(cores: int) -> None:
    """Keep this process's thread pools to ``cores`` (a batch worker, before any work)."""
    global _budget
    _budget = max(1, cores)
    # Native pools that read these when they start (OpenMP in some builds of the libraries).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(_budget)
    import cv2

    cv2.setNumThreads(_budget)
