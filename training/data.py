"""Reading FER2013 and FER+ in the three layouts people hold, with an npz cache.

Layouts (detected from what is on disk, or inside a ``.zip`` of it, read in place):
- ``kaggle-csv``: ``fer2013.csv`` with ``emotion,pixels,Usage`` rows.
- ``kaggle-folders``: ``train/<class>/*.jpg`` and ``test/<class>/*``; the ``PublicTest_`` and
  ``PrivateTest_`` prefixes in ``test/`` give the canonical validation and test splits.
- ``ferplus``: ``FER2013Train|Valid|Test/`` with ``label.csv`` vote counts, or
  ``fer2013.csv`` beside ``fer2013new.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from emocam.atomic import replacing
from emocam.errors import UserError
from emocam.training.pack import PACK_SUFFIX, SPLITS, RawDataset, RawSplit, pack_family, read_pack

log = logging.getLogger(__name__)

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FERPLUS_CLASSES = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)
# FER2013's name for each FER+ emotion; FER+'s contempt has no FER2013 counterpart.
FERPLUS_TO_FER2013 = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise",
                      "sadness": "sad", "anger": "angry", "disgust": "disgust", "fear": "fear"}
FERPLUS_VOTE_COLUMNS = 10  # 8 emotions, unknown, not-a-face
# Names the Kaggle folder release uses, in FER2013's label order.
KAGGLE_FOLDER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
IMAGE_SIDE = 48
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
# 3: photos in FER2013's folder layout told from FER2013 itself; 4: and FER2013 with some
# of yours added (a cache of 3 named such a set yours alone, dropping FER2013's licence)
CACHE_VERSION = 4
# Photos laid out as FER2013's folders are FER2013 only when they carry its file names: a
# card must not give a user's own photos FER2013's licence and published figures.
OWN_PHOTOS = "Your photos"
WITH_OWN = "with your photos"  # FER2013 or FER+ with some photos of the user's own added
_FER2013_FILE = re.compile(r"Training_\d+\.jpg")
_FERPLUS_FILE = re.compile(r"fer\d{7}\.png")

# A folder on disk, or one inside a dataset's zip: both walk and open alike.
Where = Path | zipfile.Path


def class_index(name: str, class_names: Sequence[str]) -> int | None:
    """Where the emotion ``name`` (a FER+ or FER2013 name) sits in ``class_names``.

    None when those classes lack it, as FER2013's lack contempt.
    """
    for candidate in (name, FERPLUS_TO_FER2013.get(name),
                      next((k for k, v in FERPLUS_TO_FER2013.items() if v == name), None)):
        if candidate in class_names:
            return list(class_names).index(candidate)
    return None


class DataError(UserError):
    """The dataset is missing, in an unknown layout, or has a bad file or row."""


@dataclass
class Split:
    images: np.ndarray  # (N, 48, 48) uint8
    targets: np.ndarray  # (N, C) float32 rows summing to 1 (one-hot or vote distribution)
    labels: np.ndarray  # (N,) int64 evaluation label (FER+ majority vote; -1: none)
    votes: np.ndarray | None = None  # (N, 10) raw FER+ vote counts, for other protocols

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Dataset:
    class_names: tuple[str, ...]
    train: Split
    valid: Split
    test: Split
    layout: str
    label_mode: str
    description: str


# ---------------------------------------------------------------------------------------------
# FER+ label protocols


def ferplus_clean_votes(votes: np.ndarray) -> np.ndarray:
    """Votes with single votes zeroed: FER+'s reference code treats them as annotator noise."""
    v = np.asarray(votes, dtype=np.float32).copy()
    v[v <= 1.0] = 0.0
    return v


def ferplus_majority(votes: np.ndarray) -> int:
    """Majority-vote label as FER+'s reference code defines it, or -1 to drop the image.

    After dropping single votes, one column must hold more than half of the remaining
    votes; if that column is unknown or not-a-face the image is dropped too.
    """
    v = ferplus_clean_votes(votes)
    total = v.sum()
    if total <= 0:
        return -1
    top = int(np.argmax(v))
    if v[top] <= 0.5 * total or top >= len(FERPLUS_CLASSES):
        return -1
    return top


