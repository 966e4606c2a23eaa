"""Finding cameras: which indices open, and a human name for each where the OS gives one.

The app's Camera > Device menu lists them. PySide6-Essentials has no QtMultimedia, so names
come from Linux's sysfs when available and are "Camera N" elsewhere. Probing opens devices,
which can take a while: the app calls it off the GUI thread.
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


def probe_cameras(indices: range = PROBE_INDICES, in_use: int | None = None
                  ) -> list[CameraInfo]:
    """The cameras that open. ``in_use`` (the app's own) is listed without being opened:
    Windows' and macOS's capture APIs let one user hold a webcam, so a search opening it
    as the app did took it, and the app fell back to the sample video."""
    found = []
    for i in indices:
        if i == in_use:
            found.append(CameraInfo(i, camera_name(i)))
            continue
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


def camera_choices(found: list[CameraInfo] | None, chosen: int) -> list[tuple[str, int]]:
    """(label, index) for each camera found, and the chosen one even when it was not
    (unplugged, or busy); ``found`` None: the search has not finished yet."""
    if found is None:
        return [(f"Searching... (camera {chosen})", chosen)]
    choices = [(c.name, c.index) for c in found]
    if chosen not in {c.index for c in found}:
        choices.append((f"Camera {chosen} (not found)", chosen))
    return choices
