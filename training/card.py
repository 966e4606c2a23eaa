"""The model card: a markdown page that ships beside each exported ONNX model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emocam.errors import ModelError
from emocam.modelinfo import ModelInfo, read_model_info
from emocam.training.data import has_own_photos, is_own_data
from emocam.training.evaluate import confusion_text

# Published figures on the same test sets, for context (see the papers for their protocols).
REFERENCES = {
    "majority": "VGG13 (Barsoum et al. 2016) 84.9% majority vote; a 0.17M-parameter "
    "separable CNN 86.87% (best of 5 runs)",
    "privatetest": "mini-Xception, about 60k parameters (Arriaga et al. 2017) about 66%; a "
    "0.17M-parameter separable CNN 69.45% (best of 5 runs)",
}


def _uncertain_lines(info: ModelInfo) -> list[str]:
    m = info.metrics
    if info.uncertain_below is None:
        return []
    return [
        f"The app shows a face as \"uncertain\" below a calibrated confidence of "
        f"{info.uncertain_below:.2f}: the point where, on the validation split, a label is "
        "more often wrong than right (a logistic fit of correctness on confidence). On the "
        f"test split that flags {_pct(m.get('uncertain_fraction_test'))} of faces, whose "
        f"labels are right {_pct(m.get('uncertain_accuracy_test'))} of the time, against "
        f"{_pct(m.get('certain_accuracy_test'))} for the rest.",
        "",
    ]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f}%"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "unknown"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def _architecture(t: dict[str, Any]) -> str:
    m = t.get("model") or {}
    if not m:
        return "unknown"
    if m.get("block") == "plain":
        body = "stages of 3x3 convolutions (BatchNorm + ReLU), 2x2 max pooling between stages"
    else:
        body = "stages of residual depthwise-separable blocks, stride 2 between stages"
    return (f"a {m.get('stem')}-channel 3x3 stem convolution, then {body}; stage widths "
            f"{', '.join(map(str, m.get('widths', [])))} with "
            f"{', '.join(map(str, m.get('blocks', [])))} layers per stage; global average "
            f"pooling, dropout {m.get('dropout')}, one dense layer to the logits")


def _mirror_lines(t: dict[str, Any]) -> list[str]:
    if not t.get("mirror_averaged"):
        return []
    return ["", "The exported graph runs the network on each face and on its mirror image and "
            "averages the two sets of logits (`fer-train export --mirror`), so the app gets "
            "horizontal-flip test-time augmentation without knowing of it; the multiply-adds "
            "above count both passes. Every figure on this card is of that graph."]


def _results(info: ModelInfo, evaluation: dict[str, Any], own: bool) -> list[str]:
    protos = evaluation["protocols"]
    lines = ["| protocol | test images | accuracy | macro-F1 |", "|---|---|---|---|"]
    for key, rep in protos.items():
        lines.append(f"| {key} | {rep['images']} of {evaluation['images_total']} | "
                     f"{_pct(rep['accuracy'])} | {_pct(rep['macro_f1'])} |")
    lines.append("")
    for key, rep in protos.items():
        lines.append(f"- **{key}**: {rep['description']}.")
    primary = evaluation["primary"]
    if primary in REFERENCES and not own:  # FER2013's figures are not on your photos
        lines += ["", f"For context, published figures on this test set: {REFERENCES[primary]}."]
    rep = protos[primary]
    lines += ["", f"Per class ({primary}):", "",
              "| class | precision | recall | test images |", "|---|---|---|---|"]
    for c, pc in rep["per_class"].items():
        lines.append(f"| {c} | {_pct(pc['precision'])} | {_pct(pc['recall'])} | "
                     f"{pc['support']} |")
    lines += ["", f"Confusion matrix ({primary}; rows true class, columns predicted):", "",
              "```", confusion_text(rep, info.class_names), "```"]
    return lines


_YOURS = ("their licence, and the consent of the people in them, are for whoever trained it "
          "to state here.")


def _licence(plus: bool, own: bool, some_own: bool) -> list[str]:
    if own:
        return ["- The training images are the photos this model was trained on, not FER2013: "
                + _YOURS, "- The code that trained and exports the model is emocam's (MIT)."]
    lines = ["- The training images are the FER2013 images (ICML 2013 representation-learning "
             "challenge, distributed through Kaggle). They were collected from the web and are "
             "released for research use only; this model inherits that restriction, so check it "
             "before any commercial use."]
    if plus:
        lines.append("- The labels are Microsoft's FER+ relabelling (10 crowd annotators per "
                     "image), MIT licence, Copyright (c) Microsoft Corporation (FER+'s "
                     "LICENSE.md, shipped with the data as FERPLUS_LICENSE.md).")
    if some_own:
        lines.append("- Some training images are photos added to them, not FER2013's: " + _YOURS)
    lines.append("- The code that trained and exports the model is emocam's (MIT).")
    return lines


def _ancestry(t: dict[str, Any]) -> list[str]:
    """The models this one's weights came from or learned from, as the run named them."""
    lines = []
    if t.get("init_weights"):
        lines.append(f"- Started from the weights of `{t['init_weights']}`.")
    if t.get("teacher"):
        lines.append(f"- Distilled from `{t['teacher']}`.")
    return lines


