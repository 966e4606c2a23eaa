"""Test-set figures for a trained model, from a ``.keras`` checkpoint or an ``.onnx`` file.

ONNX files are run the way the app runs them: the metadata's normalisation and layout, one
batched onnxruntime call. FER+ is scored with its official majority-vote protocol and, as a
second, clearly labelled figure, with the plain argmax of the votes on every usable image.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emocam.classify import softmax
from emocam.errors import ModelError
from emocam.jsonread import read_object
from emocam.modelinfo import ModelInfo, read_model_info
from emocam.preprocess import Normalization, normalize
from emocam.training.data import Dataset, Split, class_index, ferplus_argmax, is_own_data
from emocam.training.settings import merge, plain, read_settings
from emocam.training.train import TrainConfig

log = logging.getLogger(__name__)

BATCH = 256
ECE_BINS = 15

PROTOCOLS = {
    "majority": "FER+ majority vote (official protocol: single votes dropped, one emotion "
    "holds more than half of the remaining votes, images where unknown or not-a-face wins "
    "dropped)",
    "argmax_votes": "FER+ plain argmax of the raw votes on every image whose top vote is an "
    "emotion, ambiguous images included (not the official protocol; not comparable with "
    "published FER+ figures)",
    "privatetest": "FER2013 PrivateTest (the standard FER2013 test set), one label per image",
}
# Your own photos in FER2013's or FER+'s folder layout: the same scoring, not their test sets.
OWN_PROTOCOLS = {
    "majority": "majority vote of the test folder's label.csv counts (FER+'s rule: single "
    "votes dropped, one emotion holds more than half of the rest)",
    "argmax_votes": "plain argmax of the test folder's label.csv counts",
    "privatetest": "the test photos (test/CLASS/PrivateTest_*), one label per image",
}


def describe_protocol(proto: str, ds: Dataset) -> str:
    """What a protocol scores on ``ds``, as the cards and reports say it."""
    return (OWN_PROTOCOLS if is_own_data(ds.description) else PROTOCOLS)[proto]


# ---------------------------------------------------------------------------------------------
# Running a model


@dataclass
class Predictor:
    """A loaded model: ``run`` maps normalised NHWC float32 input to logits."""

    path: Path
    kind: str  # "keras" or "onnx"
    normalization: Normalization
    run: Callable[[np.ndarray], np.ndarray]
    class_names: tuple[str, ...] | None = None
    info: ModelInfo | None = None
    config: TrainConfig | None = None
    model: Any = None  # the Keras model, for export

    def logits(self, images: np.ndarray, tta_flip: bool = False) -> np.ndarray:
        """Logits for ``(N, S, S)`` uint8 crops; with ``tta_flip`` averaged with the mirror."""
        out = self._logits(images)
        if tta_flip:
            out = (out + self._logits(images[:, :, ::-1])) / 2.0
        return out

    def _logits(self, images: np.ndarray) -> np.ndarray:
        parts = []
        for i in range(0, len(images), BATCH):
            x = normalize(images[i : i + BATCH].astype(np.float32), self.normalization)
            parts.append(np.asarray(self.run(x[..., None].astype(np.float32)), np.float32))
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def load_run_config(checkpoint: Path) -> TrainConfig | None:
    """The training config saved beside a checkpoint (config.yaml or config.json), if any."""
    for name in ("config.yaml", "config.json"):
        p = checkpoint.parent / name
        if p.is_file():
            # JSON is YAML too. Checked as a --config file is; a setting another fer-train
            # wrote is left out with a warning, not a traceback.
            defaults = plain(TrainConfig().to_dict())
            conf = merge(defaults, read_settings(p), str(p), drop_unknown=True)
            return TrainConfig.from_dict(conf)
    return None


def _run_info(checkpoint: Path, name: str) -> dict[str, Any]:
    return run_facts(checkpoint.parent / name)


def run_facts(path: Path) -> dict[str, Any]:
    """A JSON file a run keeps beside its checkpoint (run_info.json, train_info.json), or {}
    when it is missing or damaged: what it records (the command, the class names) is left
    out with a warning, and the checkpoint still evaluates and exports."""
    if not path.is_file():
        return {}
    facts = read_object(path)
    if facts is None:
        log.warning("%s is damaged; what it records is left out", path)
        return {}
    return facts


def load_keras(path: Path) -> Predictor:
    from emocam.training.keras_import import load_keras_file

    model = load_keras_file(path)
    cfg = load_run_config(path)
    names = _run_info(path, "train_info.json").get("class_names")

    def run(x: np.ndarray) -> np.ndarray:
        # predict_on_batch runs compiled under every backend and returns NumPy.
        return np.asarray(model.predict_on_batch(x))

    return Predictor(path, "keras", cfg.normalization if cfg else Normalization(), run,
                     tuple(names) if names else None, None, cfg, model)


def load_onnx(path: Path) -> Predictor:
    import onnxruntime as ort

    info = read_model_info(path)  # the app's reader: the same checks, the same messages
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        if info.layout == "NCHW":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        y = sess.run(None, {name: x})[0]
        # Scores for argmax and calibration: log-probabilities stand in for logits.
        return np.log(np.clip(y, 1e-12, None)) if info.output == "probabilities" else y

    # A run's model.onnx sits beside the run's config: its data, when none is given. Only in
    # a run folder (run_info.json): a config.json beside a user's own model is not ours.
    in_run = (Path(path).parent / "run_info.json").is_file()
    return Predictor(path, "onnx", info.normalization, run, info.class_names, info,
                     load_run_config(path) if in_run else None)


def load_predictor(path: Path | str) -> Predictor:
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path} does not exist; give a .keras checkpoint or an .onnx file.")
    if path.suffix == ".onnx":
        return load_onnx(path)
    if path.suffix == ".keras":
        return load_keras(path)
    raise ModelError(f"{path} is neither a .keras checkpoint nor an .onnx file.")


# ---------------------------------------------------------------------------------------------
# Scores


def class_report(labels: np.ndarray, preds: np.ndarray, class_names: tuple[str, ...]
                 ) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix
    (rows: true class, columns: predicted)."""
    n = len(class_names)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n), where=denom > 0)
    present = support > 0  # classes absent from the test set do not count in the mean
    return {
        "images": int(cm.sum()),
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            c: {"precision": float(precision[i]), "recall": float(recall[i]),
                "f1": float(f1[i]), "support": int(support[i])}
            for i, c in enumerate(class_names)
        },
        "confusion": cm.tolist(),
    }


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
                               ) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = softmax(logits.astype(np.float64), temperature)
    return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T that minimises the NLL of ``softmax(logits / T)``: a log-spaced grid, refined."""
    lo, hi = np.log(0.05), np.log(20.0)
    best = 0.0
    for _ in range(3):
        grid = np.linspace(lo, hi, 61)
        losses = [nll(logits, labels, float(np.exp(t))) for t in grid]
        k = int(np.argmin(losses))
        best = float(grid[k])
        step = grid[1] - grid[0]
        lo, hi = best - step, best + step
    return float(np.exp(best))


def _logistic_fit(x: np.ndarray, y: np.ndarray, iters: int = 50) -> tuple[float, float]:
    """``a, b`` of ``P(y) = sigmoid(a + b x)`` by Newton's method (a tiny ridge keeps it finite
    when the classes separate)."""
    X = np.stack([np.ones_like(x), x], axis=1)
    w = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ w)))
        grad = X.T @ (p - y) + 1e-6 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-6 * np.eye(2)
        w -= np.linalg.solve(hess, grad)
    return float(w[0]), float(w[1])


def fit_uncertain_below(probs: np.ndarray, labels: np.ndarray, floor: float = 0.5
                        ) -> dict[str, float]:
    """The confidence under which the app calls a face "uncertain".

    The chance that a label is right is fitted on validation predictions as a logistic
    function of the logit of its confidence (two parameters: stable on a few thousand faces,
    unlike binned accuracies); the threshold is where that chance falls to ``floor``. Below
    it a label is more often wrong than right, so the app says "uncertain" instead.
    """
    conf = np.clip(probs.max(axis=1).astype(np.float64), 1e-6, 1 - 1e-6)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    a, b = _logistic_fit(np.log(conf / (1 - conf)), correct)
    if b <= 0:
        # Confidence says nothing about correctness: every label is as likely right as the
        # model's accuracy, so all are uncertain when that is under the floor (a near-chance
        # model flagged none before) and none are otherwise.
        t = 1.0 if correct.mean() < floor else 0.0
    else:
        z = (np.log(floor / (1 - floor)) - a) / b
        t = float(1 / (1 + np.exp(-z)))
    flagged = conf < t
    return {
        "uncertain_below": round(t, 4),
        "uncertain_fraction": float(flagged.mean()),
        "uncertain_accuracy": float(correct[flagged].mean()) if flagged.any() else float("nan"),
        "certain_accuracy": float(correct[~flagged].mean()) if (~flagged).any() else float("nan"),
    }


def eval_labels(split: Split, protocol: str) -> np.ndarray:
    """Labels under a protocol, -1 for images it leaves out."""
    if protocol == "argmax_votes":
        if split.votes is None:
            raise ValueError("argmax_votes needs FER+ vote counts")
        return np.array([ferplus_argmax(v) for v in split.votes], dtype=np.int64)
    return split.labels


def protocols_for(split: Split) -> list[str]:
    """FER+'s protocols where the split has vote counts, else one label per image. Decided by
    the split scored: a pack of FER+'s training and validation splits has an empty test split."""
    return ["majority", "argmax_votes"] if split.votes is not None else ["privatetest"]


