"""Test accuracy of the shipped model beside the `fer` package's model, on the same images.

emocam's headline figure comes from `emocam.training.evaluate` (FER+ majority vote, the
official protocol). For the side-by-side, both models see the same 48x48 test images:
fer's classifier is fed them directly (its detector is skipped, so this measures the
classifier), after fer's own resize to 64x64.

- FER+: fer knows 7 of FER+'s 8 emotions, so the comparison uses the test images whose
  majority-vote label is one of those 7 (contempt excluded); emocam answers with all 8
  classes, and a contempt answer counts as wrong.
- FER2013 PrivateTest: the 7 FER2013 classes are fer's own; emocam's FER+ classes map to
  them by name (contempt counts as wrong). emocam's FER2013 model, when installed, answers in
  those 7 classes directly.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocam.resources import builtin_models
from emocam.training.data import (
    FERPLUS_CLASSES,
    Dataset,
    class_index,
    detect_layout,
    load_dataset,
)
from emocam.training.evaluate import class_report, evaluate, load_predictor

# fer's output order (FER._get_labels), the same names and order as FER2013.
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
OTHER = "other (contempt)"
# Decoded datasets are cached outside the repository: they must never be committed.
CACHE_DIR = Path(tempfile.gettempdir()) / "emocam-bench-cache"


@dataclass
class AccuracyRow:
    dataset: str
    protocol: str
    model: str
    images: int
    accuracy: float
    macro_f1: float


@dataclass
class ComparisonSet:
    """Test images and labels (indices into FER_LABELS) both models are scored on."""

    dataset: str
    protocol: str
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64


def dataset_root(path: Path, tmp: Path) -> Path:
    """A dataset folder from ``path``; a .zip is unpacked into ``tmp`` first."""
    if path.suffix.lower() != ".zip":
        return path
    dest = tmp / path.stem
    with zipfile.ZipFile(path) as z:
        z.extractall(dest)
    candidates = [dest, *sorted(p for p in dest.iterdir() if p.is_dir())]
    for c in candidates:
        try:
            detect_layout(c)
            return c
        except Exception:  # DataError for every folder that is not the root; try the next
            continue
    return dest  # load_dataset then says what is missing


def is_ferplus(ds: Dataset) -> bool:
    return tuple(ds.class_names) == FERPLUS_CLASSES


def _fer_index(name: str) -> int:
    """Index in FER_LABELS of a FER+ or FER2013 class name; len(FER_LABELS) for none."""
    index = class_index(name, FER_LABELS)
    return len(FER_LABELS) if index is None else index


def comparison_set(ds: Dataset) -> ComparisonSet:
    to_fer = np.array([_fer_index(c) for c in ds.class_names])
    labels = ds.test.labels
    if is_ferplus(ds):
        keep = labels >= 0  # majority-vote images; then those fer has a class for
        keep[keep] = to_fer[labels[keep]] < len(FER_LABELS)
        return ComparisonSet("FER+", "majority vote, 7 shared classes (contempt excluded)",
                             ds.test.images[keep], to_fer[labels[keep]])
    return ComparisonSet("FER2013", "PrivateTest", ds.test.images, to_fer[labels])


def score(cmp: ComparisonSet, model: str, preds: np.ndarray) -> AccuracyRow:
    """``preds`` are indices into FER_LABELS, or len(FER_LABELS) for a class fer lacks."""
    rep = class_report(cmp.labels, preds, (*FER_LABELS, OTHER))
    return AccuracyRow(cmp.dataset, cmp.protocol, model, rep["images"], rep["accuracy"],
                       rep["macro_f1"])


def emocam_rows(model_path: Path, ds: Dataset, cmp: ComparisonSet, label: str = "emocam"
                ) -> list[AccuracyRow]:
    pred = load_predictor(model_path)
    rows = []
    if is_ferplus(ds):
        m = evaluate(pred, ds)["protocols"]["majority"]
        rows.append(AccuracyRow("FER+", "majority vote, all 8 classes (official)", label,
                                m["images"], m["accuracy"], m["macro_f1"]))
    names = pred.class_names or FERPLUS_CLASSES
    to_fer = np.array([_fer_index(c) for c in names])
    preds = to_fer[pred.logits(cmp.images).argmax(axis=1)]
    rows.append(score(cmp, label, preds))
    return rows


def fer_rows(peer_python: Path, cmp: ComparisonSet, tmp: Path) -> tuple[list[AccuracyRow], dict]:
    """fer's two bundled model files on the comparison set, and the worker's report."""
    import peer_fer

    images = tmp / f"{cmp.dataset}-test-images.npy"
    np.save(images, cmp.images)
    try:
        out = peer_fer.classify(peer_python, images, tmp / f"{cmp.dataset}-fer.npy")
    finally:
        images.unlink(missing_ok=True)
    rows = []
    for name, label in (("tflite", "fer (FER() default: quantized .tflite)"),
                        ("hdf5", "fer (its Keras .hdf5)")):
        probs = np.load(out["models"][name]["predictions"])
        rows.append(score(cmp, label, probs.argmax(axis=1)))
    return rows, out


def run(data: list[Path], model_path: Path, peer_python: Path | None, tmp: Path
        ) -> tuple[list[AccuracyRow], list[str]]:
    """Rows for every dataset in ``data`` and notes (fer's speed on the test images)."""
    rows: list[AccuracyRow] = []
    notes: list[str] = []
    for path in data:
        ds = load_dataset(dataset_root(path, tmp), cache_dir=CACHE_DIR)
        cmp = comparison_set(ds)
        rows += emocam_rows(model_path, ds, cmp)
        int8 = builtin_models().get("ferplus-int8")
        if int8 is not None:  # what runs on the CPU by default
            rows += emocam_rows(int8, ds, cmp, "emocam int8 (the CPU default)")
        fer2013 = builtin_models().get("fer2013")
        if not is_ferplus(ds) and fer2013 is not None:  # the model trained for these labels
            rows += emocam_rows(fer2013, ds, cmp, "emocam FER2013 model (7 classes)")
        if peer_python is not None:
            fer, out = fer_rows(peer_python, cmp, tmp)
            rows += fer
            for name, m in out["models"].items():
                notes.append(f"fer {name} classifier on {cmp.dataset}: {out['n']} images in "
                             f"{m['seconds']:.1f} s ({out['n'] / m['seconds']:.0f} faces/s)")
    return rows, notes