def ferplus_argmax(votes: np.ndarray) -> int:
    """Plain argmax of the raw votes, -1 when unknown or not-a-face wins."""
    top = int(np.argmax(np.asarray(votes)))
    return top if top < len(FERPLUS_CLASSES) else -1


def ferplus_distribution(votes: np.ndarray) -> np.ndarray | None:
    """Vote distribution over the 8 emotions for PD training, or None to drop the image."""
    v = ferplus_clean_votes(votes)
    if v.sum() <= 0 or int(np.argmax(v)) >= len(FERPLUS_CLASSES):
        return None
    e = v[: len(FERPLUS_CLASSES)]
    return e / e.sum()


def _ferplus_eval_split(images: np.ndarray, votes: np.ndarray) -> Split:
    """Every image with its majority label (-1 where FER+'s protocol drops it) and votes."""
    labels = np.array([ferplus_majority(v) for v in votes], dtype=np.int64)
    n = len(FERPLUS_CLASSES)
    targets = np.zeros((len(labels), n), dtype=np.float32)
    ok = labels >= 0
    targets[ok] = np.eye(n, dtype=np.float32)[labels[ok]]
    return Split(images, targets, labels, votes.astype(np.float32))


def _ferplus_split(images: np.ndarray, votes: np.ndarray, mode: str, where: str) -> Split:
    keep_img, targets, labels = [], [], []
    n = len(FERPLUS_CLASSES)
    for img, v in zip(images, votes, strict=True):
        mv = ferplus_majority(v)
        if mode == "majority":
            if mv < 0:
                continue
            t = np.eye(n, dtype=np.float32)[mv]
        else:
            d = ferplus_distribution(v)
            if d is None:
                continue
            t = d.astype(np.float32)
            if mv < 0:
                mv = int(np.argmax(t))
        keep_img.append(img)
        targets.append(t)
        labels.append(mv)
    if not keep_img:
        raise DataError(f"{where} has no image with a usable FER+ label (an emotion needs "
                        "two votes or more).")
    return Split(np.stack(keep_img), np.stack(targets), np.asarray(labels, dtype=np.int64))



# ---------------------------------------------------------------------------------------------
# Decoding


def _decode_image(path: Where) -> np.ndarray:
    # Bytes, then decoded: the same for a file in a zip and for a path imread cannot open
    # (Windows and a name outside the ANSI code page).
    try:
        data = path.read_bytes()
    except (OSError, zipfile.BadZipFile, zlib.error, RuntimeError) as e:
        # RuntimeError: an encrypted member; the others a damaged file or zip member.
        raise DataError(f"{path} cannot be read ({getattr(e, 'strerror', None) or e}).") from e
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
    if img is None:
        raise DataError(f"{path} is not a readable image; remove it or replace it.")
    if img.shape != (IMAGE_SIDE, IMAGE_SIDE):
        img = cv2.resize(img, (IMAGE_SIDE, IMAGE_SIDE), interpolation=cv2.INTER_AREA)
    return img


def _parse_pixels(text: str, where: str) -> np.ndarray:
    if "\n" in text:
        # A stray quote makes the csv module read the lines after it into this field; its
        # numbers then were "something that is not a number", which hid the quote.
        raise DataError(f"{where}: a quote (\") in it is not closed, so the lines after it "
                        "were read as its pixels; remove the quote.")
    try:
        px = np.array(text.split(), dtype=np.int64)
    except ValueError as e:
        raise DataError(f"{where}: the pixels field holds something that is not a number.") from e
    if px.size != IMAGE_SIDE * IMAGE_SIDE:
        raise DataError(
            f"{where}: the pixels field has {px.size} values, expected "
            f"{IMAGE_SIDE * IMAGE_SIDE} (48x48)."
        )
    if px.min() < 0 or px.max() > 255:
        raise DataError(f"{where}: a pixel value is outside 0..255.")
    return px.astype(np.uint8).reshape(IMAGE_SIDE, IMAGE_SIDE)


