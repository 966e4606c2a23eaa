"""The dataset loaders read FER2013 and FER+ in every layout users hold, and say clearly
what is wrong with a broken one. The datasets are tiny copies written by the tests."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from training_helpers import (
    SIDE,
    VOTE_CASES,
    votes_for_label,
    write_ferplus_folders,
    write_kaggle_csv,
    write_kaggle_folders,
)

from emocam.training.data import (
    FER2013_CLASSES,
    FERPLUS_CLASSES,
    DataError,
    class_index,
    ferplus_argmax,
    ferplus_distribution,
    ferplus_majority,
    has_own_photos,
    is_own_data,
    load_dataset,
)

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
            w.writerow([usage, name, *votes_for_label(i % 8, i)])
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


def _zipped(folder: Path, zip_path: Path, wrap: str = "") -> Path:
    """``folder``'s files in a zip, under ``wrap/`` when given (as zipping the folder
    itself gives), with the folder entries an archiver writes."""
    with zipfile.ZipFile(zip_path, "w") as z:
        for p in sorted(folder.rglob("*")):
            name = str(Path(wrap) / p.relative_to(folder)) if wrap else str(p.relative_to(folder))
            z.write(p, name + "/" if p.is_dir() else name)
    return zip_path


@pytest.mark.parametrize("layout", ["ferplus", "kaggle-folders", "kaggle-csv"])
@pytest.mark.parametrize("wrap", ["", "FERPlus-master"])
def test_a_zip_of_the_dataset_reads_as_its_folder_does(tmp_path, layout, wrap):
    folder = tmp_path / "data"
    folder.mkdir()
    {"ferplus": write_ferplus_folders, "kaggle-folders": write_kaggle_folders,
     "kaggle-csv": lambda root: write_kaggle_csv(root / "fer2013.csv")}[layout](folder)
    zipped = _zipped(folder, tmp_path / "download.zip", wrap)
    from_folder = load_dataset(folder)
    from_zip = load_dataset(zipped)
    assert from_zip.layout == layout == from_folder.layout
    for name in ("train", "valid", "test"):
        a, b = getattr(from_folder, name), getattr(from_zip, name)
        assert len(b) > 0
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.targets, b.targets)


def test_a_zip_that_is_damaged_or_holds_no_dataset_is_one_sentence(tmp_path):
    cut = tmp_path / "ferplus.zip"
    _zipped(write_ferplus_folders(tmp_path / "data"), cut)
    cut.write_bytes(cut.read_bytes()[:100])  # a download cut short
    with pytest.raises(DataError) as e:
        load_dataset(cut)
    _one_sentence(e, str(cut), "not a zip archive", "download it again")
    other = tmp_path / "holiday.zip"
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.txt").write_text("hi")
    _zipped(tmp_path / "photos", other)
    with pytest.raises(DataError) as e:
        load_dataset(other)
    _one_sentence(e, "holiday.zip", "holds no dataset emocam knows")


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


def test_rows_of_an_unknown_usage_are_said_not_dropped_unsaid(tmp_path, caplog):
    write_kaggle_csv(tmp_path / "fer2013.csv")
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    for i in (1, 2):
        label, pixels, _ = lines[i].split(",")
        lines[i] = ",".join([label, pixels, "Trainig"])  # misspelt by hand
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with caplog.at_level("WARNING"):
        load_dataset(tmp_path)
    assert "2 rows with Usage 'Trainig' are left out" in caplog.text


def test_bad_label_names_the_file_and_row(tmp_path):
    write_kaggle_csv(tmp_path / "fer2013.csv")
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    lines[4] = "9" + lines[4][1:]
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    _one_sentence(e, "fer2013.csv row 5", "label 9")


def test_a_stray_quote_is_named_with_its_row(tmp_path):
    write_kaggle_csv(tmp_path / "fer2013.csv")
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    label, pixels, usage = lines[3].split(",")
    lines[3] = ",".join([label, '"' + pixels, usage])  # a quote opened, never closed
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    # It was "row 4: the pixels field holds something that is not a number".
    _one_sentence(e, "fer2013.csv row 4", "(\") in it is not closed")


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
    # Which split, and how its photos are told apart: by their names' prefix.
    _one_sentence(e, str(tmp_path), "no test images", "PrivateTest_*.jpg")


def test_class_folders_may_use_ferplus_names_any_case_beside_a_tools_hidden_folder(tmp_path):
    # A user's own photos in folders named as FER+ names them (or "Happy") were refused,
    # and so was a notebook's .ipynb_checkpoints beside them.
    write_kaggle_folders(tmp_path)
    expected = load_dataset(tmp_path)
    for part in ("train", "test"):
        for old, new in (("angry", "anger"), ("happy", "Happiness"), ("sad", "SAD")):
            if (tmp_path / part / old).is_dir():
                (tmp_path / part / old).rename(tmp_path / part / new)
        (tmp_path / part / ".ipynb_checkpoints").mkdir()
    renamed = load_dataset(tmp_path)
    for name in ("train", "valid", "test"):  # the same photos, read in another order
        assert sorted(getattr(renamed, name).labels) == sorted(getattr(expected, name).labels)


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
    # Decoding again would fail: the cache must answer without reading an image.
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("an image was decoded"))
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


def test_images_added_to_a_folder_dataset_are_read_not_served_from_the_old_cache(tmp_path):
    root = tmp_path / "kaggle"
    write_kaggle_folders(root)
    cache = tmp_path / "cache"
    before = load_dataset(root, cache_dir=cache)
    sad = root / "test" / "sad"
    (sad / "PrivateTest_10.jpg").write_bytes((sad / "PrivateTest_7.jpg").read_bytes())
    after = load_dataset(root, cache_dir=cache)
    # Before: the cache was keyed on the dataset's CSVs, and a folder release has none.
    assert len(after.test) == len(before.test) + 1


def test_a_damaged_cache_is_decoded_again_not_a_traceback(tmp_path):
    root = write_ferplus_folders(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_dataset(root, cache_dir=cache)
    (cached,) = cache.glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:200])  # cut short: a full disk, a killed run
    again = load_dataset(root, cache_dir=cache)  # was zipfile.BadZipFile
    np.testing.assert_array_equal(first.train.images, again.train.images)
    assert len(list(cache.glob("*.npz"))) == 1  # and cached again, whole


def test_an_emotion_name_finds_its_class_in_either_datasets_classes() -> None:
    # A 7-class FER2013 model scored on photos labelled with FER+ names (and the reverse):
    # each emotion lands on the same emotion, and contempt, which FER2013 lacks, on none.
    for ferplus_name in FERPLUS_CLASSES:
        index = class_index(ferplus_name, FER2013_CLASSES)
        if ferplus_name == "contempt":
            assert index is None
            continue
        assert index is not None
        fer2013_name = FER2013_CLASSES[index]
        assert ferplus_name.startswith(fer2013_name[:3])  # happiness/happy, anger/angry...
        assert FERPLUS_CLASSES[class_index(fer2013_name, FERPLUS_CLASSES)] == ferplus_name


@pytest.mark.parametrize("write", [
    lambda root, own: write_kaggle_folders(root, **({"train_name": "me_{}.jpg"} if own else {})),
    lambda root, own: write_ferplus_folders(root, **({"image_name": "me_{}.png"} if own else {})),
], ids=["FER2013's folders", "FER+'s folders"])
def test_your_photos_in_a_public_layout_are_told_from_the_public_set(tmp_path, write):
    # A model trained on them was carded as FER2013 (or FER+): its licence, its figures.
    write(tmp_path / "theirs", False)
    write(tmp_path / "mine", True)
    assert not has_own_photos(load_dataset(tmp_path / "theirs").description)
    assert is_own_data(load_dataset(tmp_path / "mine").description)


def test_fer2013_with_a_photo_of_your_own_added_is_both(tmp_path):
    # One photo of yours among FER2013's made the whole set "your photos": a card then left
    # out FER2013's research-only licence.
    write_kaggle_folders(tmp_path)
    shutil.copyfile(tmp_path / "train" / "happy" / "Training_1.jpg",
                    tmp_path / "train" / "happy" / "me_1.jpg")
    description = load_dataset(tmp_path).description
    assert description.startswith("FER2013") and has_own_photos(description)
    assert not is_own_data(description)


def test_your_folders_say_what_would_train_or_score_otherwise_than_you_think(tmp_path, caplog):
    # Each passed unsaid: a phone's .heic photos left out, a class with no photo (never
    # learnt), a test photo without its prefix, training photos among the test photos.
    write_kaggle_folders(tmp_path, train_name="me_{}.jpg")
    (tmp_path / "train" / "sad" / "IMG_2.heic").write_bytes(b"not read here")
    shutil.copyfile(tmp_path / "train" / "happy" / "me_1.jpg",
                    tmp_path / "test" / "happy" / "PrivateTest_me_1.jpg")
    shutil.copyfile(tmp_path / "test" / "sad" / "PrivateTest_7.jpg",
                    tmp_path / "test" / "sad" / "IMG_7.jpg")
    with caplog.at_level("WARNING"):
        load_dataset(tmp_path)
    said = caplog.text
    assert "left out 1 files that are not PNG, JPEG or BMP" in said and "IMG_2.heic" in said
    assert "no training photos of disgust, fear, surprise, neutral" in said
    assert "named neither PublicTest_ nor PrivateTest_ (test/sad/IMG_7.jpg)" in said
    assert "1 validation or test photos are also training photos" in said


def test_fer_plus_with_your_test_photos_alone_is_fer_plus_for_its_training_images(tmp_path):
    # Whose the training images are decides the licence; the test photos' names did too.
    write_ferplus_folders(tmp_path)
    test = tmp_path / "FER2013Test"
    rows = (test / "label.csv").read_text().replace("fer00000", "me_fer00000")
    for image in test.glob("fer*.png"):
        image.rename(test / f"me_{image.name}")
    (test / "label.csv").write_text(rows)
    assert not has_own_photos(load_dataset(tmp_path).description)