def score(logits: np.ndarray, split: Split, ds: Dataset, temperature: float = 1.0,
          split_name: str = "test") -> dict[str, Any]:
    """Every protocol that applies to ``split`` on its ``logits``; the first is primary."""
    out: dict[str, Any] = {}
    for proto in protocols_for(split):
        labels = eval_labels(split, proto)
        ok = labels >= 0
        rep = class_report(labels[ok], logits[ok].argmax(axis=1), ds.class_names)
        rep["description"] = describe_protocol(proto, ds) + (
            "" if split_name == "test" else f"; scored here on the {split_name} split instead")
        rep["ece"] = expected_calibration_error(softmax(logits[ok], temperature), labels[ok])
        out[proto] = rep
    return out


def evaluate(pred: Predictor, ds: Dataset, tta_flip: bool = False, split: str = "test",
             by_name: bool = False) -> dict[str, Any]:
    """Figures of ``pred`` on one split of ``ds`` (``metrics.json`` content): the test split,
    or the validation split, the one choices between models may be made on. ``by_name``
    scores a model with more classes than the data over the classes they share
    (``match_classes``); otherwise its classes must be the data's."""
    part: Split = getattr(ds, split)
    match = match_classes(pred, ds, part) if by_name else check_classes(pred, ds, part)
    temperature = pred.info.temperature if pred.info else 1.0
    logits = match.pick(pred.logits(part.images, tta_flip))
    protocols = score(logits, part, ds, temperature, split)
    for rep in protocols.values():
        # The confusion files and the report say it beside each figure, not only once.
        rep["description"] += f"; {match.note}" if match.note else ""
    return {
        "model": str(Path(pred.path).resolve()),
        "data": ds.description,
        "split": split,
        "class_names": list(ds.class_names),
        **({"class_match": match.record()} if match.note else {}),
        "tta_flip": tta_flip,
        "temperature": temperature,
        "primary": protocols_for(part)[0],
        "images_total": len(part),
        "protocols": protocols,
    }


