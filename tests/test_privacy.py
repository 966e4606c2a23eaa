"""Privacy: nothing leaves the machine (watched with strace), a numbers-only mode, and
exports that hide faces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import emocam_command, run_emocam, skip_unless_installed
from network_trace import leaks, strace_unusable_reason, trace

from benchmarks.media import SyntheticVideo
from emocam.overlay import NEUTRAL_GRAY

# What `emocam process` did before MediaPipe's usage report was stopped (strace, mediapipe
# 1.2.3): closing each detector looked up play.googleapis.com from a native thread.
_LEAK_OF_MEDIAPIPE_1_2 = [
    '5094  connect(9, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
    '5094  connect(9, {sa_family=AF_INET, sin_port=htons(53), '
    'sin_addr=inet_addr("10.255.255.53")}, 16) = 0',
    '5094  sendmmsg(9, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base='
    '"\\16Z\\1\\0\\0\\1\\0\\0\\0\\0\\0\\0\\4play\\ngoogleapis\\3com"..., iov_len=37}]',
    '5101  connect(12, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
    'inet_pton(AF_INET6, "2a00:1450:4001:82b::200a", &sin6_addr), sin6_scope_id=0}, 28) = 0',
]
_HARMLESS = [
    "5088  socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 7",  # no address: nothing sent
    '5088  connect(3, {sa_family=AF_UNIX, sun_path="/tmp/.X11-unix/X0"}, 20) = 0',
    '5088  connect(4, {sa_family=AF_INET, sin_port=htons(6000), '
    'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
]


def test_the_trace_reader_names_every_lookup_and_outside_connection() -> None:
    assert leaks(_LEAK_OF_MEDIAPIPE_1_2) == [line.strip() for line in _LEAK_OF_MEDIAPIPE_1_2
                                             if not line.split()[1].startswith("sendmmsg")]
    assert leaks(_HARMLESS) == []


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_first_run_sends_nothing_from_any_native_library(tmp_path: Path) -> None:
    """The real `emocam process`, default detector and model, on a real photo, watched by
    strace: no name lookup and no connection outside this machine, from any thread."""
    reason = strace_unusable_reason()
    if reason is not None:
        pytest.skip(reason)
    from skimage import data

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    home = tmp_path / "home"  # a first run: no cache or settings from an earlier one
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_CONFIG_HOME": str(home / ".config"), "GLOG_minloglevel": "2"}
    # A user's own proxy exemption must not open a way out either.
    env["no_proxy"] = env["NO_PROXY"] = "*"
    log = tmp_path / "network.trace"
    command = emocam_command("process", photo, "-o", tmp_path / "out", console_script=True)
    r = trace(command, log, env, 200)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "astronaut.emocam.json").read_text())
    assert summary["faces"], summary  # it really did its work: the face was read
    lines = log.read_text(errors="replace").splitlines()
    assert any("+++ exited with 0 +++" in line for line in lines)  # strace saw the process
    assert leaks(lines) == []


def test_a_run_keeps_no_identifier_or_report_for_later_sending(
    tmp_path: Path, image_one_face: Path
) -> None:
    """onnxruntime 1.32 keeps a device identifier and a queue of usage events in the home
    folder, which a later program could send: a run leaves nothing of the kind."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_CONFIG_HOME": str(home / ".config")}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # emocam sets it itself
    r = run_emocam("process", image_one_face, "-o", tmp_path / "out", "-q", env=env)
    assert r.returncode == 0, r.stderr
    kept = [p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()]
    # matplotlib's font list (the report's plots) is all a first run may leave there.
    assert [k for k in kept if not k.startswith(".cache/matplotlib/")] == []


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_training_and_exporting_send_nothing(tmp_path: Path) -> None:
    """`fer-train pack`, then `fer-train train` (one epoch, then its evaluation and ONNX
    export) under strace: TensorFlow, Keras, tf2onnx and matplotlib look nothing up."""
    reason = strace_unusable_reason()
    if reason is not None:
        pytest.skip(reason)
    skip_unless_installed("tensorflow")
    from training_helpers import write_ferplus_folders

    data = write_ferplus_folders(tmp_path / "ferplus", 40, 16)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "MPLCONFIGDIR": str(home / ".mpl"), "no_proxy": "*", "NO_PROXY": "*"}
    command = emocam_command(tool="fer-train", console_script=True)
    for step, args in (
        ("pack", ["pack", str(data), "-o", str(tmp_path / "d.emopack")]),
        ("train", ["-q", "train", "--data", str(data), "--out", str(tmp_path / "run"),
                   "--preset", "quick", "--set", "model.widths=8,16", "--set",
                   "model.blocks=1,1", "--set", "model.stem=8", "--set", "epochs=1",
                   "--set", "batch_size=16", "--set", "warmup_epochs=0"]),
    ):
        log = tmp_path / f"{step}.trace"
        r = trace([*command, *args], log, env, 380)
        assert r.returncode == 0, r.stderr[-2000:]
        lines = log.read_text(errors="replace").splitlines()
        assert leaks(lines) == [], step
    assert (tmp_path / "run" / "model.onnx").is_file()  # it really trained and exported


