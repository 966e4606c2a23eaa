"""The desktop app with bad inputs and failing sources: a banner, never a dead window.
Offscreen, with the real pipeline; the only stand-in is a webcam played from a real video."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import psutil
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from cli_helpers import start_emocam
from reliability_helpers import Resources

from emocam.camera_source import CameraSource
from emocam.resources import sample_video_path
from emocam.sources import open_source

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120),
              pytest.mark.usefixtures("isolated_settings")]


@pytest.fixture
def window(make_window):  # the desktop-app tests' window factory, by a shorter name
    return make_window


@pytest.mark.parametrize("case", ["zero bytes.mp4", "text.mp4", "no images", "stopped.mp4"])
def test_a_bad_file_shows_an_error_banner_naming_it(qtbot, window, tmp_path, case) -> None:
    path = tmp_path / case
    if case == "zero bytes.mp4":
        path.write_bytes(b"")
    elif case == "text.mp4":
        path.write_text("not a video\n" * 50)
    elif case == "stopped.mp4":  # a recording that stopped before its index was written
        path.write_bytes(sample_video_path().read_bytes()[:200_000])
    else:
        path.mkdir()
        (path / "notes.txt").write_text("hello")
    w = window()
    w.open_file(path)
    qtbot.waitUntil(lambda: case in w.banner.text(), timeout=10_000)
    assert w.banner.level == "error" and "Traceback" not in w.banner.text()
    if case == "stopped.mp4":  # the sentence emocam process says
        assert "is a recording that was never finished" in w.banner.text()
    if case == "text.mp4":  # with its cause, as emocam process says it (was three guesses)
        assert "cannot be opened as a video: it holds text, not a video" in w.banner.text()


class _Failing(CameraSource):
    """emocam's camera on a real video capture whose driver then fails with an exception."""

    def __init__(self, video: Path, good: int):
        super().__init__(cv2.VideoCapture(str(video)), "Camera 0", pace_fps=30.0)
        self.good = good

    def __iter__(self):
        for frame in super().__iter__():
            if frame.index >= self.good:
                raise OSError(5, "Input/output error")
            yield frame


def test_a_camera_that_raises_mid_stream_offers_retry_and_retry_works(
    qtbot, window, video_one_face
) -> None:
    opened: list[int] = []

    def open_fn(spec):
        if isinstance(spec, int):
            opened.append(spec)
            return _Failing(video_one_face.path, good=60 if len(opened) == 1 else 10**6)
        return open_source(spec)

    w = window(open_fn)
    w.start_camera(0)
    qtbot.waitUntil(lambda: "Retry" in w.banner.buttons, timeout=15_000)
    assert "Camera 0" in w.banner.text()
    w.banner.buttons["Retry"].click()
    start = w.view.frames_shown
    qtbot.waitUntil(lambda: w.view.frames_shown >= start + 3, timeout=15_000)
    assert len(opened) == 2


def test_opening_twenty_files_in_a_row_leaves_no_thread_behind(
    qtbot, window, image_one_face, video_face_at_edge
) -> None:
    w = window()

    def open_and_stop(files: list[Path]) -> Resources:
        for path in files:
            shown = w.view.frames_shown
            w.open_file(path)
            qtbot.waitUntil(lambda s=shown: w.view.frames_shown > s, timeout=15_000)
        w.stop_source()
        qtbot.waitUntil(w.threads.all_finished, timeout=10_000)
        return Resources.settled()

    pair = [image_one_face, video_face_at_edge.path]
    before = open_and_stop(pair)
    after = open_and_stop(pair * 9)
    # Native threads, counted with no file open (a QThread that ran Python stays listed by
    # ``threading`` as a dummy). A leak would be one or more per file, 18 or more here.
    assert after.threads <= before.threads + 2, (before, after)
    assert after.fds <= before.fds + 4


def _away_from_home(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``env`` with settings and home in ``tmp_path``: a user's own are never touched."""
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}