def _inherited_licence(t: dict[str, Any]) -> list[str]:
    """A model started from or taught by another carries what restricts that one's images:
    a card of your own photos said only that their licence was yours to state."""
    sources = [str(t[k]) for k in ("init_weights", "teacher") if t.get(k)]
    if not sources:
        return []
    return [f"- Its weights started from, or learned from, {' and '.join(sources)}: whatever "
            "restricts the images those were trained on restricts this model too (emocam's "
            "built-in models were trained on FER2013's images, for research use only)."]


def render_card(info: ModelInfo, evaluation: dict[str, Any]) -> str:
    m, t = info.metrics, info.training
    plus = "argmax_votes" in evaluation["protocols"]
    own = is_own_data(str(t.get("data", "")))
    some_own = has_own_photos(str(t.get("data", ""))) and not own
    calib = evaluation.get("calibration") or {}
    names = ", ".join(info.class_names)
    lines = [
        f"# {info.name}",
        "",
        f"An emotion classifier for {info.input_size}x{info.input_size} gray face crops, "
        f"run by emocam on every detected face when it is the model chosen (`--model FILE`, "
        f"or View > Choose Model in the app). It outputs {len(info.class_names)}"
        f" logits ({names}); the app applies softmax(logits / {info.temperature:g}).",
        "",
        "| | |", "|---|---|",
        f"| test accuracy ({m.get('test_protocol')}) | {_pct(m.get('test_accuracy'))} on "
        f"{m.get('test_images')} images |",
    ]
    if plus:
        lines.append(f"| test accuracy (argmax of votes) | "
                     f"{_pct(m.get('test_accuracy_argmax_votes'))} on "
                     f"{m.get('test_images_argmax_votes')} images |")
    lines += [
        f"| test macro-F1 ({m.get('test_protocol')}) | {_pct(m.get('test_macro_f1'))} |",
        f"| parameters | {m.get('parameters', 0):,} |",
        f"| multiply-adds per face | {m.get('macs_per_face', 0) / 1e6:.1f} M |",
        f"| input | `input`, float32 {info.layout} (N, {info.input_size}, {info.input_size}, 1), "
        f"(pixels * {info.normalization.scale:.6g} - {info.normalization.mean:g}) "
        f"/ {info.normalization.std:g} |",
        f"| output | `logits` (N, {len(info.class_names)}) |",
        f"| face crop | detector box x {info.crop.scale:g}, centre moved by "
        f"{info.crop.shift_y:g} box sides vertically |",
        "",
        "## Architecture",
        "",
        f"The network: {_architecture(t)}. "
        f"{m.get('parameters', 0):,} parameters, {m.get('macs_per_face', 0) / 1e6:.1f} M "
        "multiply-adds per face. Exported to ONNX (opset 17, dynamic batch); the export checks "
        f"the ONNX logits against Keras on every test image (max difference "
        f"{m.get('parity_max_abs_diff', float('nan')):.1e}).",
        *_mirror_lines(t),
        "",
        "## Data and protocol",
        "",
        (f"- Data: your own photos in {'FER+' if plus else 'FER2013'}'s folder layout, " if own else
         f"- Data: {t.get('data')} ({t.get('data_layout')} layout), ") + f"{t.get('train_images')} "
        f"training images used, {t.get('valid_images')} validation, {t.get('test_images')} test.",
        f"- Training labels: `{t.get('label_mode')}`"
        + (" (the normalised vote distribution over the 8 emotions, single votes dropped)"
           if t.get("label_mode") == "distribution" else "")
        + (f", blended with the teachers' softmax (weight {t.get('teacher_weight'):g})"
           if t.get("teacher") else "") + ".",
        *_ancestry(t),
        f"- Headline protocol: {t.get('protocol')}.",
        "- Model selection: the epoch with the best validation accuracy; the test split was "
        "used only for the figures below.",
        "",
        "## Test results",
        "",
        *_results(info, evaluation, own),
        "",
        "## Calibration",
        "",
        f"Temperature scaling, T = {info.temperature:g}, fitted on the "
        f"{calib.get('fitted_on', 'validation split')}. Expected calibration error on the test "
        f"split (15 bins): {_pct(m.get('ece_before'))} before, {_pct(m.get('ece_after'))} after.",
        "",
        *_uncertain_lines(info),
        "## Training",
        "",
        f"- Command: `{t.get('command')}`",
        f"- Code: commit `{t.get('commit')}`",
        f"- Date: {t.get('date')}; wall time {_duration(t.get('wall_seconds'))}"
        + (f" in {t['sittings']} sittings (resumed)" if (t.get("sittings") or 1) > 1 else "")
        + " for "
        f"{t.get('epochs')} epochs (best epoch {t.get('best_epoch')}, "
        + (f"under a {t['time_limit_minutes']:g}-minute time limit)"
           if t.get("time_limit_minutes") else f"of at most {t.get('epochs_configured')})"),
        f"- Hardware: {t.get('hardware')}",
        f"- Batch {t.get('batch_size')}, Adam with warm-up and cosine decay from learning "
        f"rate {t.get('learning_rate')}, seed {t.get('seed')}; augmentation re-frames each "
        "image with the app's own crop code (shift, zoom, rotation), flips, brightness, "
        "contrast, blur and noise.",
        "",
        "## Licence",
        "",
        *_licence(plus, own, some_own),
        *_inherited_licence(t),
        "",
        "## Intended use and limits",
        "",
        "- Intended use: reading the apparent facial expression of people in a webcam or video "
        "who know they are being analysed, for demos, research and user studies.",
        "- An expression is not an emotion: the model reports how a face looks in one frame, "
        "not what a person feels. Do not use it to make decisions about people (hiring, "
        "policing, education, health, credit) or for surveillance.",
        ("- The training photos decide which faces it reads well: accuracy is lower on the "
         "poses, light and people they lack." if own else
         "- FER2013 faces are web images, mostly frontal, 48x48 gray, skewed in age, ethnicity "
         "and pose; accuracy is lower on profiles, occlusions (masks, hands, glasses), poor "
         "light and groups the data under-represents."),
        "- Rare classes are weak: see the per-class recall above"
        + ("." if own else " (contempt and disgust have very few training images)." if plus
           else " (disgust has very few training images)."),
        "- The crop framing matters: the app frames faces as the metadata says; other framings "
        "cost accuracy.",
        "",
    ]
    return "\n".join(lines)


