"""Two emotion models' CPU time for one batch of 4 faces, interleaved in one process.

    python benchmarks/classifier_ab.py OLD.onnx NEW.onnx [--rounds 30]

Interleaving rounds of 50 calls each makes the two figures share whatever else the machine
is doing; the medians are compared.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import onnxruntime as ort


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sessions = {m: ort.InferenceSession(m, so, providers=["CPUExecutionProvider"])
                for m in args.models}
    x = np.random.default_rng(0).standard_normal((4, 48, 48, 1)).astype(np.float32)
    times: dict[str, list[float]] = {m: [] for m in sessions}
    for _ in range(args.rounds):
        for m, s in sessions.items():
            name = s.get_inputs()[0].name
            t0 = time.perf_counter()
            for _ in range(50):
                s.run(None, {name: x})
            times[m].append((time.perf_counter() - t0) / 50 * 1000)
    for m, v in times.items():
        print(f"{m}: median {np.median(v):.3f} ms per batch of 4 faces (fastest round "
              f"{min(v):.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