@contextmanager
def _open_csv(path: Where) -> Iterator[TextIO]:
    """Open a dataset CSV; a file that is not text, not CSV or not readable becomes one
    ``DataError`` naming it (and the line, when known) instead of a decoder's exception."""
    line: list[int] = [0]
    try:
        # utf-8-sig: a spreadsheet's byte-order mark must not hide the header.
        with path.open(newline="", encoding="utf-8-sig") as f:
            yield _LineCounting(f, line)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} line {line[0] or 1} is not UTF-8 text; it is not a CSV of the dataset."
        ) from e
    except csv.Error as e:
        raise DataError(f"{path} line {line[0] or 1} is not valid CSV ({e}).") from e
    except (OSError, zipfile.BadZipFile, zlib.error, RuntimeError) as e:
        raise DataError(f"{path} cannot be read ({getattr(e, 'strerror', None) or e}).") from e


class _LineCounting:
    """A text file that counts the lines handed to the csv module, for error messages."""

    def __init__(self, f: TextIO, line: list[int]):
        self._f, self._line = f, line

    def __iter__(self) -> _LineCounting:
        return self

    def __next__(self) -> str:
        text = next(self._f)
        self._line[0] += 1
        return text


def _read_kaggle_rows(path: Where) -> list[tuple[str, np.ndarray, int]]:
    """``(Usage, image, label)`` for every row of ``fer2013.csv``, in file order."""
    rows: list[tuple[str, np.ndarray, int]] = []
    with _open_csv(path) as f:
        reader = csv.DictReader(f)
        need = {"emotion", "pixels", "Usage"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DataError(f"{path} lacks the header emotion,pixels,Usage of fer2013.csv.")
        for i, row in enumerate(reader, start=2):
            where = f"{path} row {i}"
            try:
                label = int(row["emotion"])
            except (TypeError, ValueError) as e:
                raise DataError(f"{where}: the emotion label {row['emotion']!r} is not 0-6.") from e
            if not 0 <= label < len(FER2013_CLASSES):
                raise DataError(f"{where}: the emotion label {label} is not 0-6.")
            rows.append((row["Usage"] or "", _parse_pixels(row["pixels"] or "", where), label))
    return rows


def _read_kaggle_csv(path: Where) -> dict[str, tuple[list[np.ndarray], list[int]]]:
    """Rows of ``fer2013.csv`` grouped by Usage, in file order."""
    out: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    for usage, img, label in _read_kaggle_rows(path):
        imgs, labels = out.setdefault(usage, ([], []))
        imgs.append(img)
        labels.append(label)
    return out


def _raw_split(images: list[np.ndarray], where: str, *, votes: list[np.ndarray] | None = None,
               labels: list[int] | None = None) -> RawSplit:
    if not images:
        raise DataError(f"{where} holds no images.")
    return RawSplit(np.stack(images),
                    None if votes is None else np.stack(votes).astype(np.float32),
                    None if labels is None else np.asarray(labels, dtype=np.int64))


def raw_kaggle_csv(path: Where) -> RawDataset:
    groups = _read_kaggle_csv(path)
    known = ("Training", "PublicTest", "PrivateTest")
    for usage in sorted(set(groups) - set(known)):
        # A misspelt or empty Usage would otherwise shrink a split unsaid.
        log.warning("%s: %d rows with Usage %r are left out (Usage must be one of %s).",
                    path, len(groups[usage][1]), usage, ", ".join(known))
    splits = {}
    for name, usage in (("train", "Training"), ("valid", "PublicTest"), ("test", "PrivateTest")):
        imgs, labels = groups.get(usage, ([], []))
        splits[name] = _raw_split(imgs, f"{path} ({usage} rows)", labels=labels)
    return RawDataset(FER2013_CLASSES, "fer2013", f"FER2013 from {path}", splits)


def raw_kaggle_folders(root: Where) -> RawDataset:
    groups: dict[str, tuple[list[np.ndarray], list[int]]] = {
        "train": ([], []), "valid": ([], []), "test": ([], []),
    }
    public: list[bool] = []  # each training image: named as FER2013's are
    other_files: list[str] = []  # left out: not a kind of image read here (a phone's .heic)
    unprefixed: list[str] = []  # test photos named neither PublicTest_ nor PrivateTest_
    for part in ("train", "test"):
        folder = root / part
        # Hidden folders are a tool's (.ipynb_checkpoints), not a class.
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()
                       and not p.name.startswith((".", "__")))
        unknown = [c for c in names if _folder_class(c) is None]
        if unknown:
            raise DataError(
                f"{folder} has class folder(s) {', '.join(unknown)}; expected "
                f"{', '.join(KAGGLE_FOLDER_CLASSES)} (or FER+'s names for them: anger, "
                "happiness, sadness; FER2013 has no contempt: for it, lay the photos out as "
                "FER+'s folders)."
            )
        for cls in names:
            label = _folder_class(cls)
            assert label is not None
            for p in sorted((folder / cls).iterdir(), key=lambda p: p.name):
                if Path(p.name).suffix.lower() not in IMAGE_SUFFIXES:
                    if not p.name.startswith("."):  # a tool's (.DS_Store), not a photo
                        other_files.append(f"{part}/{cls}/{p.name}")
                    continue
                if part == "train":
                    key = "train"
                elif p.name.startswith("PublicTest_"):
                    key = "valid"
                else:
                    key = "test"
                    if not p.name.startswith("PrivateTest_"):
                        unprefixed.append(f"{part}/{cls}/{p.name}")
                groups[key][0].append(_decode_image(p))
                groups[key][1].append(label)
                if part == "train":  # the test photos' names are the layout's, whoever's
                    public.append(bool(_FER2013_FILE.fullmatch(p.name)))
    top = str(root).rstrip("/")  # a folder in a zip is named with a slash at its end
    where = {"train": f"{top}/train/CLASS/*.jpg", "valid": f"{top}/test/CLASS/PublicTest_*.jpg",
             "test": f"{top}/test/CLASS/PrivateTest_*.jpg"}
    for k in ("valid", "test"):
        if not groups[k][0]:
            # "holds no images" sent people looking for photos that were there, named
            # otherwise: the split is told by the file name's prefix.
            raise DataError(f"{root} has no {k} images: in this layout they are {where[k]} "
                            "(the validation photos choose the checkpoint, the test photos "
                            "are scored once).")
    splits = {k: _raw_split(groups[k][0], f"{root} ({k} split)", labels=groups[k][1])
              for k in ("train", "valid", "test")}
    _say_what_the_folders_hold(root, splits, other_files, unprefixed, public)
    name = _named("FER2013", "(Kaggle folders)", "(FER2013's folder layout)", public)
    return RawDataset(FER2013_CLASSES, "fer2013", f"{name} from {root}", splits)


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _say_what_the_folders_hold(root: Where, splits: dict[str, RawSplit], other_files: list[str],
                               unprefixed: list[str], public: list[bool]) -> None:
    """What a user's own folders hold that trains or scores otherwise than they think: each
    of these passed unsaid (photos left out, a class never learnt, training photos scored as
    test photos, which overstates the model). ``public``: each training image, whether it is
    FER2013's; FER2013's own overlaps between its splits are the benchmark's, not said."""
    if other_files:
        log.warning("%s: left out %d files that are not PNG, JPEG or BMP images (%s); convert "
                    "them to JPEG to use them", root, len(other_files), _some(other_files))
    train = splits["train"]
    empty = [FER2013_CLASSES[c] for c in range(len(FER2013_CLASSES))
             if train.labels is not None and not (train.labels == c).any()]
    if empty:
        log.warning("%s: no training photos of %s; the model will not learn %s", root,
                    ", ".join(empty), "them" if len(empty) > 1 else "it")
    if unprefixed:
        log.warning("%s: %d photos in test/ are named neither PublicTest_ nor PrivateTest_ "
                    "(%s); they are scored as test photos", root, len(unprefixed),
                    _some(unprefixed))
    # Your own training photos only: FER2013's overlaps are the benchmark's, not yours.
    seen = {hashlib.sha1(im.tobytes()).digest()
            for im, theirs in zip(train.images, public, strict=True) if not theirs}
    if not seen:
        return
    again = sum(hashlib.sha1(im.tobytes()).digest() in seen
                for k in ("valid", "test") for im in splits[k].images)
    if again:
        log.warning("%s: %d validation or test photos are also training photos; their figures "
                    "overstate the model", root, again)


