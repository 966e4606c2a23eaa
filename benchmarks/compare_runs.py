"""Compare two `emocam process` output sets of one input, as a redesign is checked against
the code before it: CSV and video byte for byte, the JSON with its timings (and the model's
install path) left out, the sidecar array by array and its header.

    python benchmarks/compare_runs.py OLD_DIR NEW_DIR NAME
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

# Differ from run to run, or with where emocam is installed: not results.
VOLATILE = {"mean_timings_ms", "fps_achieved", "elapsed_s", "outputs", "model_path"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def _differences(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if k not in VOLATILE and a.get(k) != b.get(k))


def compare(old: Path, new: Path, name: str) -> bool:
    same = True
    for ext in ("csv", "mp4"):
        a, b = old / f"{name}.emocam.{ext}", new / f"{name}.emocam.{ext}"
        equal = a.read_bytes() == b.read_bytes()
        same &= equal
        print(f"{ext}: {'identical' if equal else 'DIFFERENT'} ({_digest(a)} {_digest(b)})")
    diff = _differences(json.loads((old / f"{name}.emocam.json").read_text()),
                        json.loads((new / f"{name}.emocam.json").read_text()))
    same &= not diff
    print(f"json, timings aside: {'identical' if not diff else f'DIFFERENT {diff}'}")
    with np.load(old / f"{name}.emocam.npz") as za, np.load(new / f"{name}.emocam.npz") as zb:
        bad = [k for k in sorted(set(za.files) | set(zb.files)) if k != "header" and (
            k not in za.files or k not in zb.files or not _same_array(za[k], zb[k]))]
        bad += _differences(json.loads(str(za["header"])), json.loads(str(zb["header"])))
    same &= not bad
    print(f"sidecar arrays and header: {'identical' if not bad else f'DIFFERENT {bad}'}")
    return same


if __name__ == "__main__":
    sys.exit(0 if compare(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]) else 1)
