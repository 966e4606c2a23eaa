"""Training loop: ``train(config)`` writes a run folder with the best checkpoint and logs."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocam import atomic
from emocam.errors import ModelError, UserError
from emocam.jsonread import count, read_object
from emocam.preprocess import CropSpec, Normalization, normalize
from emocam.resources import resolve_model
from emocam.training.augment import AugmentConfig, augment_batch
from emocam.training.data import DataError, Dataset, Split, load_dataset
from emocam.training.keras_import import keras_module
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
    data_workers: int = 1  # threads preparing batches
    cache_dir: str = ""
    # start from these weights (fine-tuning): a .keras checkpoint, an exported .onnx, or a
    # built-in model's name (ferplus)
    init_weights: str = ""
    # Stop after this many minutes (0: no limit), counted from the command's start, so that
    # loading the data and teachers and compiling count too; the learning rate then follows a
    # cosine over the time, not the epochs, so a run on a machine lent for a fixed time ends
    # annealed and in time however long it took to start.
    time_limit_minutes: float = 0.0
    # Distillation: comma-separated .keras or .onnx models whose mean softmax on each
    # augmented batch is blended into the targets with weight teacher_weight.
    teacher: str = ""
    teacher_weight: float = 0.5
    teacher_temperature: float = 1.0
    # Each teacher reads the image and its mirror and averages the two: a better teacher for
    # twice its compute (FER+ validation: teacher1b + teacher3's ensemble 88.62% -> 88.84%).
    teacher_flip: bool = False
    # Logit adjustment (Menon et al. 2021): the loss sees logits + tau * log(class prior), so
    # rare classes get a larger margin; the exported logits are the plain ones.
    logit_adjustment: float = 0.0
    label_smoothing: float = 0.0
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
    # A larger model to distil the shipped one from (--set teacher=RUN/best.keras): 1.18 M
    # parameters, 128 M multiply-adds per face; made for a GPU (the lease's teachers).
    "teacher": {"epochs": 200, "patience": 40,
                "model": {"widths": (32, 64, 128, 256), "blocks": (2, 2, 2, 2), "stem": 16,
                          "block": "plain", "dropout": 0.4, "spatial_dropout": 0.05,
                          "weight_decay": 1e-4}},
}


class AugmentedBatches:
    """Batches of augmented, normalised training images (a ``keras.utils.PyDataset``)."""

    def __new__(cls, *args, **kwargs):
        keras = keras_module()

        class _Impl(keras.utils.PyDataset):
            def __init__(self, split: Split, cfg: TrainConfig, weights: np.ndarray | None,
                         teachers: Teachers | None = None):
                # Threads prepare batches while the accelerator trains on the last one.
                super().__init__(workers=cfg.data_workers, use_multiprocessing=False)
                self.split, self.cfg, self.weights = split, cfg, weights
                self.teachers = teachers
                self.epoch = 0
                self.order = np.random.default_rng([cfg.seed, 0]).permutation(len(split))

            def __len__(self) -> int:
                return math.ceil(len(self.split) / self.cfg.batch_size)

            def __getitem__(self, i: int):
                # One generator per batch: reproducible, and safe when worker threads run
                # several batches at once.
                rng = np.random.default_rng([self.cfg.seed, self.epoch, i + 1])
                idx = self.order[i * self.cfg.batch_size : (i + 1) * self.cfg.batch_size]
                x = augment_batch(self.split.images[idx], rng, self.cfg.augment)
                y = self.split.targets[idx]
                if self.cfg.mixup > 0:
                    lam = rng.beta(self.cfg.mixup, self.cfg.mixup, (len(idx), 1))
                    perm = rng.permutation(len(idx))
                    x = x * lam[:, :, None] + x[perm] * (1 - lam[:, :, None])
                    y = y * lam + y[perm] * (1 - lam)
                if self.teachers is not None:
                    w = self.cfg.teacher_weight
                    y = (1 - w) * y + w * self.teachers.probabilities(x)
                if self.cfg.label_smoothing > 0:
                    y = y * (1 - self.cfg.label_smoothing) + self.cfg.label_smoothing / y.shape[1]
                x = normalize(x, self.cfg.normalization)[..., None].astype(np.float32)
                if self.weights is not None:
                    return x, y, self.weights[self.split.labels[idx]]
                return x, y

            def on_epoch_end(self) -> None:
                self.start_at(self.epoch + 1)

            def start_at(self, epoch: int) -> None:
                """The order and augmentation of ``epoch`` (0: the first) come next."""
                self.epoch = epoch
                self.order = (np.random.default_rng([self.cfg.seed, 0, epoch]) if epoch
                              else np.random.default_rng([self.cfg.seed, 0])).permutation(
                                  len(self.split))

        return _Impl(*args, **kwargs)


class Teachers:
    """One model or an ensemble whose averaged softmax serves as soft targets."""

    def __init__(self, paths: list[Path], temperature: float, class_names: tuple[str, ...],
                 flip: bool = False):
        from emocam.training.evaluate import load_predictor

        self.predictors = [load_predictor(p) for p in paths]
        self.temperature = temperature
        self.flip = flip
        # Batches are prepared by several threads; a Keras model under JAX must not run two
        # predictions at once (it hands its variables' buffers to the compiled function).
        self._lock = threading.Lock()
        for p, pred in zip(paths, self.predictors, strict=True):
            if pred.class_names is not None and tuple(pred.class_names) != tuple(class_names):
                raise DataError(f"The teacher {p} predicts {', '.join(pred.class_names)}; the "
                                f"dataset's classes are {', '.join(class_names)}.")

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Mean softmax of the teachers on ``(N, S, S)`` pixels in 0..255."""
        from emocam.classify import softmax

        with self._lock:
            probs = [softmax(p.logits(images, self.flip), self.temperature)
                     for p in self.predictors]
        return np.mean(probs, axis=0).astype(np.float32)


