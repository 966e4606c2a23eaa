"""Shared fixtures: real-face test media written on the fly, with ground truth.

Every video is composed from two public-domain portraits (``skimage.data.astronaut()`` and
matplotlib's ``grace_hopper.jpg``), pasted with soft edges onto a smooth background, moved,
scaled and sometimes mirrored, and written with ``cv2.VideoWriter`` (mp4v, ``.mp4``).
Because we place the faces ourselves, each video knows where every face is in every frame:
``SyntheticVideo.faces[i]`` lists the ``TruthFace`` (centre and side) of frame ``i``.

A "face side" here is the side of the BlazeFace box (brows to chin, cheek to cheek), the
convention ``Detection.box`` follows.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

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
    alpha = cv2.warpAffine(mask, rot, roi)
    region = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = cv2.blendLinear(sprite, region, alpha, 1.0 - alpha)
    return TruthFace(pl.cx, pl.cy, pl.side)


def write_video(
    path: Path,
    size: tuple[int, int],
    placements: Sequence[Sequence[Placement]],
    fps: float = 30.0,
    seed: int = 0,
) -> SyntheticVideo:
    """Render one frame per entry of ``placements`` and write them as an mp4v ``.mp4``."""
    w, h = size
    bg = background(w, h, seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    video = SyntheticVideo(path, size, fps)
    try:
        for frame_places in placements:
            frame = bg.copy()
            video.faces.append([paste(frame, pl) for pl in frame_places])
            writer.write(frame)
    finally:
        writer.release()
    return video


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


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder for generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def face_images() -> dict[str, np.ndarray]:
    """Real face crops (BGR uint8): ``"astronaut"`` and ``"grace_hopper"``, head and shoulders
    around the face (about 2.4 face sides square)."""
    return {
        "astronaut": _sprite("astronaut", False)[0].copy(),
        "grace_hopper": _sprite("hopper", False)[0].copy(),
    }


@pytest.fixture(scope="session")
def video_one_face(media_dir: Path) -> SyntheticVideo:
    """1280x720, 60 frames at 30 fps: one close face (190-300 px) moving, scaling, tilting."""
    return write_video(media_dir / "one_face.mp4", (1280, 720), one_face_plan())


@pytest.fixture(scope="session")
def video_four_faces(media_dir: Path) -> SyntheticVideo:
    """1280x720, 45 frames at 30 fps: four faces 100-200 px tall, all moving."""
    return write_video(media_dir / "four_faces.mp4", (1280, 720), four_faces_plan(), seed=1)


@pytest.fixture(scope="session")
def video_small_faces(media_dir: Path) -> SyntheticVideo:
    """1920x1080, 30 frames at 30 fps: six small faces of 50-90 px."""
    return write_video(media_dir / "small_faces.mp4", (1920, 1080), small_faces_plan(), seed=2)


@pytest.fixture(scope="session")
def video_face_at_edge(media_dir: Path) -> SyntheticVideo:
    """640x480, 30 frames: a 150 px face sliding left until ~40% of it is outside the frame."""
    return write_video(media_dir / "edge.mp4", (640, 480), edge_plan(), seed=3)


TWO_SHOTS_SHOT = 20  # frames per shot of video_two_shots


@pytest.fixture(scope="session")
def video_two_shots(media_dir: Path) -> Path:
    """An edited interview at 30 fps: one person for a shot, then a hard cut to another
    person in nearly the same place, in another room."""
    path = media_dir / "interview.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (640, 480))
    for i in range(TWO_SHOTS_SHOT):
        w.write(render((640, 480), [Placement("astronaut", 300 + i, 240, 170)], seed=1))
    for i in range(TWO_SHOTS_SHOT):
        w.write(render((640, 480), [Placement("hopper", 330 - i, 250, 180)], seed=5))
    w.release()
    return path


@pytest.fixture(scope="session")
def image_one_face(media_dir: Path) -> Path:
    """A 640x480 JPEG with one 160 px face centred at (320, 230)."""
    path = media_dir / "one_face.jpg"
    frame = render((640, 480), [Placement("astronaut", 320, 230, 160)], seed=4)
    cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The ONNX emotion model shipped inside the installed package."""
    from emocam.resources import default_model_path

    path = default_model_path()
    assert path.exists(), f"the shipped model {path} is missing from the installed package"
    return path


# --- the desktop app's tests (Qt is imported only when one of them asks) ------------------


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file of the test's own: a user's settings are never touched. The app's test
    modules use it for every test (``pytest.mark.usefixtures``)."""
    from emocam.gui import settings as gui_settings

    path = tmp_path / "emocam-settings.ini"
    monkeypatch.setattr(gui_settings, "settings_file_override", str(path))
    return path


@pytest.fixture
def make_window(qtbot, model_path: Path, isolated_settings: Path):
    """Makes main windows on the shipped model; each is shut down after the test, and no
    thread of its may outlive it."""
    from emocam.gui import settings as gui_settings
    from emocam.gui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(open_fn=None) -> MainWindow:
        settings = gui_settings.load_settings()
        settings.model_path = str(model_path)
        window = MainWindow(settings, open_fn=open_fn)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.shutdown()
        assert w.threads.all_finished()


def pytest_configure(config: pytest.Config) -> None:
    # MediaPipe's C++ core logs every graph start to stderr; keep test output readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
