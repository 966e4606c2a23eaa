"""The performance panel: what really runs (execution provider, detector, why a requested GPU
was not used) and how long each pipeline stage takes, averaged over recent frames.

It only displays: the numbers come from ``Pipeline.info`` and ``FrameResult.timings_ms`` as
the worker sends them (decode and draw are timed by the worker, around the pipeline;
paint, the picture and its overlay on screen, by the video view).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from emocam.schedule import ScheduleConfig, describe

# "-" until known
_SHOWN_WHEN_IDLE = ("model", "provider", "detector", "fps", "target", "detection")
_SMOOTHING = 0.1  # weight of the newest frame: steady numbers that still follow a change


class PerfPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = QFormLayout(self)
        self._labels: dict[str, QLabel] = {}
        self._ms: dict[str, float] = {}
        for key, title in (("model", "Model"), ("provider", "Provider"), ("detector", "Detector"),
                           ("fallback", "GPU fallback"), ("fps", "Processing"),
                           ("target", "Target rate"), ("detection", "Detection")):
            self._row(key, title)
        self.clear()

    def _row(self, key: str, title: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(f"perf_{key}")
        label.setWordWrap(True)
        self._form.addRow(title, label)
        self._labels[key] = label
        return label

    def text(self, key: str) -> str:
        label = self._labels.get(key)
        return label.text() if label is not None else ""

    def clear(self) -> None:
        self._ms.clear()
        for key, label in self._labels.items():
            label.setText("-" if key in _SHOWN_WHEN_IDLE else "")

    def set_info(self, info: Mapping[str, Any]) -> None:
        provider = str(info.get("provider") or "?").removesuffix("ExecutionProvider")
        self._labels["provider"].setText(provider)
        self._labels["model"].setText(str(info.get("model") or "?"))
        self._labels["detector"].setText(str(info.get("detector") or "?"))
        target = info.get("target_fps")
        self._labels["target"].setText(f"{target:g} fps" if target else "off")
        reason = info.get("provider_fallback_reason")
        self._labels["fallback"].setText(str(reason) if reason else "none")
        self._ms.clear()

    def add_frame(self, timings_ms: Mapping[str, float], fps: float,
                  schedule: ScheduleConfig | None = None) -> None:
        """One processed frame: per-stage milliseconds, the worker's frame rate and the
        detection schedule the frame ran under (it changes under a target frame rate)."""
        if schedule is not None:
            self._labels["detection"].setText(describe(schedule))
        for stage, ms in timings_ms.items():
            prev = self._ms.get(stage)
            self._ms[stage] = ms if prev is None else prev + _SMOOTHING * (ms - prev)
            label = self._labels.get(stage) or self._row(stage, stage)
            label.setText(f"{self._ms[stage]:.1f} ms")
        total = sum(self._ms.values())
        self._labels["fps"].setText(f"{fps:.1f} fps, {total:.1f} ms/frame")