def _named(dataset: str, layout: str, own_layout: str, public: list[bool]) -> str:
    """The public set's name where every image carries its names, your photos where none
    does, and the set "with your photos" where some do (its licence still holds for them)."""
    if all(public):
        return f"{dataset} {layout}"
    if not any(public):
        return f"{OWN_PHOTOS} {own_layout}"
    return f"{dataset} {WITH_OWN} {layout}"


def is_own_data(description: str) -> bool:
    """Whether a dataset's description names a user's own photos alone, not FER2013 or FER+
    (nor one of them with photos of the user's added: ``has_own_photos``)."""
    return description.startswith(OWN_PHOTOS)


def data_name(description: str) -> str:
    """A dataset's name alone ("FER+", "Your photos", "FER2013 with your photos"), as a model
    records what it was trained and scored on."""
    return description.split(" (")[0].split(" from ")[0]


def has_own_photos(description: str) -> bool:
    """Whether any of a dataset's images are the user's own."""
    return is_own_data(description) or WITH_OWN in description


def _folder_class(name: str) -> int | None:
    """The FER2013 label of a class folder: its Kaggle name or FER+'s name for the same
    emotion, in any case."""
    key = name.lower()
    key = FERPLUS_TO_FER2013.get(key, key)
    return KAGGLE_FOLDER_CLASSES.index(key) if key in KAGGLE_FOLDER_CLASSES else None