def _wait_until_detecting(app: subprocess.Popen, timeout: float = 90.0) -> None:
    """Until the app has loaded MediaPipe and then spent two seconds of CPU time (frames
    detected and classified): measured, not slept, so a loaded machine waits longer."""
    proc = psutil.Process(app.pid)
    deadline = time.monotonic() + timeout
    while not any("libmediapipe" in m.path for m in proc.memory_maps()):
        assert app.poll() is None and time.monotonic() < deadline, "MediaPipe never loaded"
        time.sleep(0.2)
    start = sum(proc.cpu_times()[:2])
    while sum(proc.cpu_times()[:2]) - start < 2.0:
        assert app.poll() is None and time.monotonic() < deadline, "no frames processed"
        time.sleep(0.2)


@pytest.mark.slow
def test_the_app_keeps_the_terminal_free_of_native_library_noise(tmp_path) -> None:
    """MediaPipe and LiteRT print ~100 lines (sparsity warnings, accelerator registrations)
    straight to descriptor 2 as the detectors load and close; `emocam` shows only its own
    lines unless -v is given."""
    app = start_emocam("--video", sample_video_path(), env=_away_from_home(
        {**os.environ, "QT_QPA_PLATFORM": "offscreen"}, tmp_path))
    _wait_until_detecting(app)
    app.send_signal(signal.SIGTERM)
    _, err = app.communicate(timeout=60)
    assert app.returncode == 130
    assert err.splitlines() == ["emocam: closing (SIGTERM)"]


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="X11/Wayland platforms only")
def test_the_app_without_a_display_says_so_in_one_sentence(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    app = start_emocam(env=_away_from_home(env, tmp_path))
    _, err = app.communicate(timeout=60)
    assert app.returncode == 2
    assert err.splitlines() == [err.strip()] and "needs a display" in err


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="X11/Wayland platforms only")
@pytest.mark.parametrize("display", [{"DISPLAY": ":57"},
                                     {"WAYLAND_DISPLAY": "wayland-57", "XDG_RUNTIME_DIR": "/tmp"}],
                         ids=["x11", "wayland"])
def test_the_app_with_a_display_nothing_answers_at_says_so_in_one_sentence(
    tmp_path, display: dict[str, str]
) -> None:
    # An ssh session without X forwarding, a container's or a stale DISPLAY: Qt aborted
    # (status 134) with a paragraph that blamed xcb-cursor0.
    assert not os.path.exists("/tmp/.X11-unix/X57") and not os.path.exists("/tmp/wayland-57")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    app = start_emocam(env=_away_from_home({**env, **display}, tmp_path))
    _, err = app.communicate(timeout=60)
    assert app.returncode == 2, err
    assert err.splitlines() == [err.strip()], err
    assert "cannot reach the display" in err and next(iter(display.values())) in err


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_an_x_server_listening_on_ipv6_only_is_reachable() -> None:
    # libxcb connects over IPv6 too: checking IPv4 alone would refuse a working display.
    from emocam.display import x11_reachable

    names = []
    for name in ("localhost", "ip6-localhost"):
        try:
            if socket.getaddrinfo(name, None, socket.AF_INET6):
                names.append(name)
        except OSError:
            pass
    if not names:
        pytest.skip("no host name here leads to the IPv6 loopback")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        try:
            server.bind(("::1", 6000 + 95))
        except OSError:
            pytest.skip("no IPv6 loopback, or its port is taken")
        server.listen()
        assert x11_reachable(f"{names[0]}:95")
    assert not x11_reachable("localhost:96")


def test_a_qt_failure_at_start_reaches_the_user_though_native_noise_is_hidden(tmp_path) -> None:
    """Descriptor 2 goes to /dev/null in `emocam`; Qt's own fatal message must still show."""
    app = start_emocam(env=_away_from_home({**os.environ, "QT_QPA_PLATFORM": "no-such-platform"},
                                           tmp_path))
    _, err = app.communicate(timeout=60)
    assert app.returncode != 0
    assert "no Qt platform plugin could be initialized" in err
