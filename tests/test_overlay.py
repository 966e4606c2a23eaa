"""The overlay is legible from 480p to 4K and never runs off the frame."""

from __future__ import annotations

import numpy as np
import pytest

from emocam.overlay import OverlayOptions, Rect, draw, panel_rect, plan_panels
from emocam.types import FaceResult, Frame, FrameResult

NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
SIZES = {"480p": (640, 480), "720p": (1280, 720), "4K": (3840, 2160)}


Box = tuple[float, float, float, float]


def result_for(size: tuple[int, int], boxes: list[Box]) -> FrameResult:
    w, h = size
    image = np.full((h, w, 3), 60, np.uint8)
    probs = np.array([0.05, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05], np.float32)
    faces = [
        FaceResult(i + 1, b, 0.9, probs, probs, keypoints=((b[0] + b[2] / 3, b[1] + b[3] / 3),))
        for i, b in enumerate(boxes)
    ]
    return FrameResult(Frame(image, 0, 0.0), faces, NAMES)


def edge_boxes(size: tuple[int, int]) -> list[Box]:
    """A face in the middle and faces touching each edge and corner (one partly outside)."""
    w, h = size
    s = h / 4
    return [
        (w / 2 - s / 2, h / 2 - s / 2, s, s),
        (w - s, h / 3, s, s),  # right edge: no room for the bars on the right
        (-s / 3, h / 3, s, s),  # partly off the left edge
        (w - s * 0.8, h - s * 0.8, s, s),  # off the bottom-right corner
        (0.0, 0.0, s, s),  # top-left corner: no room for a label above
    ]


@pytest.mark.parametrize("name", list(SIZES))
def test_probability_bars_stay_inside_the_frame_near_every_edge(name: str) -> None:
    size = SIZES[name]
    for box in edge_boxes(size):
        assert panel_rect(*size, box, NAMES).inside(*size), (name, box)


@pytest.mark.parametrize("name", ["480p", "4K"])
def test_bars_beside_a_face_at_the_right_edge_are_drawn_on_its_left(name: str) -> None:
    size = SIZES[name]
    w, h = size
    s = h / 4
    box = (w - s, h / 3, s, s)
    res = result_for(size, [box])
    before = res.frame.image.copy()
    draw(res.frame.image, res)
    r = panel_rect(w, h, box, NAMES)
    assert r.x + r.w <= box[0]  # beside the face, not over it
    changed = np.any(res.frame.image != before, axis=2)
    assert changed[r.y : r.y + r.h, r.x : r.x + r.w].mean() > 0.3  # the panel really is drawn


def test_text_grows_with_resolution_and_stays_readable_at_480p() -> None:
    box480 = (200.0, 150.0, 120.0, 120.0)
    box4k = tuple(v * 4.5 for v in box480)
    small = panel_rect(*SIZES["480p"], box480, NAMES)
    large = panel_rect(*SIZES["4K"], box4k, NAMES)
    row_480 = small.h / len(NAMES)
    assert row_480 >= 14  # about 9 px letters: readable on a 480p webcam
    assert large.h / small.h > 3  # scales with the frame, so 4K is not a sea of tiny text
    assert small.h < SIZES["480p"][1] * 0.5


@pytest.mark.parametrize("name", list(SIZES))
def test_drawing_every_face_at_the_edges_does_not_fail(name: str) -> None:
    res = result_for(SIZES[name], edge_boxes(SIZES[name]))
    out = draw(res.frame.image, res, OverlayOptions(show_landmarks=True))
    assert out is res.frame.image  # drawn in place, no copy of a 4K frame
    assert out.shape == (SIZES[name][1], SIZES[name][0], 3)


def test_everything_switched_off_leaves_the_frame_untouched() -> None:
    res = result_for(SIZES["720p"], edge_boxes(SIZES["720p"]))
    before = res.frame.image.copy()
    opts = OverlayOptions(show_boxes=False, show_labels=False, show_bars=False)
    draw(res.frame.image, res, opts)
    np.testing.assert_array_equal(res.frame.image, before)


def test_boxes_only_draw_nothing_beside_the_face() -> None:
    box = (500.0, 200.0, 200.0, 200.0)
    res = result_for(SIZES["720p"], [box])
    before = res.frame.image.copy()
    draw(res.frame.image, res, OverlayOptions(show_labels=False, show_bars=False))
    changed = np.argwhere(np.any(res.frame.image != before, axis=2))
    assert len(changed) > 0
    ys, xs = changed[:, 0], changed[:, 1]
    assert xs.min() >= 495 and xs.max() <= 705 and ys.min() >= 195 and ys.max() <= 405


def test_bars_of_two_faces_side_by_side_cover_neither_face():
    """The bundled sample's case: two big faces, the right one near the frame's edge."""
    size = (640, 360)
    left, right = (60.0, 100.0, 90.0, 90.0), (420.0, 110.0, 90.0, 90.0)
    result = result_for(size, [right, left])
    panels = []
    for i, face in enumerate(result.faces):
        other = result.faces[1 - i].box
        r = panel_rect(*size, face.box, NAMES, [Rect(*(int(v) for v in other)), *panels])
        panels.append(r)
        for box in (face.box, other):
            x, y, w, h = box
            assert r.x >= x + w or r.x + r.w <= x or r.y >= y + h or r.y + r.h <= y, (r, box)
    a, b = panels
    ow = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    oh = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    assert ow * oh < 0.05 * a.w * a.h  # the two panels barely touch, if at all


def covered(a: Rect, b: Rect) -> int:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(0, w) * max(0, h)


def test_small_video_with_two_big_faces_keeps_every_face_and_label_uncovered():
    """The bundled sample at 640x360: full panels fit nowhere, so the bars shrink to the
    likeliest emotions instead of covering a face or hiding who it is."""
    size = (640, 360)
    astronaut, hopper = (108.0, 114.0, 102.0, 117.0), (437.0, 142.0, 126.0, 125.0)
    result = result_for(size, [hopper, astronaut])
    plan = plan_panels(result, *size)
    chip = 30  # generous height of a label chip at 360p
    for rect, rows in plan:
        assert rect.inside(*size) and 3 <= rows <= len(NAMES)
        for x, y, w, h in (hopper, astronaut):
            face = Rect(int(x), int(y - chip), int(w), int(h + chip))
            assert covered(rect, face) < 0.03 * w * h, (rect, face)
    assert any(rows < len(NAMES) for _, rows in plan)


def test_a_roomy_frame_shows_every_class():
    result = result_for(SIZES["720p"], [(500.0, 200.0, 200.0, 200.0)])
    [(rect, rows)] = plan_panels(result, *SIZES["720p"])
    assert rows == len(NAMES) and rect.inside(*SIZES["720p"])
