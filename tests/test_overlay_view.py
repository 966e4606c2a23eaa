"""The app's video view paints the overlay at screen resolution: its text is 11-13 px tall
on screen whatever the video's size, and its panels follow the placement rules in screen
pixels (no face, label or other panel covered; each panel stays put)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from gui_helpers import assert_panels_clear
from PySide6.QtGui import QImage

from emocam.gui.overlay_painter import OverlayPainter
from emocam.gui.video_view import VideoView
from emocam.overlay import OverlayOptions
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.resources import sample_video_path
from emocam.sources import open_source
from emocam.types import FaceResult, Frame, FrameResult

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def sample_results(model_path) -> list[FrameResult]:
    """Every 3rd frame of the bundled sample video (640x360, two people), analysed."""
    with open_source(str(sample_video_path())) as src, \
            Pipeline(PipelineConfig(model_path=model_path)) as p:
        return [p.process(f) for f in src][::3]


def scaled(result: FrameResult, factor: float) -> FrameResult:
    """The same faces in a frame ``factor`` times the size (a 4K copy of a 360p scene)."""
    h, w = result.frame.image.shape[:2]
    image = np.zeros((round(h * factor), round(w * factor), 3), np.uint8)
    faces = [FaceResult(f.face_id, tuple(v * factor for v in f.box), f.score, f.probs,
                        f.raw_probs) for f in result.faces]
    return FrameResult(Frame(image, 0, 0.0), faces, result.class_names)


def show(qtbot, result: FrameResult, size: tuple[int, int]) -> tuple[VideoView, QImage]:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.set_frame(result.frame.image, result, OverlayOptions())
    return view, view.grab().toImage()


def ink_height(image: QImage, x0: int, y0: int, w: int, h: int) -> int:
    """Rows of light (text) pixels in a dark panel's area."""
    ptr = image.convertToFormat(QImage.Format.Format_Grayscale8)
    gray = np.frombuffer(ptr.constBits(), np.uint8).reshape(ptr.height(), ptr.bytesPerLine())
    rows = np.nonzero((gray[y0 : y0 + h, x0 : x0 + w] > 120).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1) if len(rows) else 0


@pytest.mark.parametrize(("factor", "widget"), [(1.0, (1280, 720)), (6.0, (960, 540)),
                                                (1.0, (700, 400))])
def test_panel_text_is_11_to_13_px_tall_on_screen_whatever_the_video_size(
        qtbot, sample_results, factor, widget):
    """A 360p clip shown large, the same scene in 4K shown small: the same text height."""
    result = scaled(sample_results[0], factor)
    view, image = show(qtbot, result, widget)
    layout = view.overlay.layout
    names = result.class_names
    heights = []
    for place in layout.panels.values():
        if place.rect is None or place.rows < len(names):
            continue
        # The "happiness" row: an ascender (h) and a descender (p), the full text height.
        row = names.index("happiness")
        row_h = view.overlay.row_h
        r = place.rect
        heights.append(ink_height(image, r.x + 5, r.y + 5 + row * row_h, 70, row_h))
    assert heights, "no full panel was shown"
    assert all(11 <= h <= 13 for h in heights), heights


def test_panels_on_screen_cover_no_face_label_or_panel_and_stay_put(qtbot, sample_results):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(960, 540)
    places: dict[int, set] = {}
    for result in sample_results:
        view.set_frame(result.frame.image, result, OverlayOptions())
        view.grab()  # paints
        layout = view.overlay.layout
        for i in assert_panels_clear(layout):
            places.setdefault(i, set()).add((layout.panels[i].side, layout.panels[i].rows))
    assert len(places) == 2
    assert all(len(p) <= 2 for p in places.values()), places


def test_the_panel_background_is_nearly_opaque(qtbot, sample_results):
    result = sample_results[0]
    result.frame.image[:, ::2] = 255  # white stripes behind everything
    view, image = show(qtbot, result, (960, 540))
    place = next(p for p in view.overlay.layout.panels.values() if p.rect is not None)
    r = place.rect
    margin = ink_height(image, r.x + 1, r.y + 4, 3, r.h - 8)  # left margin: no text there
    assert margin == 0  # no stripe shows through


def test_a_new_source_forgets_where_panels_were():
    painter = OverlayPainter()
    painter.memory.last[1] = object()  # type: ignore[assignment]
    painter.reset()
    assert not painter.memory.last


def test_each_panel_on_screen_is_joined_to_its_face_in_its_colour(qtbot, sample_results):
    from emocam.overlay import label_text
    from emocam.placement import tie

    result = sample_results[0]
    view, image = show(qtbot, result, (960, 540))
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(rgb.constBits(), np.uint8).reshape(
        rgb.height(), rgb.bytesPerLine())[:, : rgb.width() * 3].reshape(rgb.height(), -1, 3)
    layout = view.overlay.layout
    joined = 0
    for face in result.faces:
        place = layout.panels.get(face.face_id)
        if place is None or place.rect is None:
            continue
        bgr = label_text(face, result.class_names, OverlayOptions())[1]
        lines = tie(place, layout.marks[face.face_id].area)
        assert len(lines) == 2  # the facing edge and the line across the gap
        (x0, y0), (x1, y1) = lines[1]
        x, y = (x0 + x1) // 2, (y0 + y1) // 2
        near = pixels[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)
        assert (np.abs(near - bgr[::-1]).sum(axis=1) < 60).any()
        joined += 1
    assert joined == 2