def _read_label_csv(path: Where) -> list[tuple[int, str, np.ndarray]]:
    """``(row number, image name, votes)`` for every row of a FER+ ``label.csv``."""
    rows = []
    with _open_csv(path) as f:
        for i, row in enumerate(csv.reader(f), start=1):
            if not row:
                continue
            if len(row) != 2 + FERPLUS_VOTE_COLUMNS:
                raise DataError(
                    f"{path} row {i} has {len(row)} fields; expected image name, box and "
                    f"{FERPLUS_VOTE_COLUMNS} vote counts."
                )
            try:
                votes = np.array([float(v) for v in row[2:]], dtype=np.float32)
            except ValueError as e:
                first = " (label.csv has no header line)" if i == 1 else ""
                raise DataError(f"{path} row {i}: a vote count is not a number{first}.") from e
            if (votes < 0).any():
                raise DataError(f"{path} row {i}: a vote count is negative.")
            rows.append((i, row[0], votes))
    return rows


def raw_ferplus_folders(root: Where) -> RawDataset:
    splits = {}
    public: list[bool] = []  # each training image: named as FER+'s are
    for name, part in (("train", "FER2013Train"), ("valid", "FER2013Valid"),
                       ("test", "FER2013Test")):
        folder = root / part
        label_csv = folder / "label.csv"
        if not label_csv.is_file():
            raise DataError(f"{label_csv} is missing; FER+ folders need their label.csv.")
        rows = _read_label_csv(label_csv)
        images = []
        for i, image_name, _ in rows:
            if name == "train":  # as in FER2013's layout: the training images decide
                public.append(bool(_FERPLUS_FILE.fullmatch(image_name)))
            p = folder / image_name
            if not p.is_file():
                raise DataError(
                    f"{label_csv} row {i} names {image_name}, which is not in {folder}.")
            images.append(_decode_image(p))
        if not images:
            raise DataError(f"{label_csv} lists no images.")
        splits[name] = _raw_split(images, str(folder), votes=[v for _, _, v in rows])
    name = _named("FER+", "", "(FER+'s folder layout)", public).rstrip()
    return RawDataset(FERPLUS_CLASSES, "ferplus", f"{name} from {root}", splits)


