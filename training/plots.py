"""Figures for a run: confusion matrix and training curves (PNG, headless)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on a training machine
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, class_names: tuple[str, ...], path: Path, title: str
                   ) -> Path:
    """Row-normalised confusion matrix (recall per true class) with the counts written in."""
    plt = _pyplot()
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * n, 0.8 + 0.75 * n), dpi=110)
    ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for i in range(n):
        for j in range(n):
            color = "white" if frac[i, j] > 0.5 else "black"
            ax.text(j, i, f"{frac[i, j] * 100:.0f}%\n{cm[i, j]}", ha="center", va="center",
                    fontsize=7, color=color)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def read_history(path: Path) -> dict[str, list[float]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            if k and v not in (None, ""):
                cols.setdefault(k, []).append(float(v))
    return cols


def plot_history(history_csv: Path, path: Path) -> Path | None:
    """Loss and accuracy per epoch, training and validation; None when there is no history."""
    if not history_csv.is_file():
        log.warning("no %s; skipping the training curves", history_csv)
        return None
    h = read_history(history_csv)
    if not h.get("loss"):
        return None
    plt = _pyplot()
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            ys = h.get(prefix + key)
            if ys:
                ax.plot(epochs[: len(ys)], ys, style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if h.get("val_acc"):
        best = int(np.argmax(h["val_acc"]))
        axes[1].axvline(best + 1, color="gray", lw=0.8)
        axes[1].set_title(f"best validation accuracy {h['val_acc'][best] * 100:.1f}% "
                          f"(epoch {best + 1})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
