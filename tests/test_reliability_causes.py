"""Each failure names its true cause in one sentence, never a traceback: decompression
bombs, output names of the wrong type, Ctrl-C at start-up, unreadable inputs and outputs,
pipes and devices, symbolic-link loops. Real photos, real videos, the real command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import run_cli, run_emocam, start_emocam
from reliability_helpers import assert_one_sentence

from benchmarks.media import SyntheticVideo, portraits


def write_bomb(path: Path, side: int = 50000) -> Path:
    """A PNG whose header declares ``side`` x ``side`` gray pixels: ~100 KB on disk, 2.5
    gigapixels decoded (the first rows are there; a decoder fails or allocates first)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte, then the row's pixels
    idat = b"".join(packer.compress(row) for _ in range(2000)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def write_photo(path: Path) -> Path:
    cv2.imwrite(str(path), portraits()["astronaut"].image)
    return path


def rows_of(summary: Path) -> dict[str, object]:
    return json.loads(summary.read_text())


# --- section 4: tracebacks where one sentence belongs ----------------------------------------


def test_a_decompression_bomb_is_refused_by_its_header_in_one_sentence(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bomb = write_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200_000
    run = run_cli(capfd, "process", bomb, "-o", tmp_path / "out", "-q")
    assert_one_sentence(run, str(bomb), "50000x50000", "megapixels")


def test_a_bomb_in_a_folder_is_skipped_and_the_batch_goes_on(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    write_bomb(folder / "1 bomb.png")
    write_photo(folder / "2 face.png")
    run = run_cli(capfd, "process", folder, "-o", tmp_path / "out", "-q")
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    (warning,) = run.lines()
    assert "1 bomb.png" in warning and "megapixels" in warning and "Skipped" in warning
    summary = rows_of(tmp_path / "out" / "photos.emocam.json")
    assert summary["frames_with_faces"] == 1 and summary["completed"] is True


def test_a_bomb_among_several_inputs_is_named_and_the_others_are_processed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bomb, photo = write_bomb(tmp_path / "bomb.png"), write_photo(tmp_path / "face.png")
    run = run_cli(capfd, "process", bomb, photo, "-o", tmp_path / "out", "-q")
    assert run.code == 2 and "Traceback" not in run.err
    assert "megapixels" in run.lines()[0] and "1 of 2 inputs" in run.lines()[-1]
    assert rows_of(tmp_path / "out" / "face.emocam.json")["frames_with_faces"] == 1


@pytest.mark.parametrize("bad", ["text", "empty", "bomb"])
def test_a_bad_first_image_is_skipped_like_any_other_in_its_folder(
    bad: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    first = folder / "a.png"
    if bad == "text":
        first.write_text("not an image")
    elif bad == "empty":
        first.write_bytes(b"")
    else:
        write_bomb(first)
    write_photo(folder / "b.png")
    run = run_cli(capfd, "process", folder, "-o", tmp_path / "out", "-q")
    assert run.code == 0, run.err
    (warning,) = run.lines()
    assert str(first) in warning and "Skipped" in warning
    summary = rows_of(tmp_path / "out" / "photos.emocam.json")
    assert summary["frames_with_faces"] == 1
    # The summary keeps what stderr said, and ties each face to its photo.
    assert summary["photos"] == 2 and summary["photos_skipped"] == ["a.png"]
    (face,) = summary["faces"].values()
    assert face["file"] == "b.png" and len(face["last_box"]) == 4
    report = (tmp_path / "out" / "photos.emocam.html").read_text()
    assert "<th>photo</th><td>b.png</td>" in report and "a.png" in report


def test_a_folder_none_of_whose_images_reads_is_one_sentence(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_text("not an image")
    write_bomb(folder / "b.png")
    run = run_cli(capfd, "process", folder, "-o", tmp_path / "out", "-q")
    assert run.code == 2 and "Traceback" not in run.err
    *skipped, last = run.lines()  # each file's own cause, then the folder's sentence
    assert [str(folder / "a.png") in skipped[0], str(folder / "b.png") in skipped[1]] == [
        True, True]
    assert str(folder) in last and "None of the 2" in last


def test_an_annotated_image_named_as_text_is_one_sentence_before_any_work(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    photo = write_photo(tmp_path / "face.png")
    out = tmp_path / "out"
    for name in ("a.txt", "a.mp4"):
        run = run_cli(capfd, "process", photo, "-o", out, "--output-video", tmp_path / name)
        assert_one_sentence(run, name, "not an image type", ".png")
    assert not out.exists() or not any(out.iterdir())


def _wait_until_loading(p: subprocess.Popen[str], library: str = "numpy") -> None:
    """Until ``library`` is mapped into the process: emocam's own code is then running and
    importing its native libraries (NumPy first). Before that the interpreter itself is
    starting, which takes from 20 ms to over 0.2 s on a loaded machine (a known gap)."""
    maps = Path(f"/proc/{p.pid}/maps")
    deadline = time.monotonic() + 60
    while library not in maps.read_text(errors="replace"):
        assert p.poll() is None and time.monotonic() < deadline, "emocam never started"
        time.sleep(0.002)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("after_s", [0.0, 0.03, 0.1])
def test_ctrl_c_in_the_first_fifth_of_a_second_ends_without_a_traceback(
    after_s: float, tmp_path: Path
) -> None:
    """Ctrl-C while NumPy, OpenCV and onnxruntime load (the first 0.2 s on a quiet machine)."""
    photo = write_photo(tmp_path / "face.png")
    p = start_emocam("process", photo, "-o", tmp_path / "o", console_script=True)
    try:
        _wait_until_loading(p)
        time.sleep(after_s)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert "Traceback" not in err and "Error" not in err, err
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == "emocam: interrupted."


# A Ctrl-C at the moment the run opens its outputs, delivered by the kernel to the process.
_CTRL_C_AS_OUTPUTS_OPEN = """
import signal, sys
import emocam.run_sinks
from emocam.cli import main
real = emocam.run_sinks.open_sinks
def opening(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)
    return real(*args, **kwargs)
emocam.run_sinks.open_sinks = opening
import emocam.process
emocam.process.open_sinks = opening
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("earlier", [False, True], ids=["fresh", "over an earlier set"])
def test_ctrl_c_while_the_run_sets_up_stops_it_before_its_first_frame(
    tmp_path: Path, video_one_face: SyntheticVideo, model_path: Path, earlier: bool
) -> None:
    """Between the imports (where Ctrl-C ends the command at once) and the first frame, the
    run builds its model, detector and outputs; a KeyboardInterrupt raised inside a library's
    set-up there could be lost, and the run went on to the end. The first Ctrl-C now asks the
    run to stop, wherever it lands: nothing is written, and an earlier set stays as it was."""
    out = tmp_path / "o"
    out.mkdir()
    old = {}
    if earlier:
        for name in ("one_face.emocam.csv", "one_face.emocam.json", "one_face.emocam.mp4"):
            (out / name).write_text(f"the earlier {name}")
            old[name] = (out / name).read_bytes()
    r = subprocess.run(
        [sys.executable, "-c", _CTRL_C_AS_OUTPUTS_OPEN, "process", str(video_one_face.path),
         "-o", str(out), "--overwrite", "--model", str(model_path)],
        capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr
    assert "stopped before the first frame; nothing was written" in r.stderr, r.stderr
    # No empty CSV, no video a player cannot open, no partial or lock file: only what was.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old


# --- section 5: each message names its true cause ---------------------------------------------


@pytest.mark.parametrize("fps", [100000 / 1001, 90.017])
def test_a_high_frame_rate_video_is_annotated_with_the_default_codec(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], fps: float
) -> None:
    clip = tmp_path / "fast.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), fps, (160, 120))
    for v in range(10):
        writer.write(np.full((120, 160, 3), 20 * v, np.uint8))
    writer.release()
    run = run_cli(capfd, "process", clip, "-o", tmp_path / "out", "-q", "--no-sidecar")
    # Before: "could not be written (Invalid argument: 'avcodec_open2(\"mpeg4\", {})'
    # returned 22)", as MPEG-4 part 2 stores a rate's numerator in 16 bits.
    assert "could not be written" not in run.err and "cannot be written" not in run.err
    cap = cv2.VideoCapture(str(tmp_path / "out" / "fast.emocam.mp4"))
    frames = 0
    while cap.grab():
        frames += 1
    assert frames >= 10 and abs(cap.get(cv2.CAP_PROP_FPS) - fps) < 0.05


def test_a_1x1_video_is_annotated_with_the_default_codec(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    clip = tmp_path / "dot.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 10, (1, 1))
    for v in range(5):
        writer.write(np.full((1, 1, 3), 40 * v, np.uint8))
    writer.release()
    run = run_cli(capfd, "process", clip, "-o", tmp_path / "out", "-q")
    # Before: OpenCV's mp4v writer did not open for a 1-pixel side, and the run stopped
    # (first with "check the folder is writable", later naming the codec).
    line = assert_one_sentence(run, "No face was found in any of the 5 frames")
    assert "outputs were still written" in line
    cap = cv2.VideoCapture(str(tmp_path / "out" / "dot.emocam.mp4"))
    frames = 0
    while cap.grab():
        frames += 1
    assert frames == 5


@pytest.mark.parametrize("name", ["out.xyz", "out.png", "out"])
def test_an_unknown_video_extension_is_named_as_such(
    name: str, video_face_at_edge: SyntheticVideo, tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = run_cli(capfd, "process", video_face_at_edge, "-o", tmp_path / "o",
                  "--output-video", tmp_path / name, "-q")
    line = assert_one_sentence(run, name, "not a video type", ".mp4")
    assert "writable" not in line and "disk" not in line


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_a_device_is_named_as_such_not_as_empty(
    kind: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    if kind == "fifo":
        path = tmp_path / "stream.mp4"
        os.mkfifo(path)
        words = ("named pipe",)
    else:
        path = Path("/dev/zero")
        if not path.is_char_device():
            pytest.skip("this system has no /dev/zero")
        words = ("is a device",)
    run = run_cli(capfd, "process", path, "-o", tmp_path / "out", "-q")
    line = assert_one_sentence(run, str(path), *words)
    assert "empty" not in line


def test_a_symbolic_link_loop_is_named_as_a_loop(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    run = run_cli(capfd, "process", tmp_path / "a.mp4", "-o", tmp_path / "out", "-q")
    line = assert_one_sentence(run, "a.mp4", "symbolic link", "loop")
    assert "does not exist" not in line


def test_a_dangling_symbolic_link_names_its_target(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.mp4").symlink_to(tmp_path / "gone.mp4")
    run = run_cli(capfd, "process", tmp_path / "a.mp4", "-o", tmp_path / "out", "-q")
    assert_one_sentence(run, "a.mp4", "gone.mp4", "does not exist")


def test_emocam_process_with_no_input_asks_for_one(capfd: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capfd, "process")
    line = assert_one_sentence(run, "Give a video, image or folder")
    assert "not both" not in line


# Permission errors need a process that file permissions bind: as root, the command runs
# with every capability dropped (setpriv), so a mode of 000 or 555 holds for it too.


def _unprivileged() -> list[str]:
    """A command prefix that drops root's capabilities (none where not root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    dropped = [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--"]
    if subprocess.run([*dropped, "true"], capture_output=True).returncode != 0:
        pytest.skip("setpriv cannot drop capabilities here")
    return dropped


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize("name", ["secret.mp4", "secret.png"])
def test_an_input_without_read_permission_says_so(
    name: str, video_face_at_edge: SyntheticVideo, tmp_path: Path
) -> None:
    path = tmp_path / name
    if name.endswith(".mp4"):
        shutil.copy(video_face_at_edge.path, path)
    else:
        write_photo(path)
    path.chmod(0)
    line = _one_line(run_emocam("process", path, "-o", tmp_path / "out", "-q",
                                prefix=_unprivileged(), timeout=180))
    assert name in line and "Permission denied" in line and "permissions" in line
    assert "H.264" not in line and "corrupt" not in line


@pytest.mark.parametrize("output", ["folder", "json", "image"])
def test_an_output_without_write_permission_says_so_not_disk_space(
    output: str, video_face_at_edge: SyntheticVideo, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    free = tmp_path / "free"
    free.mkdir()
    if output == "folder":
        args: tuple[object, ...] = (video_face_at_edge, "-o", locked)
    elif output == "json":
        args = (video_face_at_edge, "-o", free, "--json", locked / "s.json")
    else:
        photo = write_photo(free / "face.png")
        args = (photo, "-o", free, "--output-video", locked / "face.png", "--no-sidecar")
    line = _one_line(run_emocam("process", *args, "-q", prefix=_unprivileged(), timeout=180))
    assert "Permission denied" in line or "does not let you write" in line, line
    assert str(locked) in line and "disk space" not in line and "space" not in line
