"""Post-hoc logit adjustment of an exported model: a per-class shift of its logits.

FER+ is skewed (a third neutral, 1% contempt), so a network trained on it under-predicts
the rare classes, and more so on faces from other sources. Adding ``-tau * log(prior)``
to the logits (Menon et al., 2021), plus an offset for a class the prior correction alone
leaves unrecalled, trades some accuracy on FER+ for recall of the rare classes. The shift
is written into the logits layer's bias, so the app runs the adjusted model unchanged, and
recorded in the metadata (``training.logit_adjustment``) so that the network's own logits
can always be recovered: by a later ``adjust``, and by a training run that starts from the
file (:mod:`emocam.training.onnx_weights`).

The rule ``fer-train adjust`` applies when not told the values, chosen on the validation
split only: the largest ``tau`` (steps of 0.05) costing at most ``max_cost`` of validation
accuracy, then for each class given a recall goal the smallest offset (steps of 0.25) that
reaches it on validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocam import atomic
from emocam.errors import ModelError
from emocam.modelinfo import ModelInfo

RECORD_KEY = "logit_adjustment"
TAU_STEP = 0.05
OFFSET_STEP = 0.25
MAX_TAU = 2.0
MAX_OFFSET = 4.0


def class_prior(targets: np.ndarray) -> np.ndarray:
    """The training targets' class frequencies: the prior logit adjustment corrects for.

    Training (``logit_adjustment`` in the loss) and post-hoc adjustment both use it."""
    prior = np.clip(targets.mean(axis=0), 1e-4, None)
    return prior / prior.sum()


@dataclass(frozen=True)
class Adjustment:
    tau: float = 0.0
    offsets: dict[str, float] = field(default_factory=dict)

    def shift(self, prior: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
        s = -self.tau * np.log(prior)
        for name, value in self.offsets.items():
            s[class_names.index(name)] += value
        return s.astype(np.float32)

    def describe(self) -> str:
        parts = [f"-{self.tau:g}*log(class prior of the training targets)"] if self.tau else []
        parts += [f"{name} {value:+g}" for name, value in self.offsets.items()]
        return ", ".join(parts) or "nothing"


def recorded_shift(info: ModelInfo, where: Path) -> np.ndarray:
    """The shift the graph of ``where`` (metadata ``info``) already adds to the network's
    logits (zeros if none)."""
    record = info.training.get(RECORD_KEY)
    if not record:
        return np.zeros(info.num_classes, np.float32)
    shift = np.asarray(record.get("shift", ()), np.float32)
    if shift.shape != (info.num_classes,) or not np.isfinite(shift).all():
        raise ModelError(f"{where} records a logit adjustment that is not "
                         f"{info.num_classes} numbers; export the model again.")
    return shift


def record(adjustment: Adjustment, prior: np.ndarray, shift: np.ndarray, rule: str
           ) -> dict[str, Any]:
    return {"tau": adjustment.tau, "offsets": dict(adjustment.offsets),
            "prior": [round(float(p), 6) for p in prior],
            "shift": [round(float(s), 6) for s in shift], "rule": rule}


@dataclass(frozen=True)
class Candidate:
    adjustment: Adjustment
    accuracy: float
    recall: dict[str, float]


def _score(logits: np.ndarray, labels: np.ndarray, shift: np.ndarray,
           class_names: tuple[str, ...], watch: list[str]) -> tuple[float, dict[str, float]]:
    pred = (logits + shift).argmax(axis=1)
    recall = {}
    for name in watch:
        c = class_names.index(name)
        n = int((labels == c).sum())
        recall[name] = float(((pred == c) & (labels == c)).sum() / n) if n else float("nan")
    return float((pred == labels).mean()), recall


def choose(logits: np.ndarray, labels: np.ndarray, prior: np.ndarray,
           class_names: tuple[str, ...], max_cost: float, min_recall: dict[str, float],
           tau: float | None = None) -> tuple[Candidate, list[Candidate]]:
    """The adjustment the rule picks for the network's plain validation ``logits``.

    ``tau`` given: that value, then the offsets. Returns the choice and every ``tau`` tried
    (without offsets), for the report."""
    watch = list(dict.fromkeys([*min_recall, *sorted(class_names, key=lambda n: prior[
        class_names.index(n)])[:2]]))
    base, _ = _score(logits, labels, np.zeros_like(prior), class_names, watch)
    tried = []
    taus = [tau] if tau is not None else np.arange(0, MAX_TAU + 1e-9, TAU_STEP)
    chosen = Adjustment()
    for t in taus:
        a = Adjustment(round(float(t), 4))
        acc, rec = _score(logits, labels, a.shift(prior, class_names), class_names, watch)
        tried.append(Candidate(a, acc, rec))
        if tau is None and base - acc > max_cost + 1e-9:
            break
        chosen = a
    offsets: dict[str, float] = {}
    for name, goal in min_recall.items():
        for off in np.arange(0, MAX_OFFSET + 1e-9, OFFSET_STEP):
            trial = Adjustment(chosen.tau, {**offsets, name: round(float(off), 4)})
            _, rec = _score(logits, labels, trial.shift(prior, class_names), class_names,
                            watch)
            if rec[name] >= goal - 1e-9:
                if off > 0:
                    offsets[name] = round(float(off), 4)
                break
        else:
            raise ModelError(f"no offset up to {MAX_OFFSET:g} gives {name} a validation recall "
                             f"of {goal:.0%}; ask for less")
    final = Adjustment(chosen.tau, offsets)
    acc, rec = _score(logits, labels, final.shift(prior, class_names), class_names, watch)
    return Candidate(final, acc, rec), tried


def _bias(proto: Any, num_classes: int, where: Path) -> Any:
    """The logits layer's bias initializer: the one (C,) constant added by an Add or Gemm."""
    from onnx import numpy_helper

    inits = {i.name: i for i in proto.graph.initializer}
    if any(n.op_type == "DequantizeLinear" and "logits" in n.output for n in proto.graph.node):
        raise ModelError(f"{where} is an int8 model, whose output range was calibrated "
                         "without the shift: adjust the float model, then run fer-train "
                         "quantize on it.")
    found = [inits[i] for n in proto.graph.node if n.op_type in ("Add", "Gemm")
             for i in n.input if i in inits
             and numpy_helper.to_array(inits[i]).shape == (num_classes,)]
    if len(found) != 1:
        raise ModelError(f"{where} has no single logits bias to adjust; adjust a model "
                         "that fer-train exported.")
    return found[0]


def check_adjustable(model: Path, info: ModelInfo) -> None:
    """Refuse, before any work, a model whose logits cannot be shifted (an int8 one)."""
    import onnx

    _bias(onnx.load(str(model)), info.num_classes, model)


def write_shift(model: Path, out: Path, delta: np.ndarray, info: ModelInfo) -> None:
    """Copy ``model`` to ``out`` with ``delta`` added to its logits and ``info`` as metadata."""
    import onnx
    from onnx import numpy_helper

    from emocam.training.export import set_metadata

    proto = onnx.load(str(model))
    bias = _bias(proto, info.num_classes, model)
    value = numpy_helper.to_array(bias).astype(np.float32) + delta.astype(np.float32)
    bias.CopyFrom(numpy_helper.from_array(value, bias.name))
    tmp = atomic.temporary_name(out)
    try:
        onnx.save(proto, str(tmp))
        set_metadata(tmp, info)
        tmp.replace(out)  # a reader never sees half a model
    finally:
        tmp.unlink(missing_ok=True)  # a full disk or a Ctrl-C leaves nothing beside it
