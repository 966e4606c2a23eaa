"""Finding cameras: which indices open, and a human name for each where the OS gives one.

PySide6-Essentials has no QtMultimedia, so names come from Linux's sysfs when available and
are "Camera N" elsewhere. Probing opens devices, which can take a while: call it off the GUI
thread (see FunctionWorker).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

log = logging.getLogger(__name__)

PROBE_INDICES = range(5)


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str


def camera_name(index: int) -> str:
    sysfs = Path(f"/sys/class/video4linux/video{index}/name")
    try:
        name = sysfs.read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    return f"{name} ({index})" if name else f"Camera {index}"


def _may_exist(index: int) -> bool:
    # On Linux a missing /dev/videoN cannot be a camera; skipping it saves a slow open.
    if sys.platform.startswith("linux"):
        return Path(f"/dev/video{index}").exists()
    return True


def probe_cameras(indices: range = PROBE_INDICES) -> list[CameraInfo]:
    found = []
    for i in indices:
        if not _may_exist(i):
            continue
        cap = cv2.VideoCapture(i)
        try:
            if cap.isOpened():
                found.append(CameraInfo(i, camera_name(i)))
        finally:
            cap.release()
    log.info("cameras found: %s", [c.index for c in found])
    return found
