"""The dataset loaders read FER2013 and FER+ in every layout users hold, and say clearly
what is wrong with a broken one. The datasets are tiny copies written by the tests."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from skimage import data as skdata

from emocam.training.data import (
    FER2013_CLASSES,
    FERPLUS_CLASSES,
    DataError,
    ferplus_argmax,
    ferplus_distribution,
    ferplus_majority,
    load_dataset,
)

SIDE = 48


# ---------------------------------------------------------------------------------------------
# Tiny datasets built from two real public-domain faces


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


def _votes_for_label(label: int, i: int) -> list[int]:
    v = [0] * 10
    v[label] = 8
    v[(label + 1 + i) % 8] = 2
    return v


def write_ferplus_folders(root: Path, n_train: int = 24, n_eval: int = 10) -> Path:
    """FER+'s own layout; each split's first rows are the hand-checked VOTE_CASES."""
    imgs = face_images(n_train + 2 * n_eval)
    k = 0
    for part, n in (("FER2013Train", n_train), ("FER2013Valid", n_eval),
                    ("FER2013Test", n_eval)):
        folder = root / part
        folder.mkdir(parents=True)
        rows = []
        for i in range(n):
            name = f"fer{k:07d}.png"
            cv2.imwrite(str(folder / name), imgs[k])
            votes = VOTE_CASES[i][0] if i < len(VOTE_CASES) else _votes_for_label(i % 8, i)
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


def write_kaggle_folders(root: Path) -> None:
    imgs = face_images(10, seed=2)
    files = [("train/happy/Training_1.jpg", 0), ("train/happy/Training_2.jpg", 1),
             ("train/sad/Training_3.jpg", 2), ("train/angry/Training_4.jpg", 3),
             ("test/happy/PublicTest_5.jpg", 4), ("test/neutral/PublicTest_6.jpg", 5),
             ("test/sad/PrivateTest_7.jpg", 6), ("test/surprise/PrivateTest_8.jpg", 7),
             ("test/happy/PrivateTest_9.jpg", 8)]
    for rel, i in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), imgs[i])
    (root / "train" / "disgust").mkdir()  # an empty class folder is fine


# ---------------------------------------------------------------------------------------------
# Loading each layout


def test_kaggle_csv_loads_the_canonical_splits_with_their_labels(tmp_path):
    imgs, labels = write_kaggle_csv(tmp_path / "fer2013.csv")
    ds = load_dataset(tmp_path)
    assert ds.layout == "kaggle-csv" and ds.class_names == FER2013_CLASSES
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (6, 3, 4)
    np.testing.assert_array_equal(ds.train.images, imgs[:6])
    np.testing.assert_array_equal(ds.test.labels, labels[9:])
    np.testing.assert_array_equal(ds.valid.targets.argmax(1), labels[6:9])


def test_kaggle_folders_split_test_into_public_and_private(tmp_path):
    write_kaggle_folders(tmp_path)
    ds = load_dataset(tmp_path)
    assert ds.layout == "kaggle-folders"
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (4, 2, 3)
    idx = FER2013_CLASSES.index
    assert sorted(ds.train.labels) == sorted([idx("happy"), idx("happy"), idx("sad"),
                                              idx("angry")])
    assert sorted(ds.valid.labels) == sorted([idx("happy"), idx("neutral")])
    assert sorted(ds.test.labels) == sorted([idx("sad"), idx("surprise"), idx("happy")])
    assert ds.test.images.shape == (3, SIDE, SIDE) and ds.test.images.dtype == np.uint8


def test_ferplus_folders_keep_every_eval_image_and_drop_unlabelled_training_images(tmp_path):
    write_ferplus_folders(tmp_path, n_train=24, n_eval=12)
    ds = load_dataset(tmp_path, "majority")
    assert ds.class_names == FERPLUS_CLASSES and ds.label_mode == "majority"
    dropped = sum(1 for _, lab in VOTE_CASES if lab < 0)
    assert len(ds.train) == 24 - dropped
    assert len(ds.test) == 12 and len(ds.valid) == 12  # all kept, with -1 where dropped
    expected = [lab for _, lab in VOTE_CASES] + [i % 8 for i in range(len(VOTE_CASES), 12)]
    np.testing.assert_array_equal(ds.test.labels, expected)
    assert ds.test.votes.shape == (12, 10)
    np.testing.assert_array_equal(ds.test.images[0], cv2.imread(
        str(tmp_path / "FER2013Test" / "fer0000036.png"), cv2.IMREAD_GRAYSCALE))


def test_ferplus_distribution_mode_trains_on_vote_shares(tmp_path):
    write_ferplus_folders(tmp_path, n_train=24, n_eval=12)
    ds = load_dataset(tmp_path)  # auto: distribution for FER+
    assert ds.label_mode == "distribution"
    np.testing.assert_allclose(ds.train.targets.sum(1), 1.0, atol=1e-6)
    # The 5-of-10 sadness row has no majority but a usable distribution.
    assert len(ds.train) > len(load_dataset(tmp_path, "majority").train)


def test_ferplus_csv_pair_reads_the_same_votes_and_skips_dropped_rows(tmp_path):
    imgs, _ = write_kaggle_csv(tmp_path / "fer2013.csv", counts=(10, 3, 4))
    names = ["Training"] * 10 + ["PublicTest"] * 3 + ["PrivateTest"] * 4
    with (tmp_path / "fer2013new.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Usage", "Image name", *FERPLUS_CLASSES, "unknown", "NF"])
        for i, usage in enumerate(names):
            name = "" if i == 11 else f"fer{i:07d}.png"  # FER+ dropped row 11
            w.writerow([usage, name, *_votes_for_label(i % 8, i)])
    ds = load_dataset(tmp_path, "majority")
    assert ds.layout == "ferplus" and ds.class_names == FERPLUS_CLASSES
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (10, 2, 4)
    np.testing.assert_array_equal(ds.valid.images, imgs[[10, 12]])
    np.testing.assert_array_equal(ds.test.labels, [13 % 8, 14 % 8, 15 % 8, 16 % 8])


@pytest.mark.parametrize(("votes", "label"), VOTE_CASES)
def test_majority_vote_matches_ferplus_protocol_by_hand(votes, label):
    assert ferplus_majority(np.array(votes)) == label


def test_argmax_of_votes_keeps_ambiguous_images_and_drops_unknown():
    assert ferplus_argmax(np.array([3, 0, 0, 5, 0, 0, 0, 0, 2, 0])) == 3
    assert ferplus_argmax(np.array([2, 0, 0, 0, 0, 0, 0, 0, 7, 1])) == -1
    d = ferplus_distribution(np.array([6, 0, 1, 2, 0, 0, 0, 0, 1, 0]))
    np.testing.assert_allclose(d, [0.75, 0, 0, 0.25, 0, 0, 0, 0])


# ---------------------------------------------------------------------------------------------
# Broken datasets


def _one_sentence(err: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith(".")
    for part in parts:
        assert part in msg, msg


def test_wrong_pixel_count_names_the_file_and_row(tmp_path):
    write_kaggle_csv(tmp_path / "fer2013.csv")
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    label, pixels, usage = lines[2].split(",")
    lines[2] = ",".join([label, " ".join(pixels.split()[:-5]), usage])
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, "fer2013.csv row 3", "2299 values")


def test_bad_label_names_the_file_and_row(tmp_path):
    write_kaggle_csv(tmp_path / "fer2013.csv")
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    lines[4] = "9" + lines[4][1:]
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, "fer2013.csv row 5", "label 9")


def test_missing_label_csv_names_the_file(tmp_path):
    write_ferplus_folders(tmp_path)
    (tmp_path / "FER2013Valid" / "label.csv").unlink()
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, str(tmp_path / "FER2013Valid" / "label.csv"), "missing")


def test_bad_vote_row_names_the_file_and_row(tmp_path):
    write_ferplus_folders(tmp_path)
    p = tmp_path / "FER2013Test" / "label.csv"
    lines = p.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, str(p), "row 4")


def test_empty_folder_is_not_a_dataset(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, str(tmp_path), "fer2013.csv")


def test_kaggle_folders_without_test_images_say_which_split(tmp_path):
    write_kaggle_folders(tmp_path)
    for p in (tmp_path / "test").rglob("PrivateTest_*"):
        p.unlink()
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, str(tmp_path), "test split")


def test_unknown_layout_and_wrong_label_mode_are_refused(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, str(tmp_path), "no dataset")
    write_kaggle_csv(tmp_path / "fer2013.csv")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path, "majority")
    _one_sentence(e, "label mode fer2013")


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path / "nowhere")
    _one_sentence(e, "nowhere", "does not exist")


# ---------------------------------------------------------------------------------------------
# Cache


def test_second_load_comes_from_the_cache_with_equal_arrays(tmp_path, monkeypatch):
    root = write_ferplus_folders(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_dataset(root, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1
    calls = []
    real_load = np.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", recording_load)
    # Decoding again would fail: the cache must answer without touching the images.
    for png in root.rglob("*.png"):
        png.write_bytes(b"not an image")
    second = load_dataset(root, cache_dir=cache)
    assert calls and all(c.get("allow_pickle") is False for c in calls)
    assert second.class_names == first.class_names and second.label_mode == first.label_mode
    for name in ("train", "valid", "test"):
        a, b = getattr(first, name), getattr(second, name)
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.targets, b.targets)
        np.testing.assert_array_equal(a.labels, b.labels)
        if a.votes is not None:
            np.testing.assert_array_equal(a.votes, b.votes)
