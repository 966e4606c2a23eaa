"""What a face's crop costs by its size in the frame: ``crop_faces`` for one face of each
side on a 3840x2160 gray frame, OpenCV on one thread, median of 300 calls.

    python benchmarks/crop_sizes.py

Large faces are warped to up to 16x the model's input and area-averaged down (so that the
crop does not alias); this prints what that costs against a face of 100 px.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from emocam.modelinfo import read_model_info
from emocam.preprocess import crop_faces, face_matrix, supersampling
from emocam.resources import resolve_model


def main() -> None:
    cv2.setNumThreads(1)
    spec = read_model_info(Path(resolve_model("ferplus-int8"))).crop
    gray = np.random.default_rng(0).integers(0, 255, (2160, 3840), dtype=np.uint8)
    print("| face side (px) | supersampling | crop (ms) |\n|---|---|---|")
    for side in (100, 200, 300, 450, 700, 1200):
        box = (1000.0, 300.0, float(side), float(side))
        times = []
        for _ in range(320):
            t = time.perf_counter()
            crop_faces(gray, [box], spec)
            times.append(time.perf_counter() - t)
        k = supersampling(face_matrix(box, spec))
        print(f"| {side} | {k}x | {statistics.median(times[20:]) * 1e3:.3f} |")


if __name__ == "__main__":
    main()