def write_card(info: ModelInfo, evaluation: dict[str, Any], path: Path) -> Path:
    path.write_text(render_card(info, evaluation))
    return path


@dataclass(frozen=True)
class Derivation:
    """How fer-train made a model file from another (quantize; calibrate and adjust into a
    new file), for that file's card."""

    source: Path  # the model it was made from
    command: str  # "quantize", "calibrate", "adjust"
    change: str  # what was changed, with the figures that say by how much
    figures: str  # the data its own figures are of, and which of the carried ones still hold


def headline(info: ModelInfo) -> str:
    """The test accuracy a model's metadata records, with what it was measured on:
    "86.32% (majority, 3137 test images of FER+)"; "" where it records none."""
    a = info.accuracy
    if a["test_accuracy"] is None:
        return ""
    on = a["test_set"] or info.training.get("data")
    how = ", ".join(x for x in (a["test_protocol"], f"{a['test_images']} test images"
                                if a["test_images"] is not None else "") if x)
    return f"{_pct(a['test_accuracy'])}" + (f" ({how}{f' of {on}' if on else ''})" if how
                                             else f" (on {on})" if on else "")


def _source_card(source: Path) -> tuple[Path | None, str]:
    """The card beside ``source``, or, for an int8 file without one (copied without it),
    the card of the float model it was quantized from, beside it."""
    card = source.with_suffix(".md")
    if card.is_file():
        return card, ""
    try:
        quantized = read_model_info(source).metrics.get("quantization")
    except ModelError:
        return None, ""
    name = quantized.get("source") if isinstance(quantized, dict) else None
    if isinstance(name, str) and name and source.with_name(name).with_suffix(".md").is_file():
        return (source.with_name(name).with_suffix(".md"),
                f"`{source.name}` is the int8 variant of `{name}`. ")
    return None, ""


