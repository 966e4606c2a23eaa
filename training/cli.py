"""``fer-train``: train, evaluate and export emocam's emotion models.

    fer-train train --data PATH [--preset quick|full] [--set model.widths=16,32,64,128 ...]
    fer-train evaluate MODEL.keras|MODEL.onnx --data PATH [--tta-flip] [--split valid]
    fer-train export RUN/best.keras --out MODEL.onnx
    fer-train pack PATH -o DATA.emopack [--splits train,valid]
    fer-train adjust MODEL.onnx --data PATH [--max-cost 0.75] [--min-recall contempt=0.3]
    fer-train compare BASELINE CANDIDATE [...] --data PATH [--split valid]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emocam.errors import EXIT_READER_GONE, ModelError, UserError, quiet_closed_stdout
from emocam.resources import BUILTIN_MODELS, resolve_model
from emocam.stopping import hear_ctrl_c_if_asked, ours
from emocam.training import made_folders
from emocam.training.made_folders import make_folder
from emocam.training.run_config import (
    LABEL_MODES,
    refuse_new_settings,
    refuse_other_classes,
    resolve_config,
)
from emocam.training.run_folder import check_run_folder, check_writable, training_lock, write_json
from emocam.training.settings import ConfigError, plain
from emocam.training.tf_child import (
    EXPORT_UNDER_TENSORFLOW,
    keras_backend,
    under_tensorflow,
    warn_no_exporter,
)

log = logging.getLogger("fer-train")


DATA_HELP = """\
Data (--data): FER2013 from Kaggle, as the original fer2013.csv or the folder release
(train/<class>/*.jpg, test/<class>/PublicTest_* and PrivateTest_*); FER+ labels from
Microsoft's FERPlus repository, laid out as its generate_training_data.py writes them
(FER2013Train/, FER2013Valid/, FER2013Test/, each with label.csv), or fer2013.csv beside
fer2013new.csv; any of these as a .zip, read without unpacking it (Kaggle's download
as it comes); or a .emopack file from fer-train pack. The layout is detected."""


# ---------------------------------------------------------------------------------------------
# Commands (the settings: emocam.training.run_config; the run folder: run_folder; the export
# under TensorFlow: tf_child)


@contextmanager
def _stop_on_interrupt_or_kill() -> Iterator[None]:
    """Ctrl-C and ``kill`` stop a training with the sentence that says how to resume it, at
    a point it can be resumed from (``train.Interruption``); ``kill`` ended it without a
    word. One the process was started to ignore (a background job of a script ignores
    Ctrl-C) stays ignored (``emocam.stopping.ours``), as hang-ups keep theirs (``nohup``)."""
    from emocam.training.train import INTERRUPTION

    INTERRUPTION.reset()  # one of an earlier main() in this process is not this one's
    before = {s: signal.signal(s, INTERRUPTION.handle)
              for s in ours((signal.SIGTERM, signal.SIGINT))}
    try:
        yield
    finally:  # a program that calls main() gets its own handlers back
        for signum, handler in before.items():
            signal.signal(signum, handler)


def cmd_train(args: argparse.Namespace, command: str) -> int:
    started = time.time()  # time_limit_minutes counts from here: loading the data counts too
    cfg = resolve_config(args)
    run = Path(cfg.out)
    check_run_folder(run, args.resume)
    check_writable(run)  # before the data's minutes of decoding, not after
    with _stop_on_interrupt_or_kill(), training_lock(run):
        # Looked at again under the lock: a run that finished meanwhile is only exported.
        rc = _train_in(run, cfg, args, command, started, check_run_folder(run, args.resume))
    if rc != EXPORT_UNDER_TENSORFLOW:
        return rc
    # The run is finished and its lock given back: its export (a resume that only exports)
    # runs where TensorFlow is Keras's backend.
    again = ["-q"] if args.quiet else []
    return under_tensorflow([*again, "train", "--out", str(run), "--resume"],
                             f"fer-train export {run / 'best.keras'} --data DATA")


def _train_in(run: Path, cfg: Any, args: argparse.Namespace, command: str, started: float,
              finished: bool) -> int:
    import yaml

    from emocam.training.export import export_checkpoint, run_provenance
    from emocam.training.plots import plot_history
    from emocam.training.train import prepare_data, train

    if not args.no_export and not finished:
        warn_no_exporter()
    ds = prepare_data(cfg)  # a dataset problem surfaces before anything is written
    if args.resume:
        refuse_other_classes(run, cfg, list(ds.class_names))
    if finished:
        refuse_new_settings(run, cfg)
    make_folder(run)
    if not finished:  # a finished run's settings are the ones it was trained with
        (run / "config.yaml").write_text(yaml.safe_dump(plain(cfg.to_dict()), sort_keys=False))
    if not args.resume or not (run / "run_info.json").is_file():
        # A fresh start writes its own: one left by an attempt that failed at once into the
        # same --out named that attempt's command in the card.
        write_json(run / "run_info.json",
                    {**run_provenance(command), "class_names": list(ds.class_names)})
    t0 = time.time()
    exporting = not args.no_export and len(ds.test) > 0
    if finished:
        log.info("%s finished training already%s", run,
                 "; evaluating and exporting it again" if exporting else "")
    else:
        train(cfg, ds, started)
    plot_history(run / "history.csv", run / "curves.png")
    if not exporting:
        why = "as asked" if args.no_export else "the data has no test split"
        print(f"\n{run}: best.keras, history.csv, curves.png ({time.time() - t0:.0f} s). Not "
              f"exported ({why}); export it with: fer-train export {run / 'best.keras'} "
              "--data DATA_WITH_TEST_SPLIT")
        return 0
    if keras_backend() != "tensorflow":
        return EXPORT_UNDER_TENSORFLOW
    cache = Path(cfg.cache_dir) if cfg.cache_dir else run.parent / ".cache"
    res = export_checkpoint(run / "best.keras", run / "model.onnx", data=cfg.data,
                            cache_dir=cache, ds=ds)
    from emocam.training.evaluate import format_report, write_reports

    write_reports(res.evaluation, run)
    print(format_report(res.evaluation))
    print(f"\n{run}: model.onnx, model.md, metrics.json, confusion_*.png/txt, curves.png "
          f"({time.time() - t0:.0f} s)")
    return 0


def _model(name: str) -> Path:
    """A model file, or a built-in's name as the app takes it."""
    path = resolve_model(name)
    if not path.exists():
        raise ModelError(f"{name} does not exist; give a .keras checkpoint, an .onnx file or "
                         f"a built-in model's name ({', '.join(BUILTIN_MODELS)}).")
    return path


def cmd_evaluate(args: argparse.Namespace) -> int:
    from emocam.training.evaluate import evaluate, format_report, load_predictor, write_reports
    from emocam.training.export import load_eval_data

    model = _model(args.model)
    # A run's files are all model.onnx and best.keras: two runs' evaluations went into one
    # eval-model folder, the second's figures beside the first's confusion matrices.
    named = (f"{model.resolve().parent.name}-{model.stem}" if model.stem in ("model", "best")
             else model.stem)
    # mine.keras and its export mine.onnx are two models: one folder refused the second.
    named += "-keras" if model.suffix == ".keras" else ""
    default_out = f"eval-{named}" + ("" if args.split == "test" else f"-{args.split}")
    out = _evaluation_folder(Path(args.out) if args.out else Path(default_out), model)
    pred = load_predictor(model)
    ds = load_eval_data(args.data, pred.config, _cache_dir(args), model, (args.split,))
    metrics = evaluate(pred, ds, tta_flip=args.tta_flip, split=args.split, by_name=True)
    for old in out.glob("confusion_*"):  # an earlier evaluation's protocols, of this model
        old.unlink()
    write_reports(metrics, out)
    print(format_report(metrics))
    print(f"\nwrote {out}/metrics.json, report.txt and confusion_*.png/txt")
    return 0


def cmd_export(args: argparse.Namespace, argv: list[str]) -> int:
    from emocam.training.export import export_checkpoint

    ckpt = Path(args.checkpoint)
    if not ckpt.exists():
        raise ConfigError(f"{ckpt} does not exist; give a run's best.keras.")
    out = _output_file(Path(args.out) if args.out else ckpt.parent / "model.onnx", ".onnx")
    if keras_backend() != "tensorflow":
        return under_tensorflow(argv, "this export")
    res = export_checkpoint(ckpt, out, data=args.data,
                            cache_dir=_cache_dir(args),
                            name=args.name, command=args.train_command, mirror=args.mirror)
    m = res.info.metrics
    line = (f"{out}: test accuracy {m['test_accuracy'] * 100:.2f}% ({m['test_protocol']}, "
            f"{m['test_images']} images)")
    if "test_accuracy_argmax_votes" in m:
        line += (f", {m['test_accuracy_argmax_votes'] * 100:.2f}% argmax of votes "
                 f"({m['test_images_argmax_votes']} images)")
    print(line + f"; temperature {m['temperature']:g}, ECE {m['ece_before'] * 100:.1f}% -> "
          f"{m['ece_after'] * 100:.1f}%; card {res.card_path}{_relisted(out)}")
    return 0


def _exported_onnx(text: str) -> Path:
    """An exported model: a file, or a built-in's name as the app and ``evaluate`` take it."""
    model = resolve_model(text)
    if not model.exists():
        raise ConfigError(f"{model} does not exist; give a model fer-train exported or a "
                          f"built-in model's name ({', '.join(BUILTIN_MODELS)}).")
    if not model.is_file() or model.suffix != ".onnx":
        raise ConfigError(f"{model} is not an .onnx file; give a model fer-train exported.")
    return model


def _beside(model: Path, name: str, given: str) -> Path:
    """Where a command writes a file made from ``model`` when no --out is given: beside it,
    or in the current folder for a built-in's name (not into the installed package)."""
    return Path(name) if given in BUILTIN_MODELS else model.with_name(name)


def _output_file(out: Path, suffix: str, flag: str = "--out") -> Path:
    """A file a command is about to write: refused in one sentence before any work when it
    cannot be (a folder there, a file where its folder would be, the wrong kind of name).
    Its folder is made where missing, as other tools make theirs."""
    if out.suffix != suffix:
        raise ConfigError(f"{flag} {out} must end in {suffix}.")
    if out.is_dir():
        raise ConfigError(f"{flag} {out} is a folder; give a file name ending in {suffix}.")
    # The nearest part of the path that exists must be a folder: mkdir's own error named
    # neither the flag nor the file in the way.
    there = next((p for p in out.parents if p.exists()), Path("."))
    if not there.is_dir():
        raise ConfigError(f"{flag} {out}: {there} is a file, not a folder; give a path "
                          "inside a folder.")
    make_folder(out.parent)
    return out


def _output_folder(out: Path, flag: str) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {out} is a file; give a folder.")
    return out


def _evaluation_folder(out: Path, model: Path) -> Path:
    """Where ``evaluate`` writes: refused, before any work, when it holds a training run
    (whose metrics.json it would replace) or another model's evaluation."""
    from emocam.jsonread import read_object

    _output_folder(out, "--out")
    if any((out / n).exists() for n in ("best.keras", "history.csv", "config.yaml")):
        raise ConfigError(f"--out {out} holds a training run, whose metrics.json this "
                          "evaluation would replace; give another folder.")
    earlier = read_object(out / "metrics.json") if (out / "metrics.json").is_file() else None
    theirs = earlier.get("model") if earlier else None
    # Recorded as typed, maybe relative to another folder: the same file by its last parts.
    if isinstance(theirs, str) and Path(theirs).parts[-2:] != model.resolve().parts[-2:]:
        raise ConfigError(f"--out {out} holds the evaluation of {theirs}; give another folder "
                          f"(or remove that one) to evaluate {model.name}.")
    return out


def _cache_dir(args: argparse.Namespace) -> Path | None:
    return _output_folder(Path(args.cache_dir), "--cache-dir") if args.cache_dir else None


def _target(model: Path, out: str | None) -> Path:
    """Where a command that changes ``model`` writes: ``out``, else the file itself, unless it
    is a shipped model (its checksum is listed beside it, and the app would call it damaged)."""
    from emocam.integrity import SUMS, listed_digest

    target = Path(out) if out else model
    if target.resolve() == model.resolve() and listed_digest(model.parent, model.name):
        raise ConfigError(f"{model} is one of emocam's shipped models (checked against "
                          f"{model.parent / SUMS}); write the changed model elsewhere with "
                          "--out.")
    return target


def cmd_quantize(args: argparse.Namespace) -> int:
    from emocam.training.export import load_eval_data
    from emocam.training.onnx_weights import refuse_int8
    from emocam.training.quantize import quantize_int8

    model = _exported_onnx(args.model)
    if not 0 <= args.max_drop <= 100:
        raise ConfigError(f"--max-drop {args.max_drop:g}: give points of accuracy, 0 to 100.")
    out = _output_file(Path(args.out) if args.out
                       else _beside(model, f"{model.stem}-int8.onnx", args.model), ".onnx")
    refuse_int8(model)  # before the data's minutes of decoding
    ds = load_eval_data(args.data, None, _cache_dir(args), model, ("test",))
    f = quantize_int8(model, ds, out, max_drop=args.max_drop / 100)
    print(f"{out}: {f['protocol']} accuracy {f['accuracy_fp32'] * 100:.2f}% -> "
          f"{f['accuracy_int8'] * 100:.2f}%, {f['bytes_fp32'] / 1e6:.2f} -> "
          f"{f['bytes_int8'] / 1e6:.2f} MB; card {f['card']}{_relisted(out)}")
    return 0


def _relisted(out: Path) -> str:
    """A remade shipped file keeps its checksum line true; the note that says so."""
    from emocam.integrity import SUMS, relist

    return f"; its line in {out.parent / SUMS} was updated" if relist(out) else ""


def cmd_pack(args: argparse.Namespace) -> int:
    from emocam.training.data import load_raw
    from emocam.training.pack import PACK_SUFFIX, SPLITS, write_pack

    out = _output_file(Path(args.out), PACK_SUFFIX, "-o")
    if out.exists() and out.resolve() == Path(args.data).resolve():
        raise ConfigError(f"-o {out} is the pack being read; write the new pack to another "
                          "file.")
    wanted = [p for p in args.splits.replace(" ", "").split(",") if p]
    unknown = [p for p in wanted if p not in SPLITS]
    if unknown or "train" not in wanted:
        raise ConfigError(f"--splits {args.splits}: list train and any of valid, test "
                          "(e.g. train,valid).")
    t0 = time.time()
    raw = load_raw(args.data)
    raw.splits = {k: v for k, v in raw.splits.items() if k in wanted}
    size = write_pack(raw, out)
    counts = ", ".join(f"{len(v)} {k}" for k, v in raw.splits.items())
    raw_mb = sum(v.images.nbytes for v in raw.splits.values()) / 1e6
    print(f"{out}: {counts} images, {size / 1e6:.1f} MB ({raw_mb:.1f} MB of pixels, lossless; "
          f"{time.time() - t0:.0f} s). Train on it with fer-train train --data {out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:

    from emocam.modelinfo import TEMPERATURES, read_model_info
    from emocam.training.card import note_change, write_derived_card
    from emocam.training.export import set_metadata

    model = _exported_onnx(args.model)
    out = _output_file(_target(model, args.out), ".onnx")
    low, high = TEMPERATURES  # what the app reads: anything else makes a file it refuses
    if args.temperature is not None and not low <= args.temperature <= high:
        raise ConfigError(f"--temperature {args.temperature}: give a number from {low:g} to "
                          f"{high:g}.")
    if args.uncertain_below is not None and not 0 <= args.uncertain_below < 1:
        raise ConfigError(f"--uncertain-below {args.uncertain_below}: give a probability, "
                          "0 to 1.")
    info = read_model_info(model)
    new = dataclasses.replace(
        info,
        temperature=info.temperature if args.temperature is None else args.temperature,
        uncertain_below=(info.uncertain_below if args.uncertain_below is None
                         else args.uncertain_below))
    in_place = out.resolve() == model.resolve()
    if not in_place:
        shutil.copyfile(model, out)
    set_metadata(out, new)
    where = f", chosen on {args.fitted_on}" if args.fitted_on else ""
    if in_place:
        noted = note_change(out, f"temperature {info.temperature:g} -> {new.temperature:g}, "
                            f"uncertain below {info.uncertain_below} -> {new.uncertain_below}"
                            f"{where} (fer-train calibrate)")
    else:
        card = write_derived_card(new, _calibration(model, info, new, args.fitted_on),
                                  out.with_suffix(".md"))
        noted = f"; card {card}"
    print(f"{out}: temperature {info.temperature:g} -> {new.temperature:g}, uncertain below "
          f"{info.uncertain_below} -> {new.uncertain_below}{_relisted(out)}{noted}")
    return 0


def _calibration(model: Path, old: Any, new: Any, fitted_on: str | None) -> Any:
    """What a calibrated copy's card says changed, and which of its source's figures hold."""
    from emocam.training.card import Derivation, headline

    changed = [f"temperature changed from {old.temperature:g} to {new.temperature:g}"
               if new.temperature != old.temperature else "",
               f"uncertain threshold changed from {old.uncertain_below} to "
               f"{new.uncertain_below}" if new.uncertain_below != old.uncertain_below else ""]
    change = ", ".join(c for c in changed if c) or "temperature and threshold kept"
    change += (f", chosen on {fitted_on}" if fitted_on else
               ", set by hand (fer-train saw no data; --fitted-on records the faces they were "
               "chosen on)")
    recorded = headline(old)
    figures = (f"its accuracy is `{model.name}`'s{f', {recorded}' if recorded else ''}, as "
               "its metadata records (a temperature does not change which class wins)")
    if new.temperature != old.temperature:
        figures += (f"; the calibration errors (ECE) recorded for `{model.name}` are of "
                    f"temperature {old.temperature:g}, not of this file's {new.temperature:g}")
    if new.uncertain_below != old.uncertain_below:
        figures += (f"; the share of faces flagged uncertain recorded for `{model.name}` is "
                    f"of threshold {old.uncertain_below}, not of this file's "
                    f"{new.uncertain_below}")
    return Derivation(model, "calibrate", change, figures + ".")


def _class_values(items: list[str] | None, flag: str, names: tuple[str, ...]
                  ) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        name, _, text = item.partition("=")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if name.strip() not in names or not math.isfinite(value):
            raise ConfigError(f"{flag} {item}: give CLASS=NUMBER with a class of "
                              f"{', '.join(names)}.")
        out[name.strip()] = value
    return out


def cmd_adjust(args: argparse.Namespace) -> int:

    from emocam.modelinfo import read_model_info
    from emocam.training.adjust import (
        RECORD_KEY,
        Adjustment,
        check_adjustable,
        choose,
        class_prior,
        record,
        recorded_shift,
        write_shift,
    )
    from emocam.training.card import Derivation, note_change, write_derived_card
    from emocam.training.data import data_name
    from emocam.training.evaluate import (
        describe_protocol,
        eval_labels,
        load_predictor,
        protocols_for,
    )
    from emocam.training.export import load_eval_data

    model = _exported_onnx(args.model)
    out = _output_file(_target(model, args.out), ".onnx")
    info = read_model_info(model)
    check_adjustable(model, info)
    names = tuple(info.class_names)
    offsets = _class_values(args.offset, "--offset", names)
    goals = _class_values(args.min_recall, "--min-recall", names)
    if any(not 0 <= g <= 1 for g in goals.values()):
        raise ConfigError("--min-recall takes a recall from 0 to 1, e.g. contempt=0.3.")
    if args.tau is not None and not 0 <= args.tau <= 2:
        raise ConfigError(f"--tau {args.tau}: give a value from 0 to 2.")
    ds = load_eval_data(args.data, None, _cache_dir(args), model, ("valid",))
    if tuple(ds.class_names) != names:
        raise ConfigError(f"{args.data} has classes {', '.join(ds.class_names)}, {model} "
                          f"{', '.join(names)}; give the data the model was trained on.")
    if not len(ds.train) or not len(ds.valid):
        raise ConfigError(f"{args.data} lacks a training or validation split; the adjustment "
                          "needs both (the class prior, and the split to choose on).")
    prior = class_prior(ds.train.targets)
    before = recorded_shift(info, model)
    proto = protocols_for(ds.valid)[0]
    labels = eval_labels(ds.valid, proto)
    ok = labels >= 0
    plain = load_predictor(model).logits(ds.valid.images)[ok] - before
    choice, tried = choose(plain, labels[ok], prior, names, args.max_cost / 100,
                           {k: v for k, v in goals.items() if k not in offsets}, args.tau)
    adjustment = Adjustment(choice.adjustment.tau, {**choice.adjustment.offsets, **offsets})
    shift = adjustment.shift(prior, names)
    accuracy = _accuracy(plain + shift, labels[ok])
    alone = _accuracy(plain, labels[ok])
    print(f"validation ({describe_protocol(proto, ds).split(' (')[0]}, scored on the "
          f"validation split, {int(ok.sum())} images): the network alone "
          f"{alone * 100:.2f}%")
    if (alone - accuracy) * 100 > args.max_cost:
        # --max-cost bounds the tau it chooses, not what --min-recall or --offset ask: a
        # recall asked of contempt cost 12 points unsaid.
        log.warning("this adjustment costs %.2f points of validation accuracy (%.2f%% -> "
                    "%.2f%%), more than --max-cost %g; the recall asked (--min-recall) or the "
                    "offsets given cost it.", (alone - accuracy) * 100, alone * 100,
                    accuracy * 100, args.max_cost)
    for c in tried:
        rec = ", ".join(f"{k} {v:.0%}" for k, v in c.recall.items())
        print(f"  tau {c.adjustment.tau:<4g} {c.accuracy * 100:.2f}%  recall {rec}")
    rule = (f"chosen on the {proto} validation split by fer-train adjust"
            + (f" --tau {args.tau:g}" if args.tau is not None else f" --max-cost {args.max_cost:g}")
            + "".join(f" --min-recall {k}={v:g}" for k, v in goals.items() if k not in offsets)
            + "".join(f" --offset {k}={v:g}" for k, v in offsets.items()))
    training = {**info.training, RECORD_KEY: record(adjustment, prior, shift, rule)}
    # Test figures describe the old logits; keep only what the shift leaves unchanged.
    metrics = {k: v for k, v in info.metrics.items()
               if k in ("parameters", "macs_per_face", "parity_max_abs_diff")}
    metrics["valid_accuracy"] = round(accuracy, 4)
    new = dataclasses.replace(info, training=training, metrics=metrics)
    write_shift(model, out, shift - before, new)
    in_place = out.resolve() == model.resolve()
    if in_place:
        noted = note_change(out, f"logit adjustment {adjustment.describe()} (fer-train "
                            "adjust); its test figures are no longer these")
    else:
        card = write_derived_card(new, Derivation(
            model, "adjust", f"logits adjusted by {adjustment.describe()}, {rule}",
            f"validation accuracy {alone * 100:.2f}% (the network without any adjustment) -> "
            f"{accuracy * 100:.2f}% on the validation split of {data_name(ds.description)} "
            f"({describe_protocol(proto, ds).split(' (')[0]}, {int(ok.sum())} images); "
            f"`{model.name}`'s test figures are not this file's: measure its own with "
            "fer-train evaluate."), out.with_suffix(".md"))
        noted = f"; card {card}"
    print(f"{out}: logit adjustment {adjustment.describe()}; validation accuracy "
          f"{accuracy * 100:.2f}%{_relisted(out)}{noted}. Its test figures were dropped from the "
          "metadata: measure them with fer-train evaluate, recalibrate with fer-train "
          "calibrate, and quantize it again for int8.")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from emocam.training.adjust import recorded_shift
    from emocam.training.compare import ROUNDS, paired_difference
    from emocam.training.data import DataError
    from emocam.training.evaluate import (
        class_report,
        describe_protocol,
        eval_labels,
        load_predictor,
        match_classes,
        protocols_for,
    )
    from emocam.training.export import load_eval_data

    paths = [_model(m) for m in [args.baseline, *args.candidates]]
    preds = [load_predictor(p) for p in paths]
    ds = load_eval_data(args.data, preds[0].config,
                        _cache_dir(args), paths[0], (args.split,))
    part = getattr(ds, args.split)
    proto = protocols_for(part)[0]
    protocol = describe_protocol(proto, ds).split(" (")[0] + (
        "" if args.split == "test" else f", scored on the {args.split} split")
    labels = eval_labels(part, proto)
    ok = labels >= 0
    labels = labels[ok]
    if not len(labels):
        raise DataError(f"{ds.description} has no {args.split} images that the {protocol} "
                        "scores; give data that has them.")
    answers, notes = [], []
    for pred in preds:
        match = match_classes(pred, ds, part, "compare")
        logits = pred.logits(part.images, args.tta_flip)[ok]
        if args.without_adjustment and pred.info is not None:
            logits = logits - recorded_shift(pred.info, pred.path)
        answers.append(match.pick(logits).argmax(axis=1))
        notes.append(f"\n  classes: {match.note}" if match.note else "")
    base = answers[0]
    base_classes = class_report(labels, base, ds.class_names)["per_class"]
    print(f"{ds.description}, {args.split} split: {protocol}, {len(labels)} images"
          + (", each face averaged with its mirror" if args.tta_flip else "")
          + (", logit adjustments undone" if args.without_adjustment else "")
          + f"; 95% intervals of each difference from {ROUNDS} resamplings of the images.")
    recall = ", ".join(f"{name} {c['recall'] * 100:.0f}% of {c['support']}"
                       for name, c in base_classes.items() if c["support"])
    print(f"baseline {paths[0]}: {(base == labels).mean() * 100:.2f}%{notes[0]}\n  recall: "
          f"{recall}")
    for path, answer, note in zip(paths[1:], answers[1:], notes[1:], strict=True):
        d = paired_difference(base == labels, answer == labels)
        print(f"{path}: {d.candidate * 100:.2f}%, {d.difference * 100:+.2f} points "
              f"(95% {d.low * 100:+.2f} to {d.high * 100:+.2f}): {d.verdict}; right here "
              f"alone on {d.only_candidate} images, the baseline alone on {d.only_baseline}"
              f"{note}")
        mine = class_report(labels, answer, ds.class_names)["per_class"]
        print("  recall (the baseline's): " + ", ".join(
            f"{name} {c['recall'] * 100:.0f}% ({base_classes[name]['recall'] * 100:.0f}%)"
            for name, c in mine.items() if c["support"]))
    return 0


def _accuracy(logits: Any, labels: Any) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def cmd_rebuild(args: argparse.Namespace) -> int:
    import numpy as np

    from emocam.modelinfo import read_model_info
    from emocam.training.adjust import recorded_shift
    from emocam.training.evaluate import load_predictor
    from emocam.training.export import load_eval_data
    from emocam.training.keras_import import keras_module
    from emocam.training.onnx_weights import SAMPLE_IMAGES, keras_from_onnx, sample_images

    model = _exported_onnx(args.model)
    out = _output_file(Path(args.out) if args.out else Path(f"{model.stem}.keras"), ".keras")
    info = read_model_info(model)
    keras_module()  # a backend that cannot load is said before the data is decoded
    ds = load_eval_data(args.data, None, _cache_dir(args), model)
    net = keras_from_onnx(model, sample_images(ds.train.images, info.normalization))
    # Validation faces: none of them were in the sample batch normalisation was measured on.
    images = (ds.valid.images if len(ds.valid) else ds.train.images[::-1])[:SAMPLE_IMAGES]
    theirs = load_predictor(model).logits(images) - recorded_shift(info, model)
    ours = net.predict(sample_images(images, info.normalization), verbose=0)
    net.save(out)
    mirrored = "" if np.abs(ours - theirs).max() < 1e-3 else (
        " (the file averages each face with its mirror image; the checkpoint is the network "
        "alone: train with teacher_flip or evaluate with --tta-flip for the file's figures)")
    print(f"{out}: the network of {model.name}, {net.count_params()} parameters; its logits "
          f"differ from the file's by at most {np.abs(ours - theirs).max():.1g} on "
          f"{len(images)} images{mirrored}.")
    return 0


def cmd_detector_onnx(args: argparse.Namespace) -> int:
    from emocam.training.detector_onnx import convert

    src = Path(args.tflite)
    if not src.is_file():
        raise ConfigError(f"{src} does not exist; give the BlazeFace short-range .tflite file.")
    out = _output_file(Path(args.out) if args.out else src.with_suffix(".onnx"), ".onnx")
    diff = convert(src, out)
    print(f"{out}: converted from {src.name}, largest output difference {diff:.2g}"
          f"{_relisted(out)}")
    return 0


# ---------------------------------------------------------------------------------------------
# Entry point


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fer-train", description=__doc__.split("\n")[0])
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the results")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "train", help="train a model, then evaluate and export it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model, then evaluate and export it.\n\n" + DATA_HELP)
    t.add_argument("--data", help="fer2013.csv, the Kaggle train/ test/ folders or FER+ folders, "
                   "or a .zip of them")
    t.add_argument("--preset", choices=("quick", "full", "teacher"),
                   help="quick: a smoke run of minutes; full: the shipped model's network "
                        "and recipe, from scratch (default; the shipped weights came from a "
                        "GPU lease with distillation, python -m emocam.training.lease: see "
                        "the model card); teacher: a 4x larger model to distil from, for a GPU")
    t.add_argument("--label-mode", choices=LABEL_MODES,
                   help="FER+: majority or distribution (auto: distribution); FER2013: fer2013")
    t.add_argument("--out", help="run folder (default runs/<time>-<preset>)")
    t.add_argument("--config", help="YAML file of settings (as in a run's config.yaml)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one setting, e.g. epochs=10 or model.widths=16,32,64,128")
    t.add_argument("--no-export", action="store_true",
                   help="train only (e.g. on a machine without TensorFlow); export later")
    t.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out (or re-export a finished one)")

    e = sub.add_parser("evaluate", help="test-split (or validation) figures of a model")
    e.add_argument("model", help="a .keras checkpoint, an .onnx file or a built-in model's "
                                 f"name ({', '.join(BUILTIN_MODELS)})")
    e.add_argument("--data", help="dataset (default: the one the run was trained on); a "
                   "model with a class the data lacks (FER+'s contempt in FER2013) is scored "
                   "over the data's classes, matched by name")
    e.add_argument("--tta-flip", action="store_true",
                   help="average the logits of each image and its mirror")
    e.add_argument("--split", choices=("test", "valid"), default="test",
                   help="score the test split (the default) or the validation split, the one "
                        "to choose between models or settings on")
    e.add_argument("--out", help="folder for metrics.json and figures (default eval-<model>, "
                                 "eval-<model>-valid for --split valid)")
    e.add_argument("--cache-dir", help="where decoded datasets are cached")

    x = sub.add_parser("export", help="convert a checkpoint to ONNX with metadata and a card")
    x.add_argument("checkpoint")
    x.add_argument("--out", help="ONNX file to write, its card (.md) beside it (default: "
                   "model.onnx in the run folder); a missing folder is made")
    x.add_argument("--data", help="dataset (default: the one the run was trained on)")
    x.add_argument("--cache-dir", help="where decoded datasets are cached")
    x.add_argument("--name", help="model name stored in the metadata")
    x.add_argument("--train-command",
                   help="the training command to record when the run folder lacks run_info.json")
    x.add_argument("--mirror", action="store_true",
                   help="the model reads each face and its mirror image and averages the two "
                        "(twice the compute; what evaluate --tta-flip measures)")

    q = sub.add_parser("quantize", help="an int8 variant of an exported .onnx model, written "
                       "only when it keeps its accuracy")
    q.add_argument("model", help="a float .onnx model fer-train exported, or a built-in's name")
    q.add_argument("--data", required=True, help="the dataset the model was trained on")
    q.add_argument("--out", help="ONNX file to write (default: MODEL-int8.onnx beside it; in "
                   "the current folder for a built-in's name), with its card (.md) beside it")
    q.add_argument("--max-drop", type=float, default=0.3, metavar="POINTS",
                   help="largest accuracy loss allowed, in points (default 0.3)")
    q.add_argument("--cache-dir", help="where decoded datasets are cached")

    k = sub.add_parser("pack", help="write a dataset as one compact lossless file (for "
                       "moving it to a training machine); --data accepts it")
    k.add_argument("data", help="fer2013.csv, the Kaggle train/ test/ folders or FER+ folders, "
                   "or a .zip of them")
    k.add_argument("-o", "--out", required=True, help="the .emopack file to write")
    k.add_argument("--splits", default="train,valid,test",
                   help="which splits to keep (default train,valid,test; train,valid is "
                        "enough to train)")

    c = sub.add_parser("calibrate", help="set an exported model's temperature and uncertain "
                       "threshold (e.g. fitted on faces from your own cameras)")
    c.add_argument("model", help="an .onnx model fer-train exported, or a built-in's name")
    c.add_argument("--temperature", type=float, help="softmax(logits / T)")
    c.add_argument("--uncertain-below", type=float, metavar="P",
                   help="show a face as uncertain below this calibrated probability")
    c.add_argument("--out", help="ONNX file to write (default: the model, changed in place); "
                   "it gets a card (.md) that says what it was made from and what changed")
    c.add_argument("--fitted-on", metavar="TEXT", help="the faces the values were chosen on, "
                   "for the card (e.g. \"400 faces from our 3 cameras\")")

    a = sub.add_parser(
        "adjust", help="shift an exported model's logits towards rare classes (post-hoc logit "
        "adjustment), chosen on the validation split")
    a.add_argument("model", help="a float .onnx model fer-train exported, or a built-in's "
                   "name")
    a.add_argument("--data", required=True, help="the dataset the model was trained on (its "
                   "training split gives the class prior, its validation split the choice)")
    a.add_argument("--out", help="ONNX file to write (default: the model, replaced); it gets "
                   "a card (.md) that says what it was made from and what changed")
    a.add_argument("--tau", type=float, help="the prior correction -tau*log(prior) (default: "
                   "the largest, in steps of 0.05, costing at most --max-cost; 0 removes it)")
    a.add_argument("--max-cost", type=float, default=0.75, metavar="POINTS",
                   help="validation accuracy the prior correction may cost (default 0.75)")
    a.add_argument("--min-recall", action="append", metavar="CLASS=R",
                   help="raise CLASS's logit (steps of 0.25) until its validation recall is "
                        "at least R, e.g. contempt=0.3")
    a.add_argument("--offset", action="append", metavar="CLASS=X",
                   help="add X to CLASS's logit (instead of a --min-recall search)")
    a.add_argument("--cache-dir", help="where decoded datasets are cached")

    v = sub.add_parser(
        "compare", help="is a model better than another on the same faces: accuracies, their "
                        "paired difference with a 95%% interval, and each class's recall")
    v.add_argument("baseline", help="a .keras checkpoint, an .onnx file or a built-in model's "
                                    f"name ({', '.join(BUILTIN_MODELS)})")
    v.add_argument("candidates", nargs="+", metavar="candidate", help="models to compare with it")
    v.add_argument("--data", help="dataset (default: the one the baseline was trained on); "
                   "each model is scored over the data's classes, matched by name")
    v.add_argument("--split", choices=("valid", "test"), default="valid",
                   help="the validation split (the default: the one to choose models on) or test")
    v.add_argument("--tta-flip", action="store_true",
                   help="average the logits of each image and its mirror")
    v.add_argument("--without-adjustment", action="store_true",
                   help="undo each .onnx file's recorded logit adjustment (fer-train adjust), to "
                        "compare the networks alone, as their checkpoints are")
    v.add_argument("--cache-dir", help="where decoded datasets are cached")

    r = sub.add_parser(
        "rebuild", help="the Keras checkpoint of an exported .onnx model (to train it further, "
        "or to distil from it on a GPU, where a teacher runs as Keras)")
    r.add_argument("model", help="a float .onnx model fer-train exported, or a built-in's "
                   "name")
    r.add_argument("--data", required=True, help="the dataset the model was trained on (batch "
                   "normalisation is measured on its training images)")
    r.add_argument("--out", help="the .keras file to write (default: MODEL.keras here)")
    r.add_argument("--cache-dir", help="where decoded datasets are cached")

    d = sub.add_parser("detector-onnx", help="convert the BlazeFace short-range .tflite to "
                       "the ONNX file emocam follows known faces with")
    d.add_argument("tflite", nargs="?", default="models/face_detection_short_range.tflite")
    d.add_argument("--out", help="ONNX file to write (default: the .tflite name, .onnx)")
    return p


# The modules of the training extras (pip install "emocam[train]") each command imports;
# the ONNX export's own (TensorFlow, tf2onnx) are said by the export, which may run apart.
_NEEDS: dict[str, tuple[str, ...]] = {
    "train": ("yaml", "keras"), "export": ("keras",), "rebuild": ("keras", "onnx"),
    "calibrate": ("onnx",), "quantize": ("onnx",), "adjust": ("onnx",),
    "detector-onnx": ("onnx", "tf2onnx", "tensorflow"),
}
_PACKAGE_OF = {"yaml": "PyYAML"}


def _missing_extras(command: str) -> list[str]:
    import importlib.util

    return [_PACKAGE_OF.get(m, m) for m in _NEEDS.get(command, ())
            if importlib.util.find_spec(m) is None]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # onnxruntime (the export's parity check, evaluation) would report usage to Microsoft.
    from emocam.offline import keep_native_libraries_offline

    keep_native_libraries_offline()
    args = build_parser().parse_args(argv)
    # force: a handler another tool left on the root logger (emocam's, in one process)
    # would write fer-train's lines to a stream that may be closed.
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        force=True)
    missing = _missing_extras(args.command)
    if missing:
        # Before anything is written: a run folder, or a copy of the model under --out
        # (calibrate), was left by a ModuleNotFoundError traceback.
        print(f"fer-train: {args.command} needs {' and '.join(missing)}, of the training "
              'extras; install them with pip install "emocam[train]".', file=sys.stderr)
        return 2
    made_folders.forget()
    rc = 1
    try:
        rc = _run(args, argv)
        return rc
    finally:
        if rc != 0:  # refused or failed: no empty folder of its own is left behind
            made_folders.take_back()


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        # A child of the export's: a Ctrl-C held back while it started is raised here.
        hear_ctrl_c_if_asked()
        if args.command == "train":
            return cmd_train(args, "fer-train " + shlex.join(argv))
        if args.command == "evaluate":
            return cmd_evaluate(args)
        if args.command == "quantize":
            return cmd_quantize(args)
        if args.command == "calibrate":
            return cmd_calibrate(args)
        if args.command == "pack":
            return cmd_pack(args)
        if args.command == "adjust":
            return cmd_adjust(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "rebuild":
            return cmd_rebuild(args)
        if args.command == "detector-onnx":
            return cmd_detector_onnx(args)
        return cmd_export(args, argv)
    except UserError as e:
        print(f"fer-train: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        quiet_closed_stdout()
        return EXIT_READER_GONE
    except OSError as e:
        # A full disk, a read-only folder: the user's place to write, not a bug.
        where = f"{e.filename}: " if e.filename else ""
        print(f"fer-train: {where}{e.strerror or e}; choose another place to write (--out), "
              "or free some space.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "train" and getattr(args, "out", None):
            print(f"fer-train: interrupted; continue it with fer-train train --out "
                  f"{shlex.quote(str(args.out))} --resume.", file=sys.stderr)
        else:
            print("fer-train: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
