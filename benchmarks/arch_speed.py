"""What a wider or deeper network would cost the app, before any of it is trained.

    python benchmarks/arch_speed.py --net 16,32,64,128 --net 16,32,64,176 \\
        --net 16,32,64,128/2,2,2,3 [--rounds 20] [--keep DIR]

Each ``--net`` is the plain network's stage widths, optionally ``/`` its layers per stage
(default 2 per stage). Each is built with untrained weights, exported to ONNX and quantized
to int8 exactly as ``fer-train export`` and ``fer-train quantize`` do (the app's CPU default
is int8), then ``classifier_ab.py`` times all of them interleaved, one thread, a batch of 4
faces. The time of a convolution does not depend on its weights, so these are the times the
trained networks will have. The first ``--net`` is the reference; pause other work first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from classifier_ab import main as time_models


def spec_config(spec: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    widths, _, blocks = spec.partition("/")
    try:
        w = tuple(int(v) for v in widths.split(","))
        b = tuple(int(v) for v in blocks.split(",")) if blocks else (2,) * len(w)
    except ValueError:
        raise SystemExit(f"--net {spec}: write widths[/layers], e.g. 16,32,64,176/2,2,2,2."
                         ) from None
    if len(b) != len(w):
        raise SystemExit(f"--net {spec}: give as many layer counts as widths.")
    return w, b


def build(spec: str, folder: Path) -> tuple[Path, int, int]:
    """The int8 ONNX file of ``spec``'s network, its parameters and multiply-adds per face."""
    from emocam.training.export import to_onnx
    from emocam.training.model import ModelConfig, count_macs, make_model
    from emocam.training.quantize import int8_graph

    widths, blocks = spec_config(spec)
    model = make_model(8, 48, ModelConfig(widths=widths, blocks=blocks))
    name = spec.replace(",", "-").replace("/", "_")
    fp32, int8 = folder / f"{name}.onnx", folder / f"{name}-int8.onnx"
    to_onnx(model, fp32)
    int8_graph(fp32, int8, np.random.default_rng(0).standard_normal((256, 48, 48, 1))
               .astype(np.float32))
    return int8, model.count_params(), count_macs(model)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", action="append", required=True,
                    help="stage widths[/layers per stage]: 16,32,64,176 or 16,32,64,128/2,2,2,3")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="keep the ONNX files in this folder")
    args = ap.parse_args(argv)
    for spec in args.net:  # every mistake before the first minute of building
        spec_config(spec)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for spec in args.net:
            path, params, macs = build(spec, folder)
            print(f"{spec}: {params:,} parameters, {macs / 1e6:.1f} M multiply-adds per face "
                  f"-> {path.name}")
            files.append(str(path))
        return time_models([*files, "--threads", "1", "--rounds", str(args.rounds)])


if __name__ == "__main__":
    sys.exit(main())
