"""Training loop: ``train(config)`` writes a run folder with the best checkpoint and logs."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocam.preprocess import CropSpec, Normalization, normalize
from emocam.training.augment import AugmentConfig, augment_batch
from emocam.training.data import DataError, Dataset, Split, load_dataset
from emocam.training.model import ModelConfig

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data: str = ""
    out: str = "runs/ferplus"
    label_mode: str = "auto"  # fer2013 | majority | distribution | auto
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 2e-3
    warmup_epochs: int = 2
    patience: int = 15
    seed: int = 1
    class_weighting: bool = False
    mixup: float = 0.0  # Beta(a, a) mixing strength; 0 turns mixup off
    train_limit: int = 0  # use only the first N training images (smoke runs)
    cache_dir: str = ""
    init_weights: str = ""  # start from this Keras checkpoint's weights (fine-tuning)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    normalization: Normalization = field(default_factory=Normalization)
    # How the app should frame a detected face to match the training images (the model
    # metadata carries it); FER2013's framing unless the training images are framed otherwise.
    crop: CropSpec = field(default_factory=CropSpec)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        nested = {"model": ModelConfig, "augment": AugmentConfig, "normalization": Normalization,
                  "crop": CropSpec}
        for key, typ in nested.items():
            if key in d and isinstance(d[key], dict):
                sub = dict(d[key])
                for k, v in sub.items():
                    if isinstance(v, list):
                        sub[k] = tuple(v)
                d[key] = typ(**sub)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**d)


PRESETS: dict[str, dict[str, Any]] = {
    # Smoke run: about 5 minutes on a 2-core CPU (FER+: about 74% majority-vote accuracy).
    "quick": {"epochs": 8, "train_limit": 12000, "patience": 8, "warmup_epochs": 1},
    # The shipped models (models/emocam-ferplus.onnx was trained with exactly this).
    "full": {"epochs": 40, "patience": 12},
}


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


class AugmentedBatches:
    """Batches of augmented, normalised training images (a ``keras.utils.PyDataset``)."""

    def __new__(cls, *args, **kwargs):
        keras = _keras()

        class _Impl(keras.utils.PyDataset):
            def __init__(self, split: Split, cfg: TrainConfig, weights: np.ndarray | None):
                super().__init__()
                self.split, self.cfg, self.weights = split, cfg, weights
                self.rng = np.random.default_rng(cfg.seed)
                self.order = self.rng.permutation(len(split))

            def __len__(self) -> int:
                return math.ceil(len(self.split) / self.cfg.batch_size)

            def __getitem__(self, i: int):
                idx = self.order[i * self.cfg.batch_size : (i + 1) * self.cfg.batch_size]
                x = augment_batch(self.split.images[idx], self.rng, self.cfg.augment)
                y = self.split.targets[idx]
                if self.cfg.mixup > 0:
                    lam = self.rng.beta(self.cfg.mixup, self.cfg.mixup, (len(idx), 1))
                    perm = self.rng.permutation(len(idx))
                    x = x * lam[:, :, None] + x[perm] * (1 - lam[:, :, None])
                    y = y * lam + y[perm] * (1 - lam)
                x = normalize(x, self.cfg.normalization)[..., None].astype(np.float32)
                if self.weights is not None:
                    return x, y, self.weights[self.split.labels[idx]]
                return x, y

            def on_epoch_end(self) -> None:
                self.order = self.rng.permutation(len(self.split))

        return _Impl(*args, **kwargs)


def eval_arrays(split: Split, norm: Normalization) -> tuple[np.ndarray, np.ndarray]:
    """Images with a usable label, normalised, with one-hot targets."""
    ok = split.labels >= 0
    x = normalize(split.images[ok].astype(np.float32), norm)[..., None]
    n = split.targets.shape[1]
    return x.astype(np.float32), np.eye(n, dtype=np.float32)[split.labels[ok]]


def _class_weights(split: Split, n: int) -> np.ndarray:
    counts = np.bincount(split.labels[split.labels >= 0], minlength=n).astype(np.float64)
    w = counts.sum() / (n * np.maximum(counts, 1))
    return np.clip(w, 0.2, 5.0).astype(np.float32)


def _strategy():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        _keras().mixed_precision.set_global_policy("mixed_float16")
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def prepare_data(cfg: TrainConfig) -> Dataset:
    cache = Path(cfg.cache_dir) if cfg.cache_dir else Path(cfg.out).parent / ".cache"
    ds = load_dataset(cfg.data, cfg.label_mode, cache_dir=cache)
    if cfg.train_limit and cfg.train_limit < len(ds.train):
        rng = np.random.default_rng(cfg.seed)
        idx = np.sort(rng.choice(len(ds.train), cfg.train_limit, replace=False))
        t = ds.train
        ds.train = Split(t.images[idx], t.targets[idx], t.labels[idx],
                         None if t.votes is None else t.votes[idx])
    return ds


def _best_so_far(run: Path) -> float | None:
    """Best ``val_acc`` of an interrupted run that will resume, else None."""
    hist = run / "history.csv"
    if not (run / "backup").is_dir() or not (run / "best.keras").is_file() or not hist.is_file():
        return None
    with hist.open(newline="") as f:
        vals = [float(r["val_acc"]) for r in csv.DictReader(f) if r.get("val_acc")]
    return max(vals) if vals else None


def _load_initial_weights(model: Any, path: Path) -> None:
    """Copy the weights of a checkpoint of the same architecture.

    Same classes: a warm restart. Different class count (e.g. FER+ 8 -> FER2013 7): transfer
    learning; every layer but the final ``logits`` layer is copied and the head starts fresh.
    """
    keras = _keras()
    if not path.is_file():
        raise DataError(f"The initial weights {path} do not exist; give a .keras checkpoint.")
    source = keras.models.load_model(path, compile=False)
    mismatch = DataError(
        f"The initial weights {path} come from a different architecture; "
        "use the same model settings as the run that wrote them."
    )
    if len(source.layers) != len(model.layers):
        raise mismatch
    fresh = []
    for dst, src in zip(model.layers, source.layers, strict=True):
        theirs, ours = src.get_weights(), dst.get_weights()
        if [w.shape for w in theirs] == [w.shape for w in ours]:
            dst.set_weights(theirs)
        elif dst.name == "logits" and theirs and theirs[0].shape[0] == ours[0].shape[0]:
            fresh.append(dst.name)
        else:
            raise mismatch
    if fresh:
        log.info("starting from the weights of %s; new classifier head (%d -> %d classes)",
                 path, source.output.shape[-1], model.output.shape[-1])
    else:
        log.info("starting from the weights of %s", path)


def train(cfg: TrainConfig, ds: Dataset | None = None) -> Path:
    """Train one model; returns the run folder holding ``best.keras`` and ``history.csv``."""
    keras = _keras()
    from emocam.training.model import count_macs, make_model

    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    keras.utils.set_random_seed(cfg.seed)
    ds = ds or prepare_data(cfg)
    n = len(ds.class_names)
    log.info("%s: %d train, %d valid, %d test images", ds.description, len(ds.train),
             len(ds.valid), len(ds.test))
    weights = _class_weights(ds.train, n) if cfg.class_weighting else None
    batches = AugmentedBatches(ds.train, cfg, weights)
    xv, yv = eval_arrays(ds.valid, cfg.normalization)

    with _strategy().scope():
        model = make_model(n, ds.train.images.shape[1], cfg.model)
        if cfg.init_weights:
            _load_initial_weights(model, Path(cfg.init_weights))
        steps = len(batches) * cfg.epochs
        warm = len(batches) * cfg.warmup_epochs
        lr = keras.optimizers.schedules.CosineDecay(
            cfg.learning_rate / 10, max(steps - warm, 1), alpha=0.01,
            warmup_target=cfg.learning_rate, warmup_steps=warm,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.CategoricalAccuracy(name="acc")],
        )
    log.info("model: %d parameters, %.1f M multiply-adds per face", model.count_params(),
             count_macs(model) / 1e6)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run / "backup")),
        # A resumed run must not overwrite best.keras with a worse epoch.
        keras.callbacks.ModelCheckpoint(str(run / "best.keras"), monitor="val_acc",
                                        mode="max", save_best_only=True,
                                        initial_value_threshold=_best_so_far(run)),
        keras.callbacks.EarlyStopping(monitor="val_acc", mode="max", patience=cfg.patience,
                                      restore_best_weights=True),
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
    ]
    t0 = time.time()
    model.fit(batches, validation_data=(xv, yv), epochs=cfg.epochs, callbacks=callbacks,
              verbose=2)
    wall = time.time() - t0
    model = keras.models.load_model(run / "best.keras")
    info = {"wall_seconds": round(wall, 1), "parameters": int(model.count_params()),
            "macs_per_face": count_macs(model), "class_names": list(ds.class_names),
            "data": ds.description, "layout": ds.layout, "label_mode": ds.label_mode,
            "train_images": len(ds.train)}
    (run / "train_info.json").write_text(json.dumps(info, indent=2))
    log.info("training took %.0f s; best checkpoint %s", wall, run / "best.keras")
    return run
