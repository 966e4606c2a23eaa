"""Privacy: no network during a run, a numbers-only mode, and exports that hide faces."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SyntheticVideo
from test_process_cli import emocam

from emocam.overlay import NEUTRAL_GRAY

# Python raises these audit events before any name lookup or outgoing connection.
NETWORK_EVENTS = (
    "socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
    "socket.sendto", "socket.sendmsg", "urllib.Request",
)


def test_a_run_makes_no_network_access(
    video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    script = (
        "import json, sys\n"
        f"events = {NETWORK_EVENTS!r}\n"
        "seen = []\n"
        "sys.addaudithook(lambda e, a: seen.append([e, repr(a)]) if e in events else None)\n"
        "from emocam.cli import main\n"
        f"rc = main(['process', {str(video_face_at_edge)!r}, '-o', {str(tmp_path)!r},"
        f" '--model', {str(model_path)!r}, '-q'])\n"
        "print(json.dumps({'rc': rc, 'network': seen}))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0
    assert report["network"] == []
    assert (tmp_path / "edge.emocam.mp4").exists()  # the run really did its work


def test_no_frames_keeps_only_numbers(
    video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    r = emocam("process", video_face_at_edge, "-o", tmp_path, "--model", model_path, "-q",
               "--no-frames")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "edge.emocam.csv", "edge.emocam.html", "edge.emocam.json", "edge.emocam.npz"
    ]  # the report has numbers and plots only: no thumbnail without frames
    summary = json.loads((tmp_path / "edge.emocam.json").read_text())
    assert summary["privacy"]["frames_written"] is False
    with np.load(tmp_path / "edge.emocam.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != np.uint8 for k in npz.files)  # no pixels in the sidecar
    r = emocam("process", video_face_at_edge, "-o", tmp_path / "x", "--no-frames",
               "--output-video", tmp_path / "x.mp4", "-q")
    assert r.returncode == 2 and "--no-frames" in r.stderr


@pytest.fixture(scope="module")
def portrait(image_one_face: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("portrait")
    shutil.copy(image_one_face, folder / "portrait.jpg")
    return folder / "portrait.jpg"


def export(portrait: Path, model_path: Path, name: str, *flags: str) -> np.ndarray:
    out = portrait.parent / f"{name}.png"  # lossless, so pixels can be compared exactly
    r = emocam("process", portrait, "--model", model_path, "-q", "--output-video", out,
               "--json", portrait.parent / f"{name}.json", "--no-sidecar", *flags)
    assert r.returncode == 0, r.stderr
    image = cv2.imread(str(out))
    assert image is not None
    return image


def face_inside(x0: int = 320 - 55, y0: int = 230 - 55, side: int = 110) -> tuple[slice, slice]:
    """The inner part of the 160-px face of ``image_one_face`` (centred at 320, 230), clear
    of the box outline, the label above it and the bars beside it."""
    return slice(y0, y0 + side), slice(x0, x0 + side)


def detail(image: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def test_blurred_faces_lose_their_detail_but_keep_box_and_bars(
    portrait: Path, model_path: Path
) -> None:
    original = cv2.imread(str(portrait))
    plain = export(portrait, model_path, "plain")
    blurred = export(portrait, model_path, "blurred", "--blur-faces")
    inside = face_inside()
    assert detail(blurred[inside]) < 0.1 * detail(original[inside])  # measured: 1/22
    assert detail(plain[inside]) > 0.5 * detail(original[inside])
    # Outside the smeared area both exports are the same pixels: the bars are drawn alike.
    changed = np.any(blurred != plain, axis=2)
    ys, xs = np.nonzero(changed)
    assert xs.max() - xs.min() < 320 and ys.max() - ys.min() < 320  # only around the face
    bars = np.any(plain != original, axis=2) & ~changed
    assert bars.sum() > 2000  # overlay pixels identical in both
    summary = json.loads((portrait.parent / "blurred.json").read_text())
    assert summary["privacy"] == {"frames_written": True, "blur_faces": True,
                                  "boxes_only": False}


def test_boxes_only_shows_no_camera_pixels(portrait: Path, model_path: Path) -> None:
    image = export(portrait, model_path, "boxes", "--boxes-only")
    background = np.all(image == NEUTRAL_GRAY, axis=2)
    assert background[face_inside()].all()  # where the face was: nothing but grey
    drawn = ~background
    assert 0.01 < drawn.mean() < 0.2  # the box, label and bars, and nothing else
