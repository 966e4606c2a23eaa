"""How well the tracker's likeness tells a face that comes back from someone else.

    python benchmarks/track_likeness.py ../shared/data/mux-dev.zip

The tracker gives a lost face's id back only to a face that looks like it: the correlation
of their classifier crops shrunk to 24x24 (``emocam.track``). Each photo's largest face is
cropped six times as the pipeline crops it, its detector box jittered as a video's is from
frame to frame (side 5%, centre 2.5% of it, one sigma): five crops are the track, as its
last look or as the running mean it keeps, the sixth the face that comes back. Different
people are every pair of photos whose file names (``Name_0001.jpg``) name different people.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from crossdata import _data_root, person

from emocam.classify import EmotionClassifier
from emocam.detect import create_detector
from emocam.preprocess import crop_faces
from emocam.resources import default_model_path
from emocam.track import _look, _remembered

_CROPS = 6
_THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


def looks(root: Path, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Per photo with a face: its person, and ``_CROPS`` looks of its largest face."""
    rng = np.random.default_rng(seed)
    spec = EmotionClassifier(default_model_path()).info.crop
    detector = create_detector("mediapipe")
    names, out = [], []
    try:
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png")):
            image = cv2.imread(str(path))
            faces = detector.detect(image) if image is not None else []
            if not faces:
                continue
            face = max(faces, key=lambda d: d.box[2] * d.box[3])
            x, y, w, h = face.box
            boxes = []
            for _ in range(_CROPS):
                side = max(w, h) * (1 + rng.normal(0, 0.05))
                cx, cy = x + w / 2 + rng.normal(0, 0.025) * w, y + h / 2 + rng.normal(0, 0.025) * h
                boxes.append((cx - side / 2, cy - side / 2, side, side))
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            crops = crop_faces(gray, boxes, spec, [face.eyes] * _CROPS)
            names.append(person(path.name))
            out.append(np.stack([_look(c) for c in crops]))
    finally:
        detector.close()
    return names, np.stack(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path, help="folder or zip of photos named Name_0001.jpg")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        names, all_looks = looks(_data_root(args.data, Path(tmp)))
    back = all_looks[:, -1]
    last = all_looks[:, -2]
    kept = []
    for face in all_looks[:, :-1]:
        mean = None
        for look in face:
            mean = _remembered(mean, look)
        kept.append(mean)
    other = np.array(names)[:, None] != np.array(names)[None, :]
    print(f"{len(names)} faces of {len(set(names))} people")
    print("| likeness at least | same face, last look | same face, running mean "
          "| different people, last look | different people, running mean |")
    print("|---|---|---|---|---|")
    for th in _THRESHOLDS:
        cells = []
        for track in (last, np.stack(kept)):
            cells.append(np.mean(np.sum(track * back, axis=1) >= th))
        for track in (last, np.stack(kept)):
            cells.append(np.mean((track @ back.T)[other] >= th))
        print(f"| {th} | " + " | ".join(f"{100 * c:.2f}%" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