def raw_ferplus_csv(fer_csv: Where, new_csv: Where) -> RawDataset:
    if not fer_csv.is_file():
        raise DataError(f"{fer_csv} is missing; fer2013new.csv needs the fer2013.csv beside it.")
    rows = _read_kaggle_rows(fer_csv)
    usage_rows: list[tuple[str, np.ndarray]] = []
    with _open_csv(new_csv) as f:
        reader = csv.reader(f)
        next(reader, None)
        for i, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2 + FERPLUS_VOTE_COLUMNS:
                raise DataError(f"{new_csv} row {i} has {len(row)} fields; expected 12.")
            try:
                votes = np.array([float(v) for v in row[2:]], dtype=np.float32)
            except ValueError as e:
                raise DataError(f"{new_csv} row {i}: a vote count is not a number.") from e
            if (votes < 0).any():
                raise DataError(f"{new_csv} row {i}: a vote count is negative.")
            # FER+ left the image name empty for rows it dropped.
            usage_rows.append((row[0] if row[1] else "", votes))
    # fer2013new.csv lists the rows of fer2013.csv in the same order.
    if len(rows) != len(usage_rows):
        raise DataError(
            f"{new_csv} has {len(usage_rows)} rows but {fer_csv} has {len(rows)}; "
            "they must describe the same images."
        )
    for i, ((usage, _), (fer_usage, _, _)) in enumerate(zip(usage_rows, rows, strict=True)):
        if usage and usage != fer_usage:
            raise DataError(
                f"{new_csv} row {i + 2} says {usage} but {fer_csv} row {i + 2} says "
                f"{fer_usage}; the two files must be in the same order."
            )
    splits = {}
    for name, usage in (("train", "Training"), ("valid", "PublicTest"), ("test", "PrivateTest")):
        idx = [i for i, (u, _) in enumerate(usage_rows) if u == usage]
        if not idx:
            raise DataError(f"{new_csv} has no usable {usage} rows.")
        splits[name] = _raw_split([rows[i][1] for i in idx], f"{new_csv} ({usage})",
                                  votes=[usage_rows[i][1] for i in idx])
    return RawDataset(FERPLUS_CLASSES, "ferplus", f"FER+ from {new_csv}", splits)


def _empty_split(n_classes: int, side: int = IMAGE_SIDE) -> Split:
    return Split(np.zeros((0, side, side), np.uint8), np.zeros((0, n_classes), np.float32),
                 np.zeros(0, np.int64))


def dataset_from_raw(raw: RawDataset, mode: str, layout: str) -> Dataset:
    """Apply a label protocol: FER2013 one-hot labels, or FER+ majority / distribution.

    A split a pack leaves out (e.g. test, to keep a transfer small) comes back empty."""
    n = len(raw.class_names)
    parts = []
    for name in SPLITS:
        s = raw.splits.get(name)
        if s is None or len(s) == 0:
            if name == "train":
                raise DataError(f"{raw.description} has no training images.")
            parts.append(_empty_split(n))
        elif raw.layout == "ferplus":
            if s.votes is None:
                raise DataError(f"{raw.description}: the {name} split has no FER+ votes.")
            if name == "train":
                parts.append(_ferplus_split(s.images, s.votes, mode, raw.description))
            else:
                parts.append(_ferplus_eval_split(s.images, s.votes))
        else:
            if s.labels is None:
                raise DataError(f"{raw.description}: the {name} split has no labels.")
            parts.append(Split(s.images, np.eye(n, dtype=np.float32)[s.labels], s.labels))
    label_mode = mode if raw.layout == "ferplus" else "fer2013"
    # "FER+ (distribution) from ...": the label mode after the data's name, which a card
    # takes up to the first bracket ("FER+ with your photos" kept whole).
    desc = (raw.description.replace(" from ", f" ({mode}) from ", 1)
            if raw.description.startswith("FER+") else raw.description)
    return Dataset(raw.class_names, *parts, layout, label_mode, desc)


