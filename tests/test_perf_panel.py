"""The performance panel and the privacy/uncertainty toggles of the desktop app, offscreen."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from gui_helpers import wait_frames

from emocam.gui.actions import CHOICES

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_settings")]
CHOICES_BY_ID = {c.id: c for c in CHOICES}


def test_the_performance_panel_shows_what_runs_and_how_long_each_stage_takes(
    qtbot, make_window, video_one_face
) -> None:
    window = make_window()
    window.qactions["view.perf_panel"].setChecked(True)
    assert window.perf_dock.isVisible()
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 5)
    running = str(window.pipeline_info["provider"]).removesuffix("ExecutionProvider")
    assert window.perf.text("provider") == running and running  # CPU here, CUDA on a GPU
    assert window.perf.text("model") == window.pipeline_info["model"]
    assert window.perf.text("detector") == "mediapipe"
    assert window.perf.text("fallback") == "none"
    for stage in ("decode", "detect", "classify", "draw", "paint"):
        assert window.perf.text(stage).endswith(" ms"), stage
        assert float(window.perf.text(stage).split()[0]) > 0
    assert "fps" in window.perf.text("fps")


def test_the_performance_panel_shows_how_often_faces_are_detected_under_a_target_rate(
    qtbot, make_window, video_one_face
) -> None:
    window = make_window()
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 3)
    assert window.perf.text("target") == "off"
    assert window.perf.text("detection") == "every frame; new faces every frame (at most 30/s)"
    choices = dict((label, value) for label, value in CHOICES_BY_ID["view.target_fps"].options(
        window))
    assert choices["30 fps"] == 30.0
    window.settings.target_fps = 30.0
    window.apply_pipeline_config()
    qtbot.waitUntil(lambda: window.perf.text("target") == "30 fps", timeout=10_000)
    assert window.pipeline_info["target_fps"] == 30.0


def test_blur_faces_and_boxes_only_reach_the_drawn_frames(
    qtbot, make_window, video_one_face
) -> None:
    window = make_window()
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 2)
    window.qactions["view.boxes_only"].setChecked(True)
    assert window.settings.boxes_only and window.overlay_options().boxes_only
    wait_frames(qtbot, window, 3)
    image = window.last_packet.image
    assert (image == 64).all(axis=2).mean() > 0.8  # a grey page with boxes and bars
    window.qactions["view.boxes_only"].setChecked(False)
    window.qactions["view.blur_faces"].setChecked(True)
    assert window.overlay_options().blur_faces and not window.overlay_options().boxes_only