@dataclass(frozen=True)
class ClassMatch:
    """Which of a model's outputs answers for each of the data's classes, matched by name
    (FER+'s and FER2013's names alike: ``data.class_index``)."""

    model_classes: tuple[str, ...]
    data_classes: tuple[str, ...]
    columns: tuple[int, ...]  # the model's output of each data class, in the data's order

    @property
    def left_out(self) -> tuple[str, ...]:
        """The model's classes the data does not have (FER+'s contempt in FER2013)."""
        return tuple(c for i, c in enumerate(self.model_classes) if i not in self.columns)

    @property
    def note(self) -> str:
        """What the scoring did, for the report and the results files; "" where the model's
        classes are the data's, in its order."""
        if not self.left_out:
            return ("" if self.columns == tuple(range(len(self.model_classes)))
                    else "the model's classes matched to the data's by name")
        return (f"{', '.join(self.left_out)}, which the data does not have, "
                f"{'is' if len(self.left_out) == 1 else 'are'} left out of the model's answers "
                f"(its answer is the likeliest of the data's {len(self.data_classes)} "
                "classes)")

    def pick(self, logits: np.ndarray) -> np.ndarray:
        """The model's logits of the data's classes, in the data's order."""
        return logits if not self.note else logits[:, list(self.columns)]

    def record(self) -> dict[str, Any]:
        """As metrics.json keeps it: the figures are over the matched classes only."""
        return {"model_classes": list(self.model_classes),
                "scored_over": list(self.data_classes),
                "left_out": list(self.left_out), "note": self.note}


def _outputs(pred: Predictor, ds: Dataset, split: Split, doing: str) -> int:
    """The model's number of outputs, refused in one sentence when its class names (where
    it has them) are not as many."""
    n = int(pred.logits(split.images[:1]).shape[1])
    if pred.class_names and len(pred.class_names) != n:
        raise ModelError(f"{pred.path} has {n} outputs but names {len(pred.class_names)} "
                         f"classes; export it again before you {doing} it.")
    return n


def _other_count(pred: Predictor, ds: Dataset, n: int, doing: str) -> ModelError:
    return ModelError(
        f"{pred.path} has {n} outputs but {ds.description} has "
        f"{len(ds.class_names)} classes; {doing} it with data of its classes"
        + (" (your 7-class photos: the built-in fer2013 model; for all 8, lay them out as "
           "FER+'s folders)" if len(ds.class_names) == 7 else "") + "."
    )