def eval_arrays(split: Split, norm: Normalization) -> tuple[np.ndarray, np.ndarray]:
    """Images with a usable label, normalised, with one-hot targets."""
    ok = split.labels >= 0
    x = normalize(split.images[ok].astype(np.float32), norm)[..., None]
    n = split.targets.shape[1]
    return x.astype(np.float32), np.eye(n, dtype=np.float32)[split.labels[ok]]


def _loss(cfg: TrainConfig, split: Split):
    """Cross-entropy on logits, with the class-prior shift of logit adjustment if asked."""
    keras = keras_module()
    if cfg.logit_adjustment <= 0:
        return keras.losses.CategoricalCrossentropy(from_logits=True)
    from emocam.training.adjust import class_prior

    shift = (cfg.logit_adjustment * np.log(class_prior(split.targets))).astype(np.float32)

    def logit_adjusted_crossentropy(y_true, logits):
        return keras.losses.categorical_crossentropy(
            y_true, logits + keras.ops.convert_to_tensor(shift), from_logits=True)

    return logit_adjusted_crossentropy


def time_schedule_callback(cfg: TrainConfig, started: float):
    """Warm-up then cosine over ``cfg.time_limit_minutes`` from ``started``, set at each
    epoch's start (the JAX backend reads optimizer variables only then), and a stop before
    the time runs out."""
    keras = keras_module()
    limit = cfg.time_limit_minutes * 60.0
    warm = 0.03  # of the time

    class TimeSchedule(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = started
            self.epoch_seconds = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()
            frac = min((self.started - self.t0) / limit, 1.0)
            if frac < warm:
                lr = cfg.learning_rate * (0.1 + 0.9 * frac / warm)
            else:
                cos = 0.5 * (1 + math.cos(math.pi * (frac - warm) / (1 - warm)))
                lr = cfg.learning_rate * (0.01 + 0.99 * cos)
            self.model.optimizer.learning_rate = lr

        def on_epoch_end(self, epoch, logs=None):
            now = time.time()
            self.epoch_seconds = now - self.started
            if logs is not None:
                logs["lr"] = float(keras.ops.convert_to_numpy(
                    self.model.optimizer.learning_rate))
            if now - self.t0 + self.epoch_seconds > limit:
                log.info("time limit of %.1f min reached after epoch %d", limit / 60, epoch + 1)
                self.model.stop_training = True

    return TimeSchedule()


class Interruption:
    """Ctrl-C (or ``kill``) while the network trains stops it at the next batch, never in the
    middle of an epoch's checkpoint writes: a backup cut short there could not be loaded, and
    the run could not be resumed. Elsewhere (decoding the data), or pressed twice, it stops
    at once."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.fitting = False
        self.requested = False

    def handle(self, signum: int, frame: object) -> None:
        if self.fitting and not self.requested:
            self.requested = True
            log.warning("stopping after this batch, with the last epoch's backup kept whole "
                        "(press Ctrl-C again to stop at once)")
            return
        raise KeyboardInterrupt

    def callback(self):
        keras = keras_module()
        asked = self

        class _StopHere(keras.callbacks.Callback):
            def _check(self) -> None:
                if asked.requested:
                    raise KeyboardInterrupt

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                self._check()

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self._check()

        return _StopHere()


INTERRUPTION = Interruption()


def _divergence(keras: Any):
    """Stops a fit whose loss is no longer a number (NaN or infinite): it ran on to its
    last epoch before, ended "successfully", and its export then failed on NaN metadata."""

    class _Stop(keras.callbacks.Callback):
        epoch: int | None = None
        _now = 0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._now = epoch

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.epoch = self._now
                self.model.stop_training = True

    return _Stop()


def _resumed_epoch(backup: Path) -> int:
    """The epoch a run resumed from its backup goes on with (0: a fresh start)."""
    return count(read_object(backup / "training_metadata.json") or {}, "epoch")


class WallClock:
    """Training time over every sitting of a run: a resumed run's card said only its last
    part's. Each finished epoch records the total so far beside the run (an epoch cut short
    is trained again, so its time is not counted)."""

    def __init__(self, path: Path, started: float, resumed: bool,
                 command_started: float | None = None):
        self.path, self.started = path, started
        # The time limit's clock counts from each command's start (loading the data and
        # compiling included), so it is kept apart from the training time.
        self.command_started = started if command_started is None else command_started
        try:
            if not resumed:  # a fresh start where a failed one left its file
                raise FileNotFoundError(path)
            saved = read_object(path)
            if saved is None:
                raise ValueError(path)
            self.before, self.sitting = float(saved["seconds"]), int(saved["sittings"]) + 1
            self.limit_before = float(saved.get("limit_seconds", self.before))
        except (OSError, ValueError, KeyError, TypeError, OverflowError):
            self.before, self.sitting, self.limit_before = 0.0, 1, 0.0

    def total(self, now: float) -> float:
        return self.before + now - self.started

    def callback(self):
        keras = keras_module()
        clock = self

        class _Record(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                # Whole or not at all: a write cut short would start the count again at 0.
                now = time.time()
                atomic.write_text(clock.path, json.dumps(
                    {"seconds": round(clock.total(now), 1), "sittings": clock.sitting,
                     "limit_seconds": round(clock.limit_before + now - clock.command_started,
                                            1)}))

        return _Record()


def progress_callback(epochs: int, steps: int, images: int, limit_s: float = 0.0,
                      every: float = 30.0, started: float | None = None):
    """Log progress within an epoch (images/s, ETAs) and one summary line per epoch;
    ``limit_s`` counts from ``started`` (default: the start of training)."""
    keras = keras_module()

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = started if started is not None else time.time()
            # An epoch's time after its last batch (validation, and the callbacks that run
            # before this one), measured on the last epoch: left out, the ETAs fell short by
            # a tenth or more.
            self.tail = 0.0
            self.last_epoch_s = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.started, self.last = epoch, time.time(), time.time()
            self.batch_end = self.started

        def on_train_batch_end(self, batch, logs=None):
            now = self.batch_end = time.time()
            if now - self.last < every:
                return
            self.last = now
            done = batch + 1
            rate = done * images / steps / (now - self.started)
            per_epoch = (now - self.started) * steps / done + self.tail
            if self.last_epoch_s and done < steps / 4:
                # A few batches say little (a slow first one gave "ends in 3461 s" for a
                # 48-s epoch): the last whole epoch says more.
                per_epoch = self.last_epoch_s
            epoch_eta = max(per_epoch - (now - self.started), 0.0)
            run_eta = epoch_eta + (epochs - self.epoch - 1) * per_epoch
            if limit_s > 0:
                run_eta = min(run_eta, max(limit_s - (now - self.t0), 0.0))
            log.info("epoch %d/%d: %d/%d batches, %.0f images/s, epoch ends in %.0f s, "
                     "run in %.0f min at most", self.epoch + 1, epochs, done, steps, rate,
                     epoch_eta, run_eta / 60)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            secs = time.time() - self.started
            self.tail = time.time() - self.batch_end
            self.last_epoch_s = secs
            log.info("epoch %d/%d (%.0f s, %.0f images/s): loss %.4f acc %.4f, val_loss %.4f "
                     "val_acc %.4f", epoch + 1, epochs, secs, images / max(secs, 1e-9),
                     logs.get("loss", float("nan")), logs.get("acc", float("nan")),
                     logs.get("val_loss", float("nan")), logs.get("val_acc", float("nan")))

    return Progress()


def _class_weights(split: Split, n: int) -> np.ndarray:
    counts = np.bincount(split.labels[split.labels >= 0], minlength=n).astype(np.float64)
    w = counts.sum() / (n * np.maximum(counts, 1))
    return np.clip(w, 0.2, 5.0).astype(np.float32)


class _NoStrategy:
    """Stands in for ``tf.distribute`` under the JAX and PyTorch backends."""

    def scope(self):
        import contextlib

        return contextlib.nullcontext()


def _strategy():
    if keras_module().backend.backend() != "tensorflow":
        # One device; float32 (the small model gains little from mixed precision).
        return _NoStrategy()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        keras_module().mixed_precision.set_global_policy("mixed_float16")
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


def _load_initial_weights(model: Any, path: Path, seed: int, sample: np.ndarray,
                          class_names: tuple[str, ...] = ()) -> None:
    """Start from a checkpoint's weights, or from an exported ONNX model's.

    Same network: a warm restart. A wider plain network: the checkpoint's weights widened
    so that training starts from its accuracy with more channels to learn with. Different
    class count (e.g. FER+ 8 -> FER2013 7): transfer learning; every layer but the final
    ``logits`` layer is copied, and each of its classes the source has too (by name, FER+'s
    and FER2013's names alike: ``data.class_index``) keeps the source's weights; only the
    others start fresh. An ONNX file is rebuilt as the network it was exported from first,
    its batch normalisation measured on ``sample``.
    """
    from emocam.training.keras_import import load_keras_file
    from emocam.training.model import transfer_weights
    from emocam.training.onnx_weights import keras_from_onnx

    if not path.is_file():
        what = "are a folder" if path.is_dir() else "do not exist"
        raise DataError(f"The initial weights {path} {what}; give a .keras checkpoint "
                        "or an .onnx model fer-train exported.")
    if path.suffix not in (".keras", ".onnx"):
        raise DataError(f"The initial weights {path} are neither a .keras checkpoint nor an "
                        ".onnx model fer-train exported.")
    try:
        source = (keras_from_onnx(path, sample) if path.suffix == ".onnx"
                  else load_keras_file(path))
    except ModelError as e:
        raise DataError(f"init_weights: {e}") from e
    try:
        fresh = transfer_weights(source, model, seed)
    except ValueError as e:
        raise DataError(
            f"The initial weights {path} come from a different architecture ({e}); use the "
            "same model settings as the run that wrote them, or wider ones."
        ) from e
    widened = any(a.count_params() != b.count_params()
                  for a, b in zip(source.layers, model.layers, strict=True)
                  if a.name != "logits")
    head = ""
    if fresh:
        theirs = _source_classes(path)
        kept = _keep_shared_classes(source, model, theirs, class_names)
        head = (f"; classifier head {source.output.shape[-1]} -> {model.output.shape[-1]} "
                f"classes, {len(kept)} kept by name ({', '.join(kept) or 'none'})")
        if not kept:
            # Fine-tuning then starts from chance: 30% on a user's photos where the model
            # it came from read 49%.
            why = ("its class names cannot be read (no train_info.json beside it)"
                   if not theirs else "the network is widened, so its classifier's inputs "
                   "are new" if widened else "none of its classes is among the data's")
            log.warning("the classifier of %s starts from chance: %s (%s)", path, why,
                        ", ".join(class_names))
    log.info("starting from the weights of %s%s%s", path, ", widened" if widened else "",
             head)


def _source_classes(path: Path) -> tuple[str, ...]:
    """The class names of an initial-weights file: an ONNX model's metadata, or the
    train_info.json beside a checkpoint; () when they cannot be read."""
    if path.suffix == ".onnx":
        from emocam.modelinfo import ModelInfoError, read_model_info

        try:
            return tuple(read_model_info(path).class_names)
        except (ModelInfoError, OSError):
            return ()
    from emocam.training.evaluate import run_facts

    found = run_facts(path.parent / "train_info.json").get("class_names")
    return tuple(str(n) for n in found) if isinstance(found, list) else ()


def _keep_shared_classes(source: Any, model: Any, theirs: tuple[str, ...],
                         ours: tuple[str, ...]) -> list[str]:
    """Copy the source's classifier weights of each class both have into ``model``'s fresh
    head; the names kept."""
    from emocam.training.data import class_index

    src, dst = source.get_layer("logits"), model.get_layer("logits")
    (s_kernel, s_bias), (kernel, bias) = src.get_weights(), dst.get_weights()
    if (len(theirs) != s_kernel.shape[1] or len(ours) != kernel.shape[1]
            or s_kernel.shape[0] != kernel.shape[0]):
        return []  # names unknown, or a widened network: its features are others
    kept = []
    for j, name in enumerate(ours):
        i = class_index(name, theirs)
        if i is not None:
            kernel[:, j], bias[j] = s_kernel[:, i], s_bias[i]
            kept.append(name)
    dst.set_weights([kernel, bias])
    return kept


def train(cfg: TrainConfig, ds: Dataset | None = None, started: float | None = None) -> Path:
    """Train one model; returns the run folder holding ``best.keras`` and ``history.csv``.
    ``started``: when the command began, where ``time_limit_minutes`` counts from (default:
    now, before Keras is imported and the data loaded)."""
    started = time.time() if started is None else started
    keras = keras_module()
    from emocam.training.model import count_macs, make_model
    from emocam.training.onnx_weights import sample_images

    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    keras.utils.set_random_seed(cfg.seed)
    ds = ds or prepare_data(cfg)
    n = len(ds.class_names)
    log.info("%s: %d train, %d valid, %d test images", ds.description, len(ds.train),
             len(ds.valid), len(ds.test))
    weights = _class_weights(ds.train, n) if cfg.class_weighting else None
    teachers = None
    if cfg.teacher:
        # A built-in's name, as the app takes it (ferplus-large), or a file.
        paths = [resolve_model(p.strip()) for p in cfg.teacher.split(",") if p.strip()]
        teachers = Teachers(paths, cfg.teacher_temperature, ds.class_names, cfg.teacher_flip)
        log.info("distilling from %d teacher(s), weight %.2f, temperature %.2f%s", len(paths),
                 cfg.teacher_weight, cfg.teacher_temperature,
                 ", each with its mirror image" if cfg.teacher_flip else "")
    batches = AugmentedBatches(ds.train, cfg, weights, teachers)
    xv, yv = eval_arrays(ds.valid, cfg.normalization)

    with _strategy().scope():
        model = make_model(n, ds.train.images.shape[1], cfg.model)
        if cfg.init_weights:
            _load_initial_weights(model, resolve_model(cfg.init_weights), cfg.seed,
                                  sample_images(ds.train.images, cfg.normalization),
                                  tuple(ds.class_names))
        if cfg.time_limit_minutes > 0:
            lr: Any = cfg.learning_rate / 10  # set each epoch by TimeSchedule
        else:
            steps = len(batches) * cfg.epochs
            warm = len(batches) * cfg.warmup_epochs
            lr = keras.optimizers.schedules.CosineDecay(
                cfg.learning_rate / 10, max(steps - warm, 1), alpha=0.01,
                warmup_target=cfg.learning_rate, warmup_steps=warm,
            )
        model.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss=_loss(cfg, ds.train),
            metrics=[keras.metrics.CategoricalAccuracy(name="acc")],
        )
    log.info("model: %d parameters, %.1f M multiply-adds per face", model.count_params(),
             count_macs(model) / 1e6)
    t0 = time.time()
    clock = WallClock(run / "wall_time.json", t0, resumed=(run / "backup").is_dir(),
                      command_started=started)
    # A time limit covers every sitting of the run, up to the last epoch each finished: a
    # resume counted it afresh from its own start, and its learning rate went back up to the
    # peak for another whole limit.
    started -= clock.limit_before
    resumed_at = _resumed_epoch(run / "backup")
    if resumed_at:
        batches.start_at(resumed_at)  # not epoch 1's order and augmentation again
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run / "backup")),
        # A resumed run must not overwrite best.keras with a worse epoch.
        keras.callbacks.ModelCheckpoint(str(run / "best.keras"), monitor="val_acc",
                                        mode="max", save_best_only=True,
                                        initial_value_threshold=_best_so_far(run)),
        keras.callbacks.EarlyStopping(monitor="val_acc", mode="max", patience=cfg.patience,
                                      restore_best_weights=True),
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
        progress_callback(cfg.epochs, len(batches), len(ds.train),
                          cfg.time_limit_minutes * 60, started=started),
    ]
    if cfg.time_limit_minutes > 0:
        callbacks.insert(0, time_schedule_callback(cfg, started))
    diverged = _divergence(keras)
    callbacks += [clock.callback(), INTERRUPTION.callback(), diverged]
    INTERRUPTION.fitting = True
    try:
        model.fit(batches, validation_data=(xv, yv), epochs=cfg.epochs, callbacks=callbacks,
                  verbose=0)
    finally:
        INTERRUPTION.fitting = False
    if diverged.epoch is not None:
        raise UserError(
            f"the training diverged: its loss stopped being a number in epoch "
            f"{diverged.epoch + 1}; train again into another --out with a lower "
            f"learning_rate (it was {cfg.learning_rate:g}).")
    wall = clock.total(time.time())
    model = keras.models.load_model(run / "best.keras", compile=False)
    info = {"wall_seconds": round(wall, 1), "sittings": clock.sitting,
            "parameters": int(model.count_params()),
            "macs_per_face": count_macs(model), "class_names": list(ds.class_names),
            "data": ds.description, "layout": ds.layout, "label_mode": ds.label_mode,
            "train_images": len(ds.train)}
    (run / "train_info.json").write_text(json.dumps(info, indent=2))
    log.info("training took %.0f s; best checkpoint %s", wall, run / "best.keras")
    return run