# ---------------------------------------------------------------------------------------------
# Detection and caching


def detect_layout(root: Path) -> str:
    if not root.exists():
        raise DataError(f"{root} does not exist; give the folder that holds the dataset.")
    if root.is_file():
        if root.suffix.lower() == PACK_SUFFIX:
            return f"{pack_family(root)}-pack"
        if root.suffix.lower() == ".csv":
            return "ferplus-csv" if (root.parent / "fer2013new.csv").is_file() else "kaggle-csv"
        if root.suffix.lower() == ".zip":
            with _opened(root) as where:
                return _folder_layout(where)
        raise DataError(f"{root} is a file but neither fer2013.csv, a {PACK_SUFFIX} pack nor a "
                        ".zip of the dataset; give the folder that holds the dataset.")
    return _folder_layout(root)


def _folder_layout(root: Where) -> str:
    if (root / "FER2013Train").is_dir():
        return "ferplus"
    if (root / "fer2013.csv").is_file() and (root / "fer2013new.csv").is_file():
        return "ferplus-csv"
    if (root / "fer2013.csv").is_file():
        return "kaggle-csv"
    if (root / "train").is_dir() and (root / "test").is_dir():
        return "kaggle-folders"
    raise DataError(
        f"{root} holds no dataset emocam knows: expected fer2013.csv, train/ and test/ class "
        "folders, or FER+'s FER2013Train/ Valid/ Test/ folders."
    )


def _zip_root(path: Path) -> zipfile.Path:
    """The folder inside a dataset's zip that holds it: the zip's top, or the one folder at
    its top (an archive made by zipping the dataset's folder)."""
    try:
        top = zipfile.Path(zipfile.ZipFile(path))
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not a zip archive that can be read ({e}); download it "
                        "again, or unzip it and give its folder.") from e
    try:
        entries = [e for e in top.iterdir() if not e.name.startswith((".", "__MACOSX"))]
        _folder_layout(top)
    except DataError:
        if len(entries) == 1 and entries[0].is_dir():
            return entries[0]
    except BaseException:
        top.root.close()
        raise
    return top


@contextmanager
def _opened(root: Path) -> Iterator[Where]:
    """Where the dataset's files are: ``root`` itself, or the inside of its zip (closed
    after)."""
    if not (root.is_file() and root.suffix.lower() == ".zip"):
        yield root
        return
    where = _zip_root(root)
    try:
        yield where
    finally:
        where.root.close()


_DATA_SUFFIXES = frozenset({".csv", *IMAGE_SUFFIXES})  # what the layouts read


def _data_files(root: Path) -> Iterator[Path]:
    seen: set[tuple[int, int]] = set()  # a link back up the tree is walked once
    for top, dirs, names in os.walk(root, followlinks=True):
        st = os.stat(top)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        yield from (Path(top) / n for n in names
                    if Path(n).suffix.lower() in _DATA_SUFFIXES and not n.startswith("."))


