"""Real-face videos with ground truth: the one generator of test and benchmark media.

Every frame is composed from two public-domain portraits that ship inside PyPI packages: the
astronaut Eileen Collins (``skimage.data.astronaut()``, NASA) and Grace Hopper
(matplotlib's ``grace_hopper.jpg`` sample data, US Navy). Their heads are pasted with soft
edges onto a smooth background, moved, scaled, turned and sometimes mirrored, and written
with ``cv2.VideoWriter`` (mp4v, ``.mp4``). Because the faces are placed here, each video knows
where every face is in every frame: ``SyntheticVideo.faces[i]`` lists the ``TruthFace``
(centre and side) of frame ``i``.

A "face side" is the side of the BlazeFace box (brows to chin, cheek to cheek), the
convention ``Detection.box`` follows.

The tests (``from benchmarks.media import ...``, fixtures in tests/conftest.py), the
benchmarks (``from media import ...``, run as scripts from this folder) and the bundled
sample video all come from here. A ``Scene`` is the benchmarks' short description of a
video: so many faces of one size on a grid, drifting and zooming in a loop, drawn as
head-and-shoulders cut-outs (see its section for why they look different).

    python benchmarks/media.py OUT.mp4 --size 1280x720 --faces 4 --face-px 150 --frames 300
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

# --- source portraits -----------------------------------------------------------------


@dataclass(frozen=True)
class Portrait:
    """A real photo and where its face is: the short-range BlazeFace box on the photo, and
    the eyes (mean of both BlazeFace models' keypoints)."""

    name: str
    image: np.ndarray  # BGR uint8
    center: tuple[float, float]
    side: float
    eyes: tuple[tuple[float, float], tuple[float, float]]  # image-left first


def _load_portraits() -> dict[str, Portrait]:
    from matplotlib import cbook
    from skimage import data

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    return {
        "astronaut": Portrait(
            "astronaut", astronaut, (224.5, 129.5), 95.0, ((202.0, 104.0), (247.0, 107.5))
        ),
        "hopper": Portrait(
            "hopper", hopper, (268.0, 243.0), 194.0, ((224.5, 193.5), (307.5, 188.5))
        ),
    }


_PORTRAITS: dict[str, Portrait] | None = None


def portraits() -> dict[str, Portrait]:
    """The two source portraits, loaded once per process."""
    global _PORTRAITS
    if _PORTRAITS is None:
        _PORTRAITS = _load_portraits()
    return _PORTRAITS


# --- ground truth ---------------------------------------------------------------------


@dataclass(frozen=True)
class TruthFace:
    """Where a face really is in a frame: centre of its BlazeFace-style box and the side."""

    cx: float
    cy: float
    side: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        h = self.side / 2.0
        return (self.cx - h, self.cy - h, self.side, self.side)


@dataclass
class SyntheticVideo:
    """A written test video and its ground truth; usable wherever a path is (``os.fspath``)."""

    path: Path
    size: tuple[int, int]  # width, height
    fps: float
    faces: list[list[TruthFace]] = field(default_factory=list)  # per frame

    @property
    def frame_count(self) -> int:
        return len(self.faces)

    def centres(self, index: int) -> list[tuple[float, float]]:
        """Ground-truth face centres of frame ``index``."""
        return [(f.cx, f.cy) for f in self.faces[index]]

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def match_faces(
    boxes: Sequence[Sequence[float]], truth: Sequence[TruthFace], tol: float = 0.35
) -> list[int | None]:
    """For each true face, the index of the box that found it (or None).

    A box finds a face when its centre is within ``tol`` face sides of the true centre and its
    side is within a factor 1.6 of the true side; each box finds at most one face.
    """
    used: set[int] = set()
    out: list[int | None] = []
    for t in truth:
        best, best_d = None, tol * t.side
        for i, (x, y, w, h) in enumerate(boxes):
            if i in used:
                continue
            d = math.hypot(x + w / 2 - t.cx, y + h / 2 - t.cy)
            ratio = max(w, h) / t.side
            if d <= best_d and 1 / 1.6 <= ratio <= 1.6:
                best, best_d = i, d
        if best is not None:
            used.add(best)
        out.append(best)
    return out


# --- composition ----------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """One face in one frame: which portrait, where its face centre goes, how big, how turned."""

    portrait: str
    cx: float
    cy: float
    side: float
    angle_deg: float = 0.0  # counter-clockwise in the image
    mirror: bool = False
    gain: float = 1.0  # the light on the face: its pixels times this


def scaled(plan: Sequence[Sequence[Placement]], factor: float) -> list[list[Placement]]:
    """The same scene for a frame ``factor`` times the size: each face moved and sized with it."""
    return [
        [replace(p, cx=p.cx * factor, cy=p.cy * factor, side=p.side * factor) for p in frame]
        for frame in plan
    ]


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, faceless, mildly textured BGR background."""
    rng = np.random.default_rng(seed)
    gray = rng.uniform(70, 190, size=(6, 8, 1))
    tint = rng.uniform(-20, 20, size=(6, 8, 3))
    small = np.clip(gray + tint, 0, 255).astype(np.float32)
    bg = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, :3]
    noise = rng.normal(0, 4, size=(height, width, 1)).astype(np.float32)
    return np.clip(bg + noise, 0, 255).astype(np.uint8)


def _soft_mask(size: int) -> np.ndarray:
    """An elliptical alpha mask with a feathered edge, so pasted heads have no hard square."""
    m = np.zeros((size, size), np.float32)
    c = size // 2
    cv2.ellipse(m, (c, int(size * 0.55)), (int(size * 0.40), int(size * 0.47)), 0, 0, 360, 1.0, -1)
    k = max(3, (size // 12) | 1)
    return cv2.GaussianBlur(m, (k, k), 0)


_SPRITE = 2.4  # sprite side in face sides: the face plus hair, ears and neck


@functools.cache
def _sprite(name: str, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    p = portraits()[name]
    side = int(p.side * _SPRITE)
    m = np.float32([[1, 0, side / 2 - p.center[0]], [0, 1, side / 2 - p.center[1]]])
    img = cv2.warpAffine(p.image, m, (side, side), borderMode=cv2.BORDER_REPLICATE)
    if mirror:
        img = img[:, ::-1].copy()
    return img, _soft_mask(side)


def head_image(name: str, mirror: bool = False) -> np.ndarray:
    """A portrait's head and shoulders (BGR uint8, about 2.4 face sides square), the face
    centred: a real face crop for tests that want one without a frame around it."""
    return _sprite(name, mirror)[0].copy()


def placed_point(pl: Placement, xy: tuple[float, float]) -> tuple[float, float]:
    """Where a point of the portrait (e.g. an eye) lands in the frame for this placement."""
    p = portraits()[pl.portrait]
    x, y = xy[0] - p.center[0], xy[1] - p.center[1]
    if pl.mirror:
        x = -x
    s = pl.side / p.side
    a = math.radians(pl.angle_deg)  # counter-clockwise as displayed (y points down)
    return (
        pl.cx + s * (math.cos(a) * x + math.sin(a) * y),
        pl.cy + s * (-math.sin(a) * x + math.cos(a) * y),
    )


def placed_eyes(pl: Placement) -> tuple[tuple[float, float], tuple[float, float]]:
    """The true eye positions in the frame, image-left eye first for an upright face."""
    a, b = (placed_point(pl, e) for e in portraits()[pl.portrait].eyes)
    return (b, a) if pl.mirror else (a, b)


def paste(frame: np.ndarray, pl: Placement) -> TruthFace:
    """Draw one face into ``frame`` (in place); returns where it ended up."""
    p = portraits()[pl.portrait]
    img, mask = _sprite(pl.portrait, pl.mirror)
    s = pl.side / p.side
    half = img.shape[0] / 2
    h, w = frame.shape[:2]
    a = math.radians(pl.angle_deg)
    reach = half * s * (abs(math.cos(a)) + abs(math.sin(a))) + 2  # half-extent when rotated
    x0, y0 = max(0, int(pl.cx - reach)), max(0, int(pl.cy - reach))
    x1, y1 = min(w, int(pl.cx + reach) + 1), min(h, int(pl.cy + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return TruthFace(pl.cx, pl.cy, pl.side)
    rot = cv2.getRotationMatrix2D((half, half), pl.angle_deg, s)
    rot[0, 2] += pl.cx - half - x0
    rot[1, 2] += pl.cy - half - y0
    roi = (x1 - x0, y1 - y0)
    sprite = cv2.warpAffine(img, rot, roi, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if pl.gain != 1.0:
        sprite = cv2.convertScaleAbs(sprite, alpha=pl.gain)
    alpha = cv2.warpAffine(mask, rot, roi)
    region = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = cv2.blendLinear(sprite, region, alpha, 1.0 - alpha)
    return TruthFace(pl.cx, pl.cy, pl.side)


def write_video(
    path: Path,
    size: tuple[int, int],
    placements: Iterable[Sequence[Placement]],
    fps: float = 30.0,
    seed: int = 0,
) -> SyntheticVideo:
    """Render one frame per entry of ``placements`` (a generator is fine: an hour of video
    need not be planned in memory) and write them as an mp4v ``.mp4``."""
    bg = background(*size, seed)
    video = SyntheticVideo(path, size, fps)

    def frames() -> Iterator[np.ndarray]:
        for frame_places in placements:
            frame = bg.copy()
            video.faces.append([paste(frame, pl) for pl in frame_places])
            yield frame

    _write(path, size, fps, frames())
    return video


def _write(path: Path, size: tuple[int, int], fps: float, frames: Iterable[np.ndarray]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def render(size: tuple[int, int], places: Sequence[Placement], seed: int = 0) -> np.ndarray:
    """One still BGR frame with the given faces."""
    frame = background(*size, seed)
    for pl in places:
        paste(frame, pl)
    return frame


def _ease(t: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * t)


def one_face_plan(n: int = 60) -> list[list[Placement]]:
    """A laptop-webcam close-up: one big face (190-300 px) drifting, growing and tilting."""
    out = []
    for i in range(n):
        t = i / (n - 1)
        out.append(
            [
                Placement(
                    "astronaut",
                    cx=520 + 240 * _ease(t),
                    cy=330 + 40 * math.sin(2 * math.pi * t),
                    side=190 + 110 * _ease(t),
                    angle_deg=8 * math.sin(2 * math.pi * t),
                )
            ]
        )
    return out


def four_faces_plan(n: int = 45) -> list[list[Placement]]:
    """Four people at a distance in 720p, faces 100-200 px, each moving on its own path."""
    base = [
        ("astronaut", 230, 240, 110, False),
        ("hopper", 560, 420, 190, False),
        ("astronaut", 880, 260, 150, True),
        ("hopper", 1110, 480, 125, True),
    ]
    out = []
    for i in range(n):
        t = i / (n - 1)
        frame = []
        for k, (name, x, y, side, mirror) in enumerate(base):
            ph = 2 * math.pi * (t + k / 4)
            frame.append(
                Placement(
                    name,
                    cx=x + 40 * math.sin(ph),
                    cy=y + 25 * math.cos(ph),
                    side=side * (1 + 0.1 * math.sin(ph)),
                    mirror=mirror,
                )
            )
        out.append(frame)
    return out


def small_faces_plan(n: int = 30) -> list[list[Placement]]:
    """A 1080p room shot: six faces of 45-90 px, drifting slowly."""
    base = [
        ("astronaut", 300, 300, 60),
        ("hopper", 700, 520, 80),
        ("astronaut", 1100, 360, 50),
        ("hopper", 1500, 300, 65),
        ("astronaut", 500, 800, 90),
        ("hopper", 1400, 780, 70),
    ]
    out = []
    for i in range(n):
        t = i / (n - 1)
        out.append(
            [
                Placement(name, x + 30 * t, y + 10 * math.sin(3 * t + k), side, mirror=k % 2 == 1)
                for k, (name, x, y, side) in enumerate(base)
            ]
        )
    return out


def edge_plan(n: int = 30) -> list[list[Placement]]:
    """One face sliding out of a 640x480 frame until about 40% of it is cut by the left edge."""
    return [[Placement("hopper", cx=80 - 55 * i / (n - 1), cy=240, side=150)] for i in range(n)]


# --- the benchmarks' scenes -------------------------------------------------------------
#
# Not the soft-edged heads above: rectangular head-and-shoulders cut-outs with hard edges on a
# plain gradient. Every figure in docs/BENCHMARKS.md and docs/PROFILE.md was measured on
# these pictures, and their collars are what the full-range model once took for faces
# (tests/test_schedule.py); laid out the same way, the soft-edged heads gave other results.

# Head-and-shoulders windows (x0, y0, x1, y1) and the face height inside them, in pixels of
# the source portraits, measured by eye.
_CUTOUTS = {
    "astronaut": ((95, 0, 355, 300), 105),
    "hopper": ((110, 20, 430, 420), 165),
}


def _cutouts() -> list[tuple[np.ndarray, float]]:
    """Head-and-shoulders BGR cut-outs with the face height of each, then the same mirrored."""
    cuts = []
    for name, ((x0, y0, x1, y1), face_h) in _CUTOUTS.items():
        cuts.append((portraits()[name].image[y0:y1, x0:x1], float(face_h)))
    return cuts + [(c[:, ::-1].copy(), h) for c, h in cuts]


@dataclass(frozen=True)
class Scene:
    """``faces`` faces of about ``face_px`` (face height, in output pixels) spread over a
    grid, each drifting around its cell and zooming by up to 12% in a loop of ``frames``."""

    width: int = 1280
    height: int = 720
    faces: int = 4
    face_px: float = 150.0
    frames: int = 300
    fps: float = 30.0


def _gradient(w: int, h: int) -> np.ndarray:
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    b = 150 + 40 * y - 20 * x
    g = 140 + 30 * x
    r = 120 + 30 * (1 - y)
    return np.dstack([b * np.ones_like(x), g * np.ones_like(y), r * np.ones_like(x)]).astype(
        np.uint8
    )


def render_scene(scene: Scene, t: int, cuts: list[tuple[np.ndarray, float]], bg: np.ndarray
                 ) -> np.ndarray:
    """Frame ``t`` of ``scene`` (``cuts``: ``_cutouts()``, ``bg``: its backdrop)."""
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
        _paste_hard(frame, sprite, int(cx - sw / 2), int(cy - sh / 2))
    return frame


def _paste_hard(frame: np.ndarray, sprite: np.ndarray, x0: int, y0: int) -> None:
    h, w = frame.shape[:2]
    sh, sw = sprite.shape[:2]
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + sw, w), min(y0 + sh, h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    frame[fy0:fy1, fx0:fx1] = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]


def write_scene(path: Path, scene: Scene) -> Path:
    cuts = _cutouts()
    bg = _gradient(scene.width, scene.height)
    _write(path, (scene.width, scene.height), scene.fps,
           (render_scene(scene, t, cuts, bg) for t in range(scene.frames)))
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
    write_scene(a.out, Scene(w, h, a.faces, a.face_px, a.frames, a.fps))


if __name__ == "__main__":
    main()
