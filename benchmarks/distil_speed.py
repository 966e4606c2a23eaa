"""What sets the pace of a distillation run: the student's step or the teachers' passes.

    python benchmarks/distil_speed.py --data FERPLUS \\
        --teachers A.keras,B.keras:flip --teachers A-int8.onnx,B-int8.onnx [--rounds 5]

Each ``--teachers`` is one ensemble as ``--set teacher=`` takes it (``:flip`` at the end: each
teacher also reads the mirror image, ``teacher_flip=true``). For each ensemble it reports the
time of its soft targets for a batch of 128 faces, its accuracy on FER+ validation, and how
far its soft targets are from the first ensemble's; then the time of one training step of
the shipped network under the current Keras backend (``KERAS_BACKEND``). Pause other work on
the machine first: every figure is wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from timing import Stats, repeat

from emocam.training.data import load_dataset
from emocam.training.train import Teachers, TrainConfig

BATCH = 128


def _wall_ms(fn: Callable[[], object], rounds: int) -> Stats:
    fn()  # the first call compiles or warms caches

    def once() -> float:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1000

    return Stats.of(repeat(once, rounds))


def student_step_ms(n_classes: int, rounds: int) -> tuple[str, Stats]:
    import keras

    from emocam.training.model import make_model

    model = make_model(n_classes, 48, TrainConfig().model)  # the shipped network
    model.compile(optimizer=keras.optimizers.AdamW(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 48, 48, 1), dtype=np.float32)
    y = np.eye(n_classes, dtype=np.float32)[rng.integers(0, n_classes, BATCH)]
    return keras.backend.backend(), _wall_ms(lambda: model.train_on_batch(x, y), rounds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="FER+ data or a .emopack with valid")
    ap.add_argument("--teachers", action="append", default=[],
                    help="comma-separated teacher files, ':flip' at the end for teacher_flip")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    ds = load_dataset(args.data)
    ok = ds.valid.labels >= 0
    images, labels = ds.valid.images[ok], ds.valid.labels[ok]
    batch = images[:BATCH].astype(np.float32)
    first: np.ndarray | None = None
    for spec in args.teachers:
        paths, flip = (spec[:-5], True) if spec.endswith(":flip") else (spec, False)
        teachers = Teachers([Path(p) for p in paths.split(",")], 1.0, ds.class_names, flip)
        ms = _wall_ms(lambda t=teachers: t.probabilities(batch), args.rounds)
        probs = np.concatenate([teachers.probabilities(images[i:i + BATCH].astype(np.float32))
                                for i in range(0, len(images), BATCH)])
        line = (f"{spec}: {ms.fmt(0)} ms per {BATCH} faces; FER+ validation "
                f"{(probs.argmax(1) == labels).mean() * 100:.2f}%")
        if first is None:
            first = probs
        else:
            agree = (probs.argmax(1) == first.argmax(1)).mean()
            tv = np.abs(probs - first).sum(1).mean() / 2
            line += (f"; against the first: same top class on {agree * 100:.1f}% of faces, "
                     f"mean total-variation distance {tv:.4f}")
        print(line)
    backend, ms = student_step_ms(len(ds.class_names), args.rounds)
    print(f"student training step ({backend}): {ms.fmt(0)} ms per {BATCH} faces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
