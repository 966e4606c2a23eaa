"""Shared fixtures: real-face test media written on the fly, with ground truth
(benchmarks/media.py makes them), the shipped model, the desktop app's settings and windows,
and the runs several test modules read."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

# A suite started in the background (`nohup pytest &`, a CI runner) inherits an ignored
# Ctrl-C, and emocam keeps an ignoring it was started with (emocam.stopping, read when it is
# first imported, below): the app's in-process tests of Ctrl-C would fail for a reason that is
# not emocam's. The suite hears Ctrl-C as a terminal's would.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Every test of the app runs offscreen, whichever file is run alone (one without this line
# aborted in Qt when run by itself with no display); the real X11 platform has its own test,
# which sets its own.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.media import (
    Placement,
    SyntheticVideo,
    edge_plan,
    four_faces_plan,
    head_image,
    one_face_plan,
    render,
    small_faces_plan,
    write_video,
)

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
        "astronaut": head_image("astronaut"),
        "grace_hopper": head_image("hopper"),
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


# --- runs and receivers several test modules share -----------------------------------


@pytest.fixture(scope="module")
def plain_run(video_two_shots: Path, model_path: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-shot interview processed with default settings (once per test module: read
    only). The report's tests read it, in Python and in a browser."""
    from emocam.cli import main

    out = tmp_path_factory.mktemp("report")
    assert main(["process", str(video_two_shots), "-o", str(out), "--model",
                 str(model_path), "-q"]) == 0
    return out


@pytest.fixture
def osc_server() -> Iterator[tuple[int, list[tuple[str, tuple]]]]:
    """A real OSC server on the loopback address recording every message it gets, in order:
    its port and the messages so far."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    from emocam.stream import LOOPBACK

    got: list[tuple[str, tuple]] = []
    lock = threading.Lock()

    def record(address: str, *args: object) -> None:
        with lock:
            got.append((address, args))

    dispatcher = Dispatcher()
    dispatcher.set_default_handler(record)
    # One thread per datagram would reorder frames; the server reads them one by one.
    server = ThreadingOSCUDPServer((LOOPBACK, 0), dispatcher)
    server.daemon_threads = True
    server.process_request = server.finish_request  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], got
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver_joined(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Waits until the live feed the run opened last has a receiver. The feed lists a client
    only after answering its handshake, from a thread of its own: a client that has connected
    may not be listed yet, and frames sent before it is are not its to receive."""
    import emocam.stream as stream

    opened: list[Any] = []
    open_stream = stream.open_stream

    def keep(target: Any) -> Any:
        opened.append(open_stream(target))
        return opened[-1]

    monkeypatch.setattr(stream, "open_stream", keep)

    def wait() -> None:
        deadline = time.monotonic() + 10.0
        while not opened[-1].stats().clients:
            assert time.monotonic() < deadline, "the feed never listed its receiver"
            time.sleep(0.01)

    return wait


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