def write_derived_card(info: ModelInfo, made: Derivation, path: Path,
                       evaluation: dict[str, Any] | None = None) -> Path:
    """The card of a model file made from another (``info``: its metadata): what it was made
    from and what changed, the data its figures are of and the licence it inherits, above
    the source's card carried unchanged. A source without a card: this file's own card,
    rendered from its metadata, where its ``evaluation`` is known (a quantization)."""
    t = info.training
    plus = "contempt" in info.class_names or str(t.get("data", "")).startswith("FER+")
    own = is_own_data(str(t.get("data", "")))
    some_own = has_own_photos(str(t.get("data", ""))) and not own
    card, via = _source_card(made.source)
    if card is not None:
        below = (f"{via}Below, the card of `{card.with_suffix('.onnx').name}`, carried "
                 "unchanged: its figures are of that model, except where said above.")
        carried = card.read_text()
    elif evaluation is not None:
        below = "Below, this file's own card, written from its metadata."
        carried = render_card(info, evaluation)
    else:
        below = (f"`{made.source.name}` has no card beside it; its metadata (View > About "
                 "in the app) holds its figures.")
        carried = ""
    lines = [
        f"# {info.name}",
        "",
        f"`{path.with_suffix('.onnx').name}` was made from `{made.source.name}` by "
        f"`fer-train {made.command}`: {made.change}.",
        "",
        f"- Its figures: {made.figures}",
        f"- Licence: it inherits that of `{made.source.name}`:",
        *[f"  {line}" for line in (*_licence(plus, own, some_own), *_inherited_licence(t))],
        "",
        below,
        "",
    ]
    path.write_text("\n".join(lines) + (f"\n---\n\n{carried}" if carried else ""))
    return path


def note_change(model: Path, what: str) -> str:
    """Say on the card beside ``model`` (written by its export) that the model changed since,
    under its title: a calibrated or adjusted model's card still gave the old temperature and
    test figures. Returns the note for the command's message ("" where there is no card)."""
    card = model.with_suffix(".md")
    if not card.is_file():
        return ""
    title, _, rest = card.read_text().partition("\n")
    card.write_text(f"{title}\n\n> Changed since this card was written: {what}; the figures "
                    f"below are of the model before.\n{rest}")
    return f"; {card} says it changed since"