def match_classes(pred: Predictor, ds: Dataset, split: Split, doing: str = "evaluate"
                  ) -> ClassMatch:
    """Each of the data's classes found among the model's by name; ``ModelError`` where one
    is not (or where a model without class names has another number of outputs). A model
    with classes the data lacks (the 8-class FER+ model on FER2013's 7) is scored over the
    data's: its answer is the likeliest of those."""
    n = _outputs(pred, ds, split, doing)
    if not pred.class_names:
        if n != len(ds.class_names):
            raise _other_count(pred, ds, n, doing)
        return ClassMatch(tuple(ds.class_names), tuple(ds.class_names), tuple(range(n)))
    found = [class_index(c, pred.class_names) for c in ds.class_names]
    missing = [c for c, i in zip(ds.class_names, found, strict=True) if i is None]
    if missing:
        raise ModelError(
            f"{pred.path} has no class for {', '.join(missing)} of {ds.description} (its "
            f"classes are {', '.join(pred.class_names)}); {doing} it with data of its classes."
        )
    return ClassMatch(tuple(pred.class_names), tuple(ds.class_names),
                      tuple(i for i in found if i is not None))


def check_classes(pred: Predictor, ds: Dataset, split: Split, doing: str = "evaluate"
                  ) -> ClassMatch:
    """``ModelError`` unless the model's outputs are the dataset's classes, in its order
    (``doing``: what the user asked, for the sentence): what an export and a quantization
    write must say the data's classes."""
    n = _outputs(pred, ds, split, doing)
    if n != len(ds.class_names):
        raise _other_count(pred, ds, n, doing)
    if pred.class_names and tuple(pred.class_names) != tuple(ds.class_names):
        raise ModelError(
            f"{pred.path} was trained for classes {', '.join(pred.class_names)}, which are not "
            f"those of {ds.description}."
        )
    return ClassMatch(tuple(ds.class_names), tuple(ds.class_names), tuple(range(n)))


# ---------------------------------------------------------------------------------------------
# Reports


def confusion_text(rep: dict[str, Any], class_names: tuple[str, ...]) -> str:
    w = max(9, *(len(c) for c in class_names)) + 1
    head = "true \\ pred".ljust(w) + "".join(c[:8].rjust(9) for c in class_names)
    lines = [head]
    for c, row in zip(class_names, rep["confusion"], strict=True):
        lines.append(c.ljust(w) + "".join(str(v).rjust(9) for v in row))
    return "\n".join(lines)


def format_report(metrics: dict[str, Any]) -> str:
    names = tuple(metrics["class_names"])
    split = metrics.get("split", "test")
    lines = [f"model: {metrics['model']}", f"data:  {metrics['data']}",
             f"split: {split}" + (" (validation: the protocols below apply to it as to the "
                                  "test split)" if split == "valid" else ""),
             f"test-time flip augmentation: {'on' if metrics['tta_flip'] else 'off'}"]
    if "class_match" in metrics:  # scored over the classes the model and the data share
        lines.append(f"classes: {metrics['class_match']['note']}")
    for proto, rep in metrics["protocols"].items():
        lines += ["", f"[{proto}] {rep['description']}",
                  f"  images {rep['images']} of {metrics['images_total']}: "
                  f"accuracy {rep['accuracy'] * 100:.2f}%, macro-F1 {rep['macro_f1'] * 100:.2f}%, "
                  f"ECE {rep['ece'] * 100:.2f}%",
                  "  class        precision  recall   support"]
        for c in names:
            pc = rep["per_class"][c]
            lines.append(f"  {c:<12} {pc['precision'] * 100:8.1f}% {pc['recall'] * 100:6.1f}% "
                         f"{pc['support']:8d}")
        lines += ["", confusion_text(rep, names)]
    return "\n".join(lines)


def write_reports(metrics: dict[str, Any], out_dir: Path) -> list[Path]:
    """metrics.json, report.txt and a confusion matrix PNG + text per protocol."""
    from emocam.training.plots import plot_confusion

    out_dir.mkdir(parents=True, exist_ok=True)
    names = tuple(metrics["class_names"])
    written = [out_dir / "metrics.json", out_dir / "report.txt"]
    written[0].write_text(json.dumps(metrics, indent=2))
    written[1].write_text(format_report(metrics) + "\n")
    for proto, rep in metrics["protocols"].items():
        txt = out_dir / f"confusion_{proto}.txt"
        txt.write_text(f"{rep['description']}\n\n{confusion_text(rep, names)}\n")
        png = out_dir / f"confusion_{proto}.png"
        plot_confusion(np.asarray(rep["confusion"]), names, png,
                       f"{proto}: accuracy {rep['accuracy'] * 100:.1f}% "
                       f"on {rep['images']} {metrics.get('split', 'test')} images")
        written += [txt, png]
    return written
