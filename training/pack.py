"""One compact, lossless, pickle-free file holding a dataset: ``fer-train pack``.

Why: a remote GPU machine often takes only a few tens of megabytes per transfer, and FER+'s
decoded training and validation images are 74 MB raw (the npz cache is larger still). The
pack predicts each pixel from its left, upper and upper-left neighbours (the median edge
detector of LOCO-I / JPEG-LS) and lzma-compresses the residuals: FER+ train + valid become
about 50 MB, with every pixel restored exactly.

The file is a plain zip (stored, not deflated) of:
- ``pack.json``: format version, class names, layout, description, label kind and the
  image count of each split;
- ``<split>.images.xz``: lzma of the (N, 48, 48) uint8 residuals;
- ``<split>.votes.npy`` (FER+ vote counts, (N, 10) uint8) or ``<split>.labels.npy``
  (FER2013 labels, (N,) uint8).

Nothing is unpickled: the arrays are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import json
import lzma
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocam.atomic import replacing
from emocam.errors import UserError

PACK_SUFFIX = ".emopack"
FORMAT = "emocam-dataset-pack"
VERSION = 1
SPLITS = ("train", "valid", "test")


class PackError(UserError):
    """A pack file is missing, damaged or not a pack."""


@dataclass
class RawSplit:
    """The images of one split and what annotators said, before any label protocol."""

    images: np.ndarray  # (N, S, S) uint8
    votes: np.ndarray | None = None  # (N, 10) FER+ vote counts
    labels: np.ndarray | None = None  # (N,) FER2013 labels

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class RawDataset:
    class_names: tuple[str, ...]
    layout: str  # the layout the pack was made from: "ferplus" or "fer2013"
    description: str
    splits: dict[str, RawSplit]


# ---------------------------------------------------------------------------------------------
# Median edge detector prediction


def _med_prediction(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """LOCO-I's predictor from left ``a``, upper ``b`` and upper-left ``c`` (int16)."""
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def med_residuals(images: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` uint8 -> residuals modulo 256 (uint8), losslessly invertible."""
    d = images.astype(np.int16)
    a = np.zeros_like(d)
    a[:, :, 1:] = d[:, :, :-1]
    b = np.zeros_like(d)
    b[:, 1:, :] = d[:, :-1, :]
    c = np.zeros_like(d)
    c[:, 1:, 1:] = d[:, :-1, :-1]
    return (d - _med_prediction(a, b, c)).astype(np.uint8)


def med_restore(residuals: np.ndarray) -> np.ndarray:
    """Inverse of :func:`med_residuals`, one pixel position at a time across all images."""
    n, h, w = residuals.shape
    out = np.zeros((n, h + 1, w + 1), dtype=np.int16)  # a zero row and column before the image
    r = residuals.astype(np.int16)
    for y in range(h):
        for x in range(w):
            a, b, c = out[:, y + 1, x], out[:, y, x + 1], out[:, y, x]
            out[:, y + 1, x + 1] = (_med_prediction(a, b, c) + r[:, y, x]) & 0xFF
    return out[:, 1:, 1:].astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Writing and reading


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def write_pack(ds: RawDataset, path: Path) -> int:
    """Write ``ds`` to ``path`` (via a temporary file); returns the file's size in bytes."""
    path = Path(path)
    meta = {"format": FORMAT, "version": VERSION, "class_names": list(ds.class_names),
            "layout": ds.layout, "description": ds.description,
            "splits": {name: len(s) for name, s in ds.splits.items()}}
    # Ctrl-C, a full disk: no half-written file is left beside it.
    with replacing(path, binary=True) as fh, \
            zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("pack.json", json.dumps(meta, indent=2))
        for name, s in ds.splits.items():
            res = med_residuals(s.images)
            z.writestr(f"{name}.images.xz",
                       lzma.compress(res.tobytes(), preset=9 | lzma.PRESET_EXTREME))
            z.writestr(f"{name}.shape.npy", _npy(np.asarray(s.images.shape, np.int64)))
            if s.votes is not None:
                z.writestr(f"{name}.votes.npy", _npy(np.rint(s.votes).astype(np.uint8)))
            if s.labels is not None:
                z.writestr(f"{name}.labels.npy", _npy(s.labels.astype(np.uint8)))
    return path.stat().st_size


def _read_npy(z: zipfile.ZipFile, name: str) -> np.ndarray:
    data = io.BytesIO(z.read(name))
    return np.load(data, allow_pickle=False)


def pack_family(path: Path) -> str:
    """``ferplus`` or ``fer2013``: what a pack holds, read from its small header alone."""
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("pack.json"))
        family = meta["layout"]
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, RecursionError) as e:
        raise PackError(f"{path} is damaged or not a dataset pack; make it again with "
                        "fer-train pack.") from e
    if family not in ("ferplus", "fer2013"):
        raise PackError(f"{path} holds an unknown kind of dataset ({family!r}).")
    return family


def read_pack(path: Path) -> RawDataset:
    path = Path(path)
    damaged = f"{path} is damaged or not a dataset pack; make it again with fer-train pack."
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            meta = json.loads(z.read("pack.json"))
            if meta.get("format") != FORMAT:
                raise PackError(damaged)
            if meta.get("version") != VERSION:
                raise PackError(f"{path} is pack version {meta.get('version')}; this fer-train "
                                f"reads version {VERSION}. Make it again with fer-train pack.")
            splits = {}
            for name, count in meta["splits"].items():
                shape = tuple(int(v) for v in _read_npy(z, f"{name}.shape.npy"))
                raw = lzma.decompress(z.read(f"{name}.images.xz"))
                res = np.frombuffer(raw, np.uint8).reshape(shape)
                if len(res) != count:
                    raise PackError(damaged)
                votes = labels = None
                if f"{name}.votes.npy" in names:
                    votes = _read_npy(z, f"{name}.votes.npy").astype(np.float32)
                if f"{name}.labels.npy" in names:
                    labels = _read_npy(z, f"{name}.labels.npy").astype(np.int64)
                splits[name] = RawSplit(med_restore(res), votes, labels)
    except FileNotFoundError as e:
        raise PackError(f"{path} does not exist; give the file fer-train pack wrote.") from e
    except PackError:
        raise
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, lzma.LZMAError, TypeError,
            RecursionError) as e:
        raise PackError(damaged) from e
    return RawDataset(tuple(meta["class_names"]), meta["layout"], meta["description"], splits)
