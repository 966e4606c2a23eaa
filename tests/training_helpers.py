"""Helpers of the training tests: tiny FER2013 and FER+ datasets in their real layouts,
written from two real public-domain faces, and a look inside quantized models."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from skimage import data as skdata

SIDE = 48


def _faces() -> list[np.ndarray]:
    astronaut = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2GRAY)
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        buf = np.frombuffer(f.read(), np.uint8)
    hopper = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return [astronaut[30:230, 140:340], hopper[40:340, 90:390]]


def face_images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` different 48x48 crops of real faces (shifted, zoomed, mirrored)."""
    rng = np.random.default_rng(seed)
    faces = _faces()
    out = np.empty((n, SIDE, SIDE), np.uint8)
    for i in range(n):
        f = faces[i % 2]
        h, w = f.shape
        d = int(rng.integers(0, h // 8))
        crop = f[d : h - d // 2, d // 2 : w - d]
        img = cv2.resize(crop, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        out[i] = img[:, ::-1] if i % 4 >= 2 else img
    return out


# FER+ vote rows (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
# unknown, NF) with the majority label FER+'s protocol gives them by hand (-1: dropped).
VOTE_CASES = [
    ([0, 0, 0, 0, 2, 1, 0, 7, 0, 0], 7),  # the single disgust vote is dropped; 7 of 9
    ([3, 0, 0, 5, 0, 0, 0, 0, 2, 0], -1),  # 5 of 10 is not more than half
    ([6, 0, 1, 2, 0, 0, 0, 0, 1, 0], 0),  # singles dropped: 6 of 8
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], -1),  # every vote single: nothing left
    ([2, 0, 0, 0, 0, 0, 0, 0, 7, 1], -1),  # unknown wins
    ([0, 0, 0, 0, 0, 0, 0, 0, 3, 7], -1),  # not a face
    ([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], -1),  # a tie is no majority
    ([0, 10, 0, 0, 0, 0, 0, 0, 0, 0], 1),
    ([0, 0, 2, 0, 0, 0, 3, 0, 0, 0], 6),  # 3 of 5
]


def votes_for_label(label: int, i: int) -> list[int]:
    """A FER+ vote row whose majority is ``label``, with a runner-up that varies with ``i``."""
    v = [0] * 10
    v[label] = 8
    v[(label + 1 + i) % 8] = 2
    return v


def write_ferplus_folders(root: Path, n_train: int = 24, n_eval: int = 10,
                          image_name: str = "fer{:07d}.png") -> Path:
    """FER+'s own layout; each split's first rows are the hand-checked VOTE_CASES.
    ``image_name`` other than FER+'s makes them your photos."""
    imgs = face_images(n_train + 2 * n_eval)
    k = 0
    for part, n in (("FER2013Train", n_train), ("FER2013Valid", n_eval),
                    ("FER2013Test", n_eval)):
        folder = root / part
        folder.mkdir(parents=True)
        rows = []
        for i in range(n):
            name = image_name.format(k)
            cv2.imwrite(str(folder / name), imgs[k])
            votes = VOTE_CASES[i][0] if i < len(VOTE_CASES) else votes_for_label(i % 8, i)
            rows.append([name, "(0, 0, 48, 48)", *votes])
            k += 1
        with (folder / "label.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    return root


def write_kaggle_csv(path: Path, counts=(6, 3, 4)) -> tuple[np.ndarray, np.ndarray]:
    imgs = face_images(sum(counts), seed=1)
    labels = np.arange(sum(counts)) % 7
    usages = [u for u, c in zip(("Training", "PublicTest", "PrivateTest"), counts, strict=True)
              for _ in range(c)]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for img, lab, use in zip(imgs, labels, usages, strict=True):
            w.writerow([int(lab), " ".join(map(str, img.ravel())), use])
    return imgs, labels


def write_kaggle_folders(root: Path, train_name: str = "Training_{}.jpg") -> None:
    """FER2013's folder layout; ``train_name`` other than FER2013's makes them your photos."""
    imgs = face_images(10, seed=2)
    files = [(f"train/happy/{train_name.format(1)}", 0), (f"train/happy/{train_name.format(2)}", 1),
             (f"train/sad/{train_name.format(3)}", 2), (f"train/angry/{train_name.format(4)}", 3),
             ("test/happy/PublicTest_5.jpg", 4), ("test/neutral/PublicTest_6.jpg", 5),
             ("test/sad/PrivateTest_7.jpg", 6), ("test/surprise/PrivateTest_8.jpg", 7),
             ("test/happy/PrivateTest_9.jpg", 8)]
    for rel, i in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), imgs[i])
    (root / "train" / "disgust").mkdir()  # an empty class folder is fine


def int8_weight_range(data: bytes) -> int:
    """The largest magnitude among a quantized ONNX model's int8 weights."""
    onnx = pytest.importorskip("onnx")  # the train extra
    model = onnx.load_from_string(data)
    return max(
        int(abs(onnx.numpy_helper.to_array(t).astype(int)).max())
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.INT8
    )
