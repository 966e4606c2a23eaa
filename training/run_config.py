"""fer-train's training settings: defaults < preset < --config file < --data/--out/
--label-mode < --set, checked before anything is trained, and a resume's checked against
the run it goes on with (its network, labels, classes and settings)."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import logging
import math
from pathlib import Path
from typing import Any

from emocam.jsonread import read_object
from emocam.training.settings import ConfigError, merge, plain, read_settings

log = logging.getLogger("fer-train")

LABEL_MODES = ("auto", "fer2013", "majority", "distribution")


def _coerce(text: str, default: Any, key: str) -> Any:
    """``text`` as the type of the setting's default value."""
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            return text.lower() in ("true", "1", "yes", "on")
        if isinstance(default, (tuple, list)):
            kind = type(default[0]) if default else int
            return [kind(p) for p in text.replace(" ", "").split(",") if p]
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError as e:
        kind = "true/false" if isinstance(default, bool) else (
            "a comma-separated list" if isinstance(default, (tuple, list))
            else type(default).__name__)
        raise ConfigError(f"--set {key}={text}: the value must be {kind}.") from e
    return text


def apply_override(conf: dict[str, Any], item: str) -> None:
    """Apply one ``key=value`` (dotted keys reach nested settings) to ``conf`` in place."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item}: write it as key=value, e.g. --set epochs=10.")
    node = conf
    parts = key.strip().split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
            raise ConfigError(f"--set {item}: {'.'.join(parts[: depth + 1])} is not a setting; "
                              f"known here: {known}.")
        if depth == len(parts) - 1:
            if isinstance(node[part], dict):
                raise ConfigError(f"--set {item}: {key} is a group; set one of its fields, "
                                  f"e.g. {key}.{next(iter(node[part]))}=...")
            node[part] = _coerce(text.strip(), node[part], key)
        else:
            node = node[part]


def resolve_config(args: argparse.Namespace):
    from emocam.training.train import PRESETS, TrainConfig

    defaults = plain(TrainConfig().to_dict())
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs --out RUN_FOLDER, the run to continue.")
        saved = Path(args.out) / "config.yaml"
        if not saved.is_file():
            raise ConfigError(f"{saved} is missing, so there is no run to resume there; "
                              "start one without --resume.")
        conf = merge(defaults, read_settings(saved), str(saved))
        saved_conf = copy.deepcopy(conf)
        if args.preset is not None:
            # A preset is a new run's starting point; the run's own settings go on (the
            # command that started it, with --resume added, must still work).
            log.info("--preset %s is not read on --resume: %s keeps the settings in %s.",
                     args.preset, args.out, saved)
    else:
        saved_conf = None
        preset = args.preset or "full"
        conf = merge(defaults, PRESETS[preset], f"preset {preset}")
        if not args.out:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            args.out = str(Path("runs") / f"{stamp}-{preset}")
    # On --resume too, as --set is (it was silently ignored): settings that would change
    # the network or a finished run are refused below as theirs are.
    if args.config:
        conf = merge(conf, read_settings(Path(args.config)), args.config)
    for key, value in (("data", args.data), ("out", args.out), ("label_mode", args.label_mode)):
        if value:
            conf[key] = str(value)
    if args.data:
        # Kept whole in the run's settings: a resume, export or evaluate from another folder
        # read "../data" from there ("does not exist", or worse, other data).
        conf["data"] = str(Path(args.data).expanduser().absolute())
    for item in args.set or []:
        apply_override(conf, item)
    if saved_conf is not None:
        _refuse_another_network(saved_conf, conf, Path(args.out))
    if not conf["data"]:
        raise ConfigError("no dataset given; pass --data PATH (fer2013.csv, the Kaggle folders "
                          "or the FER+ folders).")
    try:
        cfg = TrainConfig.from_dict(conf)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"the training settings are not valid ({e}).") from e
    _validate(cfg)
    return cfg


def _refuse_another_network(saved: dict[str, Any], asked: dict[str, Any], run: Path) -> None:
    """A resume goes on with the network and labels its checkpoints hold. Another (a
    --set model.*, another --label-mode) failed deep in Keras, after its config.yaml had
    been rewritten, so even a plain --resume failed from then on."""
    for key in ("model", "label_mode"):
        if plain(saved.get(key)) != plain(asked.get(key)):
            raise ConfigError(
                f"{run} was trained with {key} {plain(saved.get(key))!r}, not "
                f"{plain(asked.get(key))!r}; resume it without changing {key}, or train "
                "the new one into another --out.")


def _recorded_classes(run: Path) -> list[str] | None:
    """The classes ``run`` was trained on, where it says (runs before this was kept: None)."""
    for name in ("run_info.json", "train_info.json"):
        names = (read_object(run / name) or {}).get("class_names")
        if isinstance(names, list) and names:
            return [str(n) for n in names]
    return None


def refuse_other_classes(run: Path, cfg: Any, classes: list[str]) -> None:
    """A resume on data of other classes failed deep in Keras (a logits layer of 8 given 7),
    after config.yaml had been rewritten to name that data, so every plain --resume after it
    failed too. Said now, with nothing written. Other data of the same classes is said too:
    the same data moved (a pack of it, another machine's path) is usual, but other data went
    on unsaid, and the card then described it as the run's."""
    recorded = _recorded_classes(run)
    if recorded is not None and recorded != classes:
        raise ConfigError(
            f"{run} was trained on {len(recorded)} classes ({', '.join(recorded)}), and the "
            f"data {cfg.data} has {len(classes)} ({', '.join(classes)}); resume it with the data "
            "it was trained on, or train on this data into another --out.")
    saved = (read_settings(run / "config.yaml") if (run / "config.yaml").is_file() else {})
    started_on = saved.get("data") if isinstance(saved, dict) else None
    if started_on and str(started_on) != str(cfg.data):
        log.warning("resuming %s on %s, not on %s, the data it started on: if that is other "
                    "data, its checkpoints and card will mix the two.", run, cfg.data,
                    started_on)


def refuse_new_settings(run: Path, cfg: Any) -> None:
    """A finished run cannot train on: a --resume of it with other settings (more epochs)
    re-exported it unchanged while its config.yaml and card claimed the new ones."""
    try:
        saved = plain(read_settings(run / "config.yaml"))
    except (OSError, ConfigError):
        return
    asked = plain(cfg.to_dict())
    changed = sorted(k for k in asked if k not in ("data", "out", "cache_dir")
                     and k in saved and saved[k] != asked[k])
    if changed:
        raise ConfigError(
            f"{run} finished training already, so {', '.join(changed)} cannot change; train "
            f"on from its weights into another --out (--set init_weights={run / 'best.keras'}), "
            "or resume it without new settings to export it again.")


def _validate(cfg) -> None:
    m = cfg.model
    if len(m.widths) != len(m.blocks) or not m.widths:
        raise ConfigError(f"model.widths ({len(m.widths)} stages) and model.blocks "
                          f"({len(m.blocks)} stages) must list the same number of stages.")
    if m.block not in ("plain", "separable"):
        raise ConfigError(f"model.block is {m.block!r}; use plain or separable.")
    if cfg.label_mode not in LABEL_MODES:
        raise ConfigError(f"label_mode is {cfg.label_mode!r}; use one of {', '.join(LABEL_MODES)}.")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ConfigError("epochs and batch_size must be at least 1.")
    if not all(w >= 1 for w in m.widths) or not all(b >= 1 for b in m.blocks):
        raise ConfigError("model.widths and model.blocks must be at least 1 each.")
    if not 0 < cfg.learning_rate < math.inf:
        raise ConfigError(f"learning_rate is {cfg.learning_rate}; it must be a number above 0.")
    for key in ("train_limit", "warmup_epochs", "mixup", "time_limit_minutes"):
        if not 0 <= getattr(cfg, key) < math.inf:
            raise ConfigError(f"{key} is {getattr(cfg, key)}; it must be a number, 0 or more.")
    if cfg.cache_dir and Path(cfg.cache_dir).exists() and not Path(cfg.cache_dir).is_dir():
        raise ConfigError(f"cache_dir {cfg.cache_dir} is a file; give a folder for the decoded "
                          "dataset's cache (or leave it out: beside the run).")
    if cfg.seed < 0:
        raise ConfigError(f"seed is {cfg.seed}; it must be 0 or more.")
    if not 0 <= m.dropout < 1 or not 0 <= m.spatial_dropout < 1:
        raise ConfigError(f"model.dropout ({m.dropout}) and model.spatial_dropout "
                          f"({m.spatial_dropout}) must be 0 or more and under 1.")
    if m.stem < 1:
        raise ConfigError(f"model.stem is {m.stem}; it must be at least 1.")
    negative = [f"augment.{k}" for k, v in dataclasses.asdict(cfg.augment).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and not v >= 0]
    if negative:
        raise ConfigError(f"{', '.join(negative)} must be 0 or more (each is a range either "
                          "side of none, or a chance).")
    if not 0 <= cfg.label_smoothing < 1:
        raise ConfigError(f"label_smoothing is {cfg.label_smoothing}; it must be 0 or more "
                          "and under 1.")
    if not 0 <= cfg.teacher_weight <= 1:
        raise ConfigError(f"teacher_weight is {cfg.teacher_weight}; it must be 0 or more and "
                          "at most 1.")
    if not 0 < cfg.teacher_temperature < math.inf:
        raise ConfigError(f"teacher_temperature is {cfg.teacher_temperature}; it must be a "
                          "number above 0.")
    _models_there(cfg)
    _the_app_would_read(cfg)


def _models_there(cfg) -> None:
    """The models a run starts from or learns from, found before the data's minutes of
    decoding: a mistyped name was said only after them, and without the built-in names."""
    from emocam.resources import BUILTIN_MODELS, resolve_model

    named = [("init_weights", cfg.init_weights)] if cfg.init_weights else []
    named += [("teacher", t.strip()) for t in cfg.teacher.split(",") if t.strip()]
    for key, name in named:
        if not resolve_model(name).is_file():
            raise ConfigError(f"{key}={name} does not exist; give a .keras checkpoint, an .onnx "
                              f"model or a built-in model's name ({', '.join(BUILTIN_MODELS)}).")


def _the_app_would_read(cfg) -> None:
    """The normalisation and crop the model will carry, checked by the app's own reader
    now: "crop.scale=0" trained a whole run whose export the app then refused, and
    "normalization.std=0" trained on infinities."""
    from emocam.modelinfo import METADATA_KEY, ModelInfo, ModelInfoError, info_from_metadata

    carried = ModelInfo(class_names=("a", "b"), normalization=cfg.normalization, crop=cfg.crop)
    try:
        info_from_metadata({METADATA_KEY: carried.to_json()})
    except ModelInfoError as e:
        why = str(e).removeprefix("cannot be used: its metadata key ")
        raise ConfigError(f"the setting {why}; emocam could not use the model.") from None