def _cache_key(root: Path, layout: str, mode: str) -> str:
    """Changes with every image and CSV of the dataset (its name, size and time): a key
    over its CSVs alone kept serving a Kaggle-folders dataset as it was before images were
    added (stat-ing FER+'s 35,887 images takes a fraction of a second)."""
    h = hashlib.sha256(f"{CACHE_VERSION}|{root.resolve()}|{layout}|{mode}".encode())
    # Only what a layout reads (a cache or a run kept inside the dataset's folder must not
    # move it), through linked folders too.
    files = sorted(_data_files(root)) if root.is_dir() else [root]
    for p in files:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def load_raw(root: Path | str, layout: str | None = None) -> RawDataset:
    """The images and annotations of any known layout, before a label protocol."""
    root = Path(root)
    layout = layout or detect_layout(root)
    if layout.endswith("-pack"):
        return read_pack(root)
    with _opened(root) as where:
        if layout == "kaggle-csv":
            return raw_kaggle_csv(where if where.is_file() else where / "fer2013.csv")
        if layout == "kaggle-folders":
            return raw_kaggle_folders(where)
        if layout == "ferplus":
            return raw_ferplus_folders(where)
        base = where.parent if where.is_file() else where
        return raw_ferplus_csv(base / "fer2013.csv", base / "fer2013new.csv")


def load_dataset(root: Path | str, label_mode: str = "auto", cache_dir: Path | None = None
                 ) -> Dataset:
    """Load any known layout; ``label_mode`` is ``fer2013``, ``majority`` or ``distribution``
    (the last two for FER+), ``auto`` picks ``distribution`` for FER+."""
    root = Path(root)
    layout = detect_layout(root)
    is_plus = layout.startswith("ferplus")
    mode = label_mode
    if mode == "auto":
        mode = "distribution" if is_plus else "fer2013"
    if is_plus and mode not in ("majority", "distribution"):
        raise DataError(f"{root} is FER+; use label mode majority or distribution, not {mode}.")
    if not is_plus and mode != "fer2013":
        raise DataError(f"{root} is FER2013 with one label per image; use label mode fer2013.")
    cache = None
    # A pack decodes about as fast as the cache would read, and a copy would double its size.
    if cache_dir is not None and not layout.endswith("-pack"):
        cache = Path(cache_dir) / f"{layout}-{mode}-{_cache_key(root, layout, mode)}.npz"
        if cache.is_file():
            log.info("reading cached dataset %s", cache)
            try:
                return _read_cache(cache)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
                # A copy cut short (a full disk, a killed run): decoded again, not a traceback.
                log.warning("the cached dataset %s cannot be read (%s); decoding the data "
                            "again", cache, e)
                cache.unlink(missing_ok=True)
    log.info("decoding %s dataset at %s (label mode %s)", layout, root, mode)
    # Both FER+ layouts have always been recorded as "ferplus".
    ds = dataset_from_raw(load_raw(root, layout), mode,
                          "ferplus" if layout == "ferplus-csv" else layout)
    if cache is not None:
        _write_cache(cache, ds)
    return ds


def _write_cache(path: Path, ds: Dataset) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in ("train", "valid", "test"):
        s: Split = getattr(ds, name)
        arrays |= {f"{name}_images": s.images, f"{name}_targets": s.targets,
                   f"{name}_labels": s.labels}
        if s.votes is not None:
            arrays[f"{name}_votes"] = s.votes
    meta = np.array([ds.layout, ds.label_mode, ds.description, *ds.class_names])
    # Under this process's own hidden name: two trainings that decoded the same data at once
    # wrote one ".tmp.npz", and the second to finish found it gone ("No such file").
    with replacing(path, binary=True) as fh:
        np.savez_compressed(fh, meta=meta, **arrays)


def _read_cache(path: Path) -> Dataset:
    with np.load(path, allow_pickle=False) as z:
        meta = [str(x) for x in z["meta"]]
        splits = [Split(z[f"{n}_images"], z[f"{n}_targets"], z[f"{n}_labels"],
                        z[f"{n}_votes"] if f"{n}_votes" in z.files else None)
                  for n in ("train", "valid", "test")]
    return Dataset(tuple(meta[3:]), *splits, meta[0], meta[1], meta[2])
