"""What an anamorphic video's squeeze costs the emotion model: real faces as shown against the
same faces stored as a 16:9 DVD stores them (720x480, pixels 32:27: 27/32 as wide).

    python benchmarks/anamorphic.py /tmp/data/mux-dev          # a folder of <label>/<photo>
    python benchmarks/anamorphic.py /tmp/data/mux-dev --limit 300

Each photo is read as is and squeezed across by 27/32 (INTER_AREA); the detector (MediaPipe,
whole frame and tiles, as ``emocam process`` runs it on a photo) finds the largest face in
each, and the built-in model classifies its crop:

- "as is": the photo in square pixels, the reference;
- "squeezed, stored crop": the squeezed photo cropped from its stored pixels (before);
- "squeezed, crop square as shown": ``crop_faces(..., pixel_aspect=32/27)`` (now);
- "squeezed, box's longer side as shown": the same, but the crop's side is the detector box's
  width as shown (1.19 times its height) instead of the side of the square of its area;
- "squeezed, widened before detection": the whole frame widened to square pixels first (the
  costlier alternative; what is left is resampling and the detector's own jitter).

Prints accuracy and balanced accuracy against the labels, and how often the top label and by
how much the probabilities (summed over the classes) differ from "as is".
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from emocam.classify import EmotionClassifier, default_model_for
from emocam.detect import create_detector
from emocam.preprocess import crop_faces, to_gray
from emocam.training.data import class_index
from emocam.types import Detection

ASPECT = 32 / 27  # a 16:9 picture stored 720x480 (DVD, DV camcorders)
VARIANTS = ("as is", "squeezed, stored crop", "squeezed, crop square as shown",
            "squeezed, box's longer side as shown", "squeezed, widened before detection")


def largest(dets: list[Detection]) -> Detection | None:
    return max(dets, key=lambda d: d.box[2] * d.box[3]) if dets else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a folder of <label>/<photo>.jpg (mux-dev)")
    ap.add_argument("--limit", type=int, default=0, help="a random sample of this many photos")
    args = ap.parse_args()
    clf = EmotionClassifier(default_model_for(None))
    spec, names = clf.info.crop, clf.info.class_names
    # The longer side of the box as shown: max(w * a, h) = side * a for the detector's
    # square box, where the crop as shown takes side * sqrt(a).
    longer = replace(spec, scale=spec.scale * math.sqrt(ASPECT),
                     shift_y=spec.shift_y * math.sqrt(ASPECT))
    det = create_detector("mediapipe")
    files = sorted(args.folder.rglob("*.jpg"))
    if 0 < args.limit < len(files):
        pick = np.random.default_rng(0).choice(len(files), args.limit, replace=False)
        files = [files[i] for i in sorted(pick)]
    labels, probs = [], []
    missed = {"as is": 0, "squeezed": 0, "widened": 0}
    t0 = time.perf_counter()
    for f in files:
        image = cv2.imread(str(f))
        if image is None:
            continue
        h, w = image.shape[:2]
        squeezed = cv2.resize(image, (max(1, round(w / ASPECT)), h),
                              interpolation=cv2.INTER_AREA)
        widened = cv2.resize(squeezed, (w, h), interpolation=cv2.INTER_LINEAR)
        found = [largest(det.detect(i)) for i in (image, squeezed, widened)]
        for key, d in zip(missed, found, strict=True):
            missed[key] += d is None
        d0, ds, dw = found
        if d0 is None or ds is None or dw is None:
            continue
        g, gs = to_gray(image), to_gray(squeezed)
        crops = [
            crop_faces(g, [d0.box], spec, [d0.eyes]),
            crop_faces(gs, [ds.box], spec, [ds.eyes]),
            crop_faces(gs, [ds.box], spec, [ds.eyes], ASPECT),
            crop_faces(gs, [ds.box], longer, [ds.eyes], ASPECT),
            crop_faces(to_gray(widened), [dw.box], spec, [dw.eyes]),
        ]
        probs.append(clf.predict(np.concatenate(crops)))
        label = class_index(f.parent.name, names)
        labels.append(-1 if label is None else label)
    p, lab = np.stack(probs), np.array(labels)
    known = lab >= 0
    print(f"{len(files)} photos, {len(p)} faces found in all three; no face found: "
          + ", ".join(f"{k} {v}" for k, v in missed.items())
          + f"; {time.perf_counter() - t0:.0f} s")
    print("| crop | accuracy | balanced accuracy | top label differs from as is "
          "| probabilities apart (summed, median) |\n|---|---|---|---|---|")
    ref = p[:, 0]
    for i, variant in enumerate(VARIANTS):
        top = p[:, i].argmax(1)
        acc = (top[known] == lab[known]).mean()
        bal = np.mean([(top[known & (lab == c)] == c).mean() for c in np.unique(lab[known])])
        flips = (top != ref.argmax(1)).mean()
        apart = np.median(np.abs(p[:, i] - ref).sum(1))
        print(f"| {variant} | {acc:.1%} | {bal:.1%} | {flips:.1%} | {apart:.3f} |")


if __name__ == "__main__":
    main()
