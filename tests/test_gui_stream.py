"""File > Stream Results...: the app feeds the same live sink as ``emocam process --stream``."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from gui_helpers import wait_frames

from emocam.stream import LOOPBACK as HOST  # where osc_server listens

pytestmark = pytest.mark.gui


def test_stream_results_sends_the_frames_the_app_shows_and_remembers_the_address(
    qtbot, make_window, video_one_face, osc_server
):
    port, got = osc_server
    window = make_window()
    url = f"osc://{HOST}:{port}"
    assert window.feed.start(url)
    assert window.settings.stream_url == url
    assert f"{HOST}:{port}" in window.banner.text()
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 20)
    qtbot.waitUntil(lambda: sum(a == "/emocam/frame" for a, _ in got) >= 10, timeout=10_000)
    qtbot.waitUntil(lambda: window.status.text("stream").endswith("0 dropped"),
                    timeout=10_000)
    probs = [args for a, args in got if a.endswith("/probs")]
    assert probs and all(len(p) == 8 for p in probs)
    # A mistyped address is refused and the feed running goes on (it was stopped first).
    assert not window.feed.start(f"{HOST}:{port}")
    assert window.feed.sink is not None and window.status.text("stream")
    assert window.feed.start(url)  # again, its banner showing
    assert f"{HOST}:{port}" in window.banner.text()
    window.feed.start("")  # the dialog left empty: streaming stops
    assert window.feed.sink is None and window.status.text("stream") == ""
    assert f"{HOST}:{port}" not in window.banner.text()  # no "Serving..." left behind


def test_a_bad_stream_address_is_one_sentence_in_the_banner(make_window):
    window = make_window()
    assert not window.feed.start("http://127.0.0.1:9000")
    assert window.feed.sink is None
    assert "osc://HOST:PORT" in window.banner.text()