@pytest.mark.gui
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_desktop_app_sends_nothing_from_start_to_close(tmp_path: Path) -> None:
    """`emocam --image PHOTO` offscreen under strace: the detectors start, find the face and
    are closed with the window (SIGTERM), when MediaPipe would send its report."""
    reason = strace_unusable_reason()
    if reason is not None:
        pytest.skip(reason)
    pytest.importorskip("PySide6")
    import psutil
    from skimage import data

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_CONFIG_HOME": str(home / ".config"), "QT_QPA_PLATFORM": "offscreen",
           "GLOG_minloglevel": "2", "no_proxy": "*", "NO_PROXY": "*"}
    command = emocam_command(console_script=True)
    log = tmp_path / "network.trace"
    tracer = subprocess.Popen(
        ["strace", "-f", "-q", "-e", "trace=network,openat", "-o", str(log), *command,
         "--image", str(photo)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "libmediapipe" not in (log.read_text(errors="replace") if log.exists() else ""):
            assert tracer.poll() is None and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.5)
        time.sleep(5)  # the detectors run on the photo
        (app,) = psutil.Process(tracer.pid).children()
        app.terminate()  # as a logout would: the window closes, the detectors with it
        _, err = tracer.communicate(timeout=120)
    finally:
        if tracer.poll() is None:
            for child in psutil.Process(tracer.pid).children(recursive=True):
                child.kill()
            tracer.kill()
    assert tracer.returncode == 130, err
    lines = log.read_text(errors="replace").splitlines()
    assert any("+++ exited with 130 +++" in line for line in lines)
    assert leaks(lines) == []


def test_no_frames_keeps_only_numbers(
    video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    r = run_emocam("process", video_face_at_edge, "-o", tmp_path, "--model", model_path, "-q",
                   "--no-frames")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "edge.emocam.csv", "edge.emocam.html", "edge.emocam.json", "edge.emocam.npz"
    ]  # the report has numbers and plots only: no thumbnail without frames
    summary = json.loads((tmp_path / "edge.emocam.json").read_text())
    assert summary["privacy"]["frames_written"] is False
    with np.load(tmp_path / "edge.emocam.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != np.uint8 for k in npz.files)  # no pixels in the sidecar
    r = run_emocam("process", video_face_at_edge, "-o", tmp_path / "x", "--no-frames",
                   "--output-video", tmp_path / "x.mp4", "-q")
    assert r.returncode == 2 and "--no-frames" in r.stderr
    # Re-analysing its numbers writes no frames either: the source is still there to read.
    again = tmp_path / "again"
    r = run_emocam("process", "--reanalyse", tmp_path / "edge.emocam.npz", "-o", again, "-q")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in again.iterdir()) == [
        "edge.reanalysed.csv", "edge.reanalysed.html", "edge.reanalysed.json"]
    assert json.loads((again / "edge.reanalysed.json").read_text())["privacy"][
        "frames_written"] is False


@pytest.fixture(scope="module")
def portrait(image_one_face: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("portrait")
    shutil.copy(image_one_face, folder / "portrait.jpg")
    return folder / "portrait.jpg"


def export(portrait: Path, model_path: Path, name: str, *flags: str) -> np.ndarray:
    out = portrait.parent / f"{name}.png"  # lossless, so pixels can be compared exactly
    r = run_emocam("process", portrait, "--model", model_path, "-q", "--output-video", out,
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
    assert summary["privacy"] == {"frames_written": True, "no_frames": False,
                                  "blur_faces": True, "boxes_only": False}


def test_a_reanalysis_of_a_blurred_run_blurs_the_faces_too(
    portrait: Path, model_path: Path
) -> None:
    original = cv2.imread(str(portrait))
    r = run_emocam("process", portrait, "--model", model_path, "-q", "--blur-faces", "-o",
                   portrait.parent / "blur-run")
    assert r.returncode == 0, r.stderr
    out = portrait.parent / "blur-again.png"
    r = run_emocam("process", "--reanalyse", portrait.parent / "blur-run" / "portrait.emocam.npz",
                   "--output-video", out, "--json", portrait.parent / "blur-again.json", "-q",
                   "--smoothing", "0")
    assert r.returncode == 0, r.stderr
    again = cv2.imread(str(out))
    assert detail(again[face_inside()]) < 0.1 * detail(original[face_inside()])
    summary = json.loads((portrait.parent / "blur-again.json").read_text())
    assert summary["privacy"]["blur_faces"] is True
    # A threshold above the face's score leaves it out of the results, not out of the blur:
    # before, a higher --threshold wrote the face sharp into a video that said "blurred".
    out = portrait.parent / "blur-strict.png"
    r = run_emocam("process", "--reanalyse", portrait.parent / "blur-run" / "portrait.emocam.npz",
                   "--output-video", out, "--json", portrait.parent / "blur-strict.json", "-q",
                   "--threshold", "0.999")
    assert "No face was found" in r.stderr, r.stderr  # none passes: said, outputs written
    strict = cv2.imread(str(out))
    assert detail(strict[face_inside()]) < 0.1 * detail(original[face_inside()])


def test_boxes_only_shows_no_camera_pixels(portrait: Path, model_path: Path) -> None:
    image = export(portrait, model_path, "boxes", "--boxes-only")
    background = np.all(image == NEUTRAL_GRAY, axis=2)
    assert background[face_inside()].all()  # where the face was: nothing but grey
    drawn = ~background
    assert 0.01 < drawn.mean() < 0.2  # the box, label and bars, and nothing else


def test_a_face_the_detector_misses_for_a_moment_stays_blurred(
    tmp_path: Path, model_path: Path
) -> None:
    # A hand passes over the face down to its mouth for two frames: the detector loses the
    # face there, while its mouth and chin are still in view. Before, those two frames showed
    # them sharp in a video written with --blur-faces.
    from benchmarks.media import Placement, render

    covered = (10, 11)
    frames, mouths = [], []
    for i in range(20):
        cx, cy, side = 250 + 4 * i, 180, 150
        image = render((640, 360), [Placement("astronaut", cx, cy, side)])
        if i in covered:
            image[: int(cy + 0.2 * side), int(cx - 0.8 * side): int(cx + 0.8 * side)] = 128
        frames.append(image)
        mouths.append((slice(int(cy + 0.22 * side), int(cy + 0.45 * side)),
                       slice(int(cx - 0.3 * side), int(cx + 0.3 * side))))
    video = tmp_path / "hand.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (640, 360))
    for image in frames:
        writer.write(image)
    writer.release()
    out = tmp_path / "out"
    r = run_emocam("process", video, "-o", out, "--model", model_path, "-q", "--blur-faces",
                   "--no-sidecar", "--no-report")
    assert r.returncode == 0, r.stderr
    rows = (out / "hand.emocam.csv").read_text().splitlines()[1:]
    seen = {int(row.split(",")[0]) for row in rows}
    assert not seen & set(covered)  # the detector did lose the face there
    cap = cv2.VideoCapture(str(out / "hand.emocam.mp4"))
    for i, image in enumerate(frames):
        ok, written = cap.read()
        assert ok, i
        where = mouths[i]
        # Shown as it is, 3 in 4 of its pixels are the source's (within the codec's error);
        # smeared, about 1 in 25.
        same = np.abs(written[where].astype(int) - image[where]).max(axis=2) < 8
        assert same.mean() < 0.3, f"frame {i} shows it"
    cap.release()
