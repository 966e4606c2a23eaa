"""Real-face videos for the benchmarks and the bundled sample.

Faces come from two public-domain portraits that ship inside PyPI packages: the astronaut
Eileen Collins (``skimage.data.astronaut``, NASA) and Grace Hopper (matplotlib's sample data,
US Navy). Each scene places head-and-shoulders cut-outs of them, mirrored for variety, on a
plain backdrop and moves and scales them smoothly, so a detector sees real faces at known
sizes and positions.

    python benchmarks/media.py OUT.mp4 --size 1280x720 --faces 4 --face-px 150 --frames 300
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# Head-and-shoulders windows (x0, y0, x1, y1) and the face height inside them, in pixels of
# the source portraits, measured by eye.
_PORTRAITS = {
    "astronaut": ((95, 0, 355, 300), 105),
    "hopper": ((110, 20, 430, 420), 165),
}


def portraits() -> list[tuple[np.ndarray, float]]:
    """Head-and-shoulders BGR cut-outs with the face height of each."""
    import matplotlib.cbook
    import skimage.data

    astro = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    hopper_path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    hopper = cv2.imread(str(hopper_path))
    cuts = []
    for img, key in ((astro, "astronaut"), (hopper, "hopper")):
        (x0, y0, x1, y1), face_h = _PORTRAITS[key]
        cuts.append((img[y0:y1, x0:x1], float(face_h)))
    return cuts + [(c[:, ::-1].copy(), h) for c, h in cuts]


@dataclass(frozen=True)
class Scene:
    width: int = 1280
    height: int = 720
    faces: int = 4
    face_px: float = 150.0  # face height in output pixels
    frames: int = 300
    fps: float = 30.0


def _backdrop(w: int, h: int) -> np.ndarray:
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    b = 150 + 40 * y - 20 * x
    g = 140 + 30 * x
    r = 120 + 30 * (1 - y)
    return np.dstack([b * np.ones_like(x), g * np.ones_like(y), r * np.ones_like(x)]).astype(
        np.uint8
    )


def render(scene: Scene, t: int, cuts: list[tuple[np.ndarray, float]], bg: np.ndarray
           ) -> np.ndarray:
    frame = bg.copy()
    cols = math.ceil(math.sqrt(scene.faces * scene.width / scene.height))
    rows = math.ceil(scene.faces / cols)
    for i in range(scene.faces):
        cut, face_h = cuts[i % len(cuts)]
        phase = 2 * math.pi * (t / max(scene.frames, 1)) + i
        zoom = 1.0 + 0.12 * math.sin(phase * 1.3)
        s = scene.face_px * zoom / face_h
        sprite = cv2.resize(cut, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        sh, sw = sprite.shape[:2]
        cx = (i % cols + 0.5) * scene.width / cols + 0.08 * scene.width / cols * math.sin(phase)
        cy = (i // cols + 0.5) * scene.height / rows + 0.06 * scene.height / rows * math.cos(
            phase)
        x0, y0 = int(cx - sw / 2), int(cy - sh / 2)
        _paste(frame, sprite, x0, y0)
    return frame


def _paste(frame: np.ndarray, sprite: np.ndarray, x0: int, y0: int) -> None:
    h, w = frame.shape[:2]
    sh, sw = sprite.shape[:2]
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + sw, w), min(y0 + sh, h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    frame[fy0:fy1, fx0:fx1] = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]


def write_video(path: Path, scene: Scene) -> Path:
    cuts = portraits()
    bg = _backdrop(scene.width, scene.height)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), scene.fps,
                             (scene.width, scene.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for t in range(scene.frames):
            writer.write(render(scene, t, cuts, bg))
    finally:
        writer.release()
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--faces", type=int, default=4)
    p.add_argument("--face-px", type=float, default=150.0)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--fps", type=float, default=30.0)
    a = p.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    write_video(a.out, Scene(w, h, a.faces, a.face_px, a.frames, a.fps))


if __name__ == "__main__":
    main()
