"""What the app shows matches what it does: after a model switch, a restart, a failed open,
a still image, a privacy view, an export of one frame; and the sample video loops with the
same face ids. Driven as a user would, with the real pipeline (offscreen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

import test_gui as gui_tests

from emocam.gui.timeline import EmotionTimeline
from emocam.types import FaceResult, Frame, FrameResult

pytestmark = pytest.mark.gui
# The desktop app tests' fixtures: settings in a temporary file, windows closed after use.
isolated_settings = gui_tests.isolated_settings
make_window = gui_tests.make_window
wait_frames = gui_tests.wait_frames


def _result(t_ms: float, names: tuple[str, ...]) -> FrameResult:
    p = np.full(len(names), 1 / len(names), np.float32)
    face = FaceResult(1, (0.0, 0.0, 10.0, 10.0), 0.9, p, p)
    return FrameResult(Frame(np.zeros((4, 4, 3), np.uint8), int(t_ms / 33), t_ms), [face],
                       names)


def test_the_timeline_starts_afresh_when_the_model_has_other_classes(qtbot):
    eight = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
             "contempt")
    seven = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    timeline = EmotionTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(300, 200)
    for k in range(30):
        timeline.add(_result(k * 33.0, eight))
    for k in range(30, 40):
        timeline.add(_result(k * 33.0, seven))
    _, values = timeline.series()
    assert values.shape == (10, 7) and not np.isnan(values).any()
    assert not timeline.grab().isNull()  # painted without a ValueError


def test_switching_to_the_7_class_model_keeps_the_timeline_and_cards_going(
        qtbot, make_window, video_one_face):
    window = make_window()
    window.settings.playback_speed = 0.5
    window.open_file(video_one_face.path)
    wait_frames(qtbot, window, 3)
    window.seek(0)
    window.set_model("fer2013")
    qtbot.waitUntil(lambda: len(window.pipeline_info.get("class_names", ())) == 7,
                    timeout=20_000)
    wait_frames(qtbot, window, 5)
    times, values = window.timeline.series()
    assert values.shape[1] == 7 and len(times) >= 2
    assert not window.timeline.grab().isNull()
    card = next(iter(window.faces.cards.values()))
    assert card.top_label in window.pipeline_info["class_names"]


def test_restart_after_the_end_plays_and_the_button_and_menu_say_so(
        qtbot, make_window, video_one_face):
    window = make_window()
    window.settings.playback_speed = 4.0
    window.open_file(video_one_face.path)
    qtbot.waitUntil(lambda: window._ended, timeout=30_000)
    assert window.playback.button.isChecked()  # ended: shows "play"
    window.qactions["playback.restart"].trigger()
    qtbot.waitUntil(lambda: window.last_packet.result.frame.index > 5
                    and not window._ended, timeout=10_000)
    assert not window.playback.button.isChecked()  # shows "pause": it is playing
    assert not window.qactions["playback.pause"].isChecked()
    window.qactions["playback.pause"].trigger()  # the first Space pauses
    assert window.playback.button.isChecked()


def test_open_recent_remembers_absolute_paths_and_a_failed_open_clears_the_old_title(
        qtbot, make_window, video_one_face, tmp_path, monkeypatch):
    monkeypatch.chdir(video_one_face.path.parent)
    window = make_window()
    window.open_file(video_one_face.path.name)  # relative, as from a shell
    wait_frames(qtbot, window, 2)
    recent = Path(window.settings.recent_files[0])
    assert recent.is_absolute() and recent == video_one_face.path.absolute()
    assert video_one_face.path.name in window.windowTitle()
    monkeypatch.chdir(tmp_path)
    window.open_file(tmp_path / "gone.mp4")
    qtbot.waitUntil(lambda: "gone.mp4" in window.banner.text(), timeout=10_000)
    assert video_one_face.path.name not in window.windowTitle()
    assert "0:0" not in window.playback.position.text()


def test_blur_faces_and_boxes_only_cannot_both_be_ticked(make_window):
    window = make_window()
    blur, boxes = window.qactions["view.blur_faces"], window.qactions["view.boxes_only"]
    blur.trigger()
    boxes.trigger()
    assert boxes.isChecked() and not blur.isChecked()
    assert window.settings.boxes_only and not window.settings.blur_faces
    blur.trigger()
    assert blur.isChecked() and not boxes.isChecked()
    assert window.overlay_options().blur_faces and not window.overlay_options().boxes_only


def test_a_still_image_shows_no_clock_and_no_play_button(qtbot, make_window, image_one_face):
    window = make_window()
    window.open_file(image_one_face)
    qtbot.waitUntil(lambda: len(window.faces.cards) == 1, timeout=20_000)
    assert "live" not in window.playback.position.text()
    assert window.playback.position.text() == "still image"
    assert not window.playback.button.isVisible()
    assert not window.qactions["playback.pause"].isEnabled()


def test_exporting_a_photo_says_one_frame_and_a_snapshot_says_where_it_went(
        qtbot, make_window, image_one_face, tmp_path):
    window = make_window()
    window.open_file(image_one_face)
    qtbot.waitUntil(lambda: window.qactions["file.export"].isEnabled(), timeout=10_000)
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.start_export(tmp_path / "photo.jpg")
    assert "Exported 1 frame:" in window.banner.text()
    qtbot.waitUntil(lambda: len(window.faces.cards) == 1, timeout=20_000)
    assert window.save_snapshot(tmp_path / "snap.png")
    assert str(tmp_path / "snap.png") in window.banner.text()


def test_the_sample_video_loops_and_its_faces_keep_their_ids(qtbot, make_window):
    window = make_window()
    window.settings.playback_speed = 4.0
    ids: list[set[int]] = [set()]
    last = [-1]

    def seen(packet) -> None:
        index = packet.result.frame.index
        if index < last[0]:
            ids.append(set())  # a new pass
        last[0] = index
        ids[-1].update(f.face_id for f in packet.result.faces)

    window.open_sample()
    window.worker.frame_ready.connect(seen)
    qtbot.waitUntil(lambda: len(ids) >= 3, timeout=120_000)
    assert not window._ended
    first, second = ids[1], ids[2]  # whole passes (the first may have started late)
    assert first and first == second
