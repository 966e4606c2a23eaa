"""Test accuracy under the damage real cameras and files do.

    python benchmarks/robustness.py FERPLUS --model models/emocam-ferplus.onnx [--model ...]
    python benchmarks/robustness.py FER2013 --model fer2013 [--model ...]

FER+ is scored by majority vote, FER2013 on PrivateTest; a model is a built-in name or a file.

Each perturbation is applied to the 48x48 test crops: mirror, brightness x0.6 and x1.4,
Gaussian blur sigma 1, JPEG quality 30, shifts of 3 px (mean of left, right, up, down), and
crops of 0.9 and 1.1 times the side (zoom in, zoom out with replicated border).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from emocam.resources import resolve_model
from emocam.training.data import load_dataset
from emocam.training.evaluate import load_predictor

Perturb = Callable[[np.ndarray], np.ndarray]


def _each(images: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.stack([fn(im) for im in images])


def _warp(img: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    side = img.shape[0]
    c = (side - 1) / 2
    m = np.array([[scale, 0, c - scale * c + dx], [0, scale, c - scale * c + dy]], np.float32)
    return cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


PERTURBATIONS: dict[str, list[Perturb]] = {
    "none": [lambda x: x],
    "flip": [lambda x: x[:, :, ::-1]],
    "brightness x0.6": [lambda x: np.clip(x * 0.6, 0, 255).astype(np.uint8)],
    "brightness x1.4": [lambda x: np.clip(x * 1.4, 0, 255).astype(np.uint8)],
    "blur sigma 1": [lambda x: _each(x, lambda im: cv2.GaussianBlur(im, (0, 0), 1.0))],
    "JPEG quality 30": [lambda x: _each(x, lambda im: _jpeg(im, 30))],
    "shift 3 px": [lambda x, d=d: _each(x, lambda im: _warp(im, 1.0, *d))
                   for d in ((3, 0), (-3, 0), (0, 3), (0, -3))],
    # A crop 0.9 times the side shows the face larger: scale 1/0.9 about the centre.
    "crop x0.9": [lambda x: _each(x, lambda im: _warp(im, 1 / 0.9, 0, 0))],
    "crop x1.1": [lambda x: _each(x, lambda im: _warp(im, 1 / 1.1, 0, 0))],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="FER+ or FER2013 (folders, CSV or a pack with its test split)")
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--split", choices=("test", "valid"), default="test",
                    help="valid: whether a change under test is the network's or the split's")
    args = ap.parse_args(argv)
    ds = load_dataset(args.data, cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    part = getattr(ds, args.split)
    ok = part.labels >= 0  # FER+: the images with a majority vote
    images, labels = part.images[ok], part.labels[ok]
    rows = {}
    for model in args.model:
        pred = load_predictor(resolve_model(model))
        rows[model] = {name: float(np.mean([(pred.logits(fn(images)).argmax(1) == labels).mean()
                                            for fn in fns]))
                       for name, fns in PERTURBATIONS.items()}
    names = list(PERTURBATIONS)
    print("| perturbation | " + " | ".join(Path(m).name for m in args.model) + " |")
    print("|---|" + "---|" * len(args.model))
    for name in names:
        cells = []
        for m in args.model:
            acc = rows[m][name] * 100
            delta = acc - rows[m]["none"] * 100
            cells.append(f"{acc:.2f}%" if name == "none" else f"{acc:.2f}% ({delta:+.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
