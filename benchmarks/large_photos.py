"""Faces found, and false faces, in large photos: the detector as a photo's run drives it.

    python benchmarks/large_photos.py ../shared/data/mux-dev.zip [--photos DIR]

A photo of 12 megapixels or more is scanned by the full-range model in tile levels down to
small faces, and the finest tiles also see face-like details. This measures both sides:

- group photos made from real faces: photos of the labelled set with one face found whole
  inside them, pasted 12 to a 4032x3024 or 1920x1080 picture with that face at 20-110 px,
  on a blurred, dimmed enlargement of another photo of the set (its own face is not
  counted either way);
- photos of one person or of things, enlarged to 3000-8000 px (``skimage``'s astronaut, and
  its coffee, rocket and cat pictures), where every face beyond the astronaut's own is false.

Each picture goes through ``DetectionSchedule`` as a photo's first frame does in
``emocam process``. A face counts as found when a box overlaps it by IoU 0.3 or more; any
other box is a false face. ``--photos DIR`` also writes the pictures there (to look at).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from crossdata import _data_root
from skimage import data as skdata

from emocam.detect import create_detector
from emocam.geometry import iou
from emocam.schedule import DetectionSchedule
from emocam.types import Box

Picture = tuple[str, np.ndarray, list[Box]]  # group, image, its faces


def singles(root: Path, detector_scan: DetectionSchedule) -> list[tuple[np.ndarray, Box]]:
    """Photos of the set with exactly one face, found whole inside the photo, score > 0.6."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png")):
        image = cv2.imread(str(path))
        if image is None:
            continue
        detector_scan.reset()
        faces = detector_scan.detect(image, [], 0.0)
        if len(faces) != 1 or faces[0].score <= 0.6:
            continue
        x, y, w, h = faces[0].box
        if x >= 0 and y >= 0 and x + w <= image.shape[1] and y + h <= image.shape[0]:
            out.append((image, faces[0].box))
    return out


def group_photo(people: list[tuple[np.ndarray, Box]], size: tuple[int, int], side: int,
                first: int, seed: int) -> tuple[np.ndarray, list[Box]]:
    rng = random.Random(seed)
    width, height = size
    backdrop = people[rng.randrange(len(people))][0]
    picture = cv2.resize(cv2.GaussianBlur(backdrop, (0, 0), 3), size, interpolation=cv2.INTER_CUBIC)
    picture = picture // 2 + 60  # dimmed: the backdrop is scenery, not a face to count
    faces = []
    cols, rows = 4, 3
    cw, ch = width // cols, height // rows
    for i in range(cols * rows):
        image, (x, y, w, h) = people[(first + i) % len(people)]
        s = side / w
        small = cv2.resize(image, None, fx=s, fy=s,
                           interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)[:ch, :cw]
        ph, pw = small.shape[:2]
        ox = (i % cols) * cw + rng.randrange(max(1, cw - pw))
        oy = (i // cols) * ch + rng.randrange(max(1, ch - ph))
        picture[oy : oy + ph, ox : ox + pw] = small
        faces.append((ox + x * s, oy + y * s, w * s, h * s))
    return picture, faces


def pictures(root: Path, scan: DetectionSchedule) -> list[Picture]:
    people = singles(root, scan)
    print(f"{len(people)} photos of the set with one whole face", file=sys.stderr)
    out: list[Picture] = []
    for size, sides in (((4032, 3024), (20, 32, 48, 70, 110)), ((1920, 1080), (28, 40, 60))):
        for side in sides:
            for k in range(8):
                picture, faces = group_photo(people, size, side, 12 * k + side, 31 * k + side)
                out.append((f"{size[0]}x{size[1]}, faces of {side} px", picture, faces))
    astronaut = skdata.astronaut()[:, :, ::-1]
    scan.reset()
    (own,) = [d.box for d in scan.detect(np.ascontiguousarray(astronaut), [], 0.0)]
    for side in (3000, 4000, 6000, 8000):
        f = side / astronaut.shape[1]
        big = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_CUBIC)
        out.append(("one person, 3000-8000 px", big, [tuple(v * f for v in own)]))
    for name in ("coffee", "rocket", "chelsea"):  # no person: a cat's face is not a person's
        image = getattr(skdata, name)()[:, :, ::-1]
        f = 4032 / image.shape[1]
        big = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        out.append(("things, 4032 px wide", big, []))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="folder or zip of <label>/<photo> (mux-dev)")
    ap.add_argument("--photos", type=Path, help="also write the pictures to this folder")
    args = ap.parse_args(argv)
    scan = DetectionSchedule(create_detector("mediapipe"))
    with tempfile.TemporaryDirectory() as tmp:
        made = pictures(_data_root(args.data, Path(tmp)), scan)
    totals: dict[str, list[int]] = {}
    for i, (group, picture, faces) in enumerate(made):
        scan.reset()
        boxes = [d.box for d in scan.detect(picture, [], 0.0)]
        found = sum(any(iou(b, f) >= 0.3 for b in boxes) for f in faces)
        false = sum(not any(iou(b, f) >= 0.3 for f in faces) for b in boxes)
        t = totals.setdefault(group, [0, 0, 0, 0])
        t[0] += 1
        t[1] += found
        t[2] += len(faces)
        t[3] += false
        if args.photos:
            args.photos.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.photos / f"{i:03d}.jpg"), picture)
    print("| pictures | count | faces found | false faces |")
    print("|---|---|---|---|")
    for group, (n, found, faces, false) in totals.items():
        print(f"| {group} | {n} | {found} of {faces} | {false} |")
    scan.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
