"""The overlay on real faces: panels cover no face and no other panel when there is room,
stay put while faces move a little, fall back to fewer bars or the label alone when crowded,
and stay legible from 480p to 4K. The real detector and model run on the bundled sample
video, on real photos (skimage's astronaut, matplotlib's Grace Hopper) and on scenes
composed from them (benchmarks/media.py)."""

from __future__ import annotations

import csv
import itertools
from dataclasses import replace

import cv2
import numpy as np
import pytest

from benchmarks.media import Placement, portraits, render
from emocam.overlay import (
    OverlayOptions,
    PlacementMemory,
    class_color,
    draw,
    face_marks,
    plan_panels,
)
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.placement import FaceMarks, PanelSizes, Rect, place_panels
from emocam.resources import sample_video_path
from emocam.sources import open_source
from emocam.types import FaceResult, Frame, FrameResult

NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
SIZES = {"480p": (640, 480), "720p": (1280, 720), "4K": (3840, 2160)}


def analyse(frames: list[np.ndarray], model_path) -> list[FrameResult]:
    with Pipeline(PipelineConfig(model_path=model_path)) as p:
        return [p.process(Frame(img, i, i * 1000 / 30)) for i, img in enumerate(frames)]


@pytest.fixture(scope="module")
def sample_results(model_path) -> list[FrameResult]:
    """Every frame of the bundled sample video (640x360, two people), analysed."""
    with open_source(str(sample_video_path())) as src:
        frames = [f.image for f in src]
    return analyse(frames, model_path)


def _photo_pair() -> np.ndarray:
    """The two real photos side by side, as they are: a 1024x600 frame with two faces."""
    p = portraits()
    a, h = p["astronaut"].image, p["hopper"].image
    frame = np.full((600, 1024, 3), 40, np.uint8)
    frame[:a.shape[0], :a.shape[1]] = a
    frame[: h.shape[0], 1024 - h.shape[1]:] = h
    return frame


CROWD = [("astronaut", 250, 260, 120), ("hopper", 560, 300, 140),
         ("astronaut", 860, 250, 110), ("hopper", 1080, 480, 120)]


def crowd_plan(n: int, step: float) -> list[list[Placement]]:
    """Four people in 720p, each drifting ``step`` px a frame, in its own direction."""
    dirs = [(-1, 0), (-1, 1), (0, -1), (1, 1)]
    return [[Placement(name, x + dx * step * i, y + dy * step * i, s, mirror=k % 2 == 1)
             for k, ((name, x, y, s), (dx, dy)) in enumerate(zip(CROWD, dirs, strict=True))]
            for i in range(n)]


@pytest.fixture(scope="module")
def crowd_results(model_path) -> list[FrameResult]:
    """Four faces drifting 1.5 px a frame for 24 frames (0.8 s at 30 fps)."""
    return analyse([render((1280, 720), f, seed=7) for f in crowd_plan(24, 1.5)], model_path)


@pytest.fixture(scope="module")
def photo_results(model_path) -> list[FrameResult]:
    return analyse([_photo_pair()], model_path)


def check_rules(result: FrameResult, plan, marks: list[FaceMarks], size) -> None:
    """No panel leaves the canvas, covers a face or its label chip, or another panel."""
    rects = {fid: p.rect for fid, p in plan.items() if p.rect is not None}
    for fid, r in rects.items():
        assert r.inside(*size), (fid, r)
        for m in marks:
            assert r.overlap(m.box) == 0, (fid, r, m)
            assert m.chip is None or r.overlap(m.chip) == 0, (fid, r, m)
        for other, o in rects.items():
            assert other == fid or r.overlap(o) == 0, (fid, other)


@pytest.mark.parametrize("scene", ["sample_results", "crowd_results", "photo_results"])
def test_panels_cover_no_face_no_label_and_no_other_panel_on_real_frames(scene, request):
    results: list[FrameResult] = request.getfixturevalue(scene)
    memory = PlacementMemory()
    shown = 0
    for res in results:
        h, w = res.frame.image.shape[:2]
        marks = face_marks(res, w, h, memory=memory)  # the chips the panels must avoid
        plan = plan_panels(res, w, h, memory=memory)
        check_rules(res, plan, marks, (w, h))
        shown += sum(1 for p in plan.values() if p.rect is not None)
    faces = sum(len(r.faces) for r in results)
    assert faces >= 2 * len(results)  # the real detector found the people
    assert shown >= 0.9 * faces  # and nearly every face got a panel


def test_every_face_keeps_its_panel_while_it_moves_a_little(crowd_results):
    memory = PlacementMemory()
    seen: dict[int, set] = {}
    for res in crowd_results:
        plan = plan_panels(res, 1280, 720, memory=memory)
        for fid, p in plan.items():
            seen.setdefault(fid, set()).add((p.side, p.rows, p.slot))
    assert len(seen) == 4
    assert all(len(places) == 1 for places in seen.values()), seen


def test_on_the_sample_video_panels_change_place_only_when_a_face_moves_far(sample_results):
    """Eight frames 0.35 s apart once showed four layouts; now a face changes place at most
    twice in the whole clip (its faces move 30-50 px and grow by half)."""
    memory = PlacementMemory()
    history: dict[int, list] = {}
    for res in sample_results:
        for fid, p in plan_panels(res, 640, 360, memory=memory).items():
            history.setdefault(fid, []).append((p.side, p.rows, p.slot))
    for places in history.values():
        changes = sum(1 for a, b in itertools.pairwise(places) if a != b)
        assert changes <= 2, places


def _sizes(w: int, h: int, rows: int = 8) -> PanelSizes:
    return PanelSizes(full=(w, h), compact=(w, h * 3 // rows), rows=rows, compact_rows=3,
                      gap=4, hysteresis=16)


def test_a_panel_that_must_move_takes_a_place_that_is_clearly_free():
    """Hysteresis: a face that drifts back and forth across the point where its panel no
    longer fits moves its panel once, not on every frame."""
    sizes = _sizes(100, 160)
    memory = PlacementMemory()
    sides = []
    for i in range(40):
        x = 520 + (6 if i % 2 else 0)  # 6 px jitter right by the edge
        face = FaceMarks(1, Rect(x, 100, 80, 80))
        sides.append(place_panels([face], sizes, (720, 400), memory)[1].side)
    assert len(set(sides)) == 1, sides


def test_a_neighbour_clipping_a_panel_by_a_few_pixels_moves_it_along_its_side():
    """Two faces at the top left of the picture (as the app drew them, in screen pixels):
    a panel below the first, level with its left edge, would clip the second face's box by
    2 px; level with its right edge it fits, so the face keeps its panel."""
    first = FaceMarks(1, Rect(75, 135, 80, 77), chip=Rect(75, 114, 132, 19))
    second = FaceMarks(2, Rect(268, 158, 122, 124), chip=Rect(268, 139, 103, 19))
    plan = place_panels([first, second], _sizes(195, 152), (964, 586))
    p = plan[1]
    assert p.rows == 8 and p.side == "below" and p.rect is not None
    assert p.rect.right <= first.area.right  # level with its right edge, under its label
    for m in (first, second):
        assert p.rect.overlap(m.box) == 0 and p.rect.overlap(m.chip) == 0  # type: ignore[arg-type]


def test_a_face_that_lost_its_panel_gets_it_back_once_there_is_room():
    sizes = _sizes(100, 160)
    memory = PlacementMemory()
    face = FaceMarks(1, Rect(300, 100, 80, 80))
    crowd = [FaceMarks(i, Rect(x, y, 80, 80)) for i, (x, y) in enumerate(
        [(180, 100), (420, 100), (300, 0), (300, 220)], start=2)]
    first = place_panels([face, *crowd], sizes, (520, 320), memory)[1]
    assert first.rows == 0  # hemmed in: its label alone
    alone = place_panels([face], sizes, (720, 400), memory)[1]  # the others left
    assert alone.rows == sizes.rows


def test_a_compact_panel_grows_back_on_the_same_frame_once_the_picture_has_room():
    """A paused video in a window made small, then large again: the face does not move, so
    its compact panel still fits where it was; it kept 3 rows for good, asked to stand a
    margin clear of the face it always sits a gap beside."""
    sizes = _sizes(100, 160)
    memory = PlacementMemory()
    small = place_panels([FaceMarks(1, Rect(40, 20, 60, 60))], sizes, (220, 130), memory)[1]
    assert small.rows == 3
    big = place_panels([FaceMarks(1, Rect(160, 60, 180, 180))], sizes, (960, 540), memory)[1]
    assert big.rows == sizes.rows


def test_panels_placed_under_another_model_are_placed_again_with_the_new_classes():
    memory = PlacementMemory()
    face = FaceMarks(1, Rect(100, 100, 80, 80))
    assert place_panels([face], _sizes(100, 160, rows=8), (720, 400), memory)[1].rows == 8
    seven = _sizes(100, 140, rows=7)
    again = place_panels([face], seven, (720, 400), memory)[1]
    # Not the 8 rows remembered, drawn over a panel sized for 3.
    assert again.rows == 7 and again.rect is not None and again.rect.h == 140


def test_a_crowd_with_no_room_gets_compact_panels_or_labels_and_still_covers_no_face(
        crowd_results):
    # The same four people in a frame a quarter of the size: no room for eight bars each.
    small = []
    for res in crowd_results[:3]:
        faces = [FaceResult(f.face_id, tuple(v / 2.5 for v in f.box), f.score, f.probs,
                            f.raw_probs) for f in res.faces]
        small.append(FrameResult(Frame(np.zeros((288, 512, 3), np.uint8), 0, 0.0), faces,
                                 res.class_names))
    for res in small:
        plan = plan_panels(res, 512, 288)
        check_rules(res, plan, face_marks(res, 512, 288), (512, 288))
        assert any(p.rows < len(res.class_names) for p in plan.values())


def result_for(size: tuple[int, int], boxes: list[tuple[float, ...]]) -> FrameResult:
    w, h = size
    probs = np.array([0.05, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05], np.float32)
    faces = [FaceResult(i + 1, b, 0.9, probs, probs, keypoints=((b[0] + b[2] / 3, b[1]),))
             for i, b in enumerate(boxes)]
    return FrameResult(Frame(np.full((h, w, 3), 60, np.uint8), 0, 0.0), faces, NAMES)


@pytest.mark.parametrize("name", ["480p", "4K"])
def test_bars_beside_a_face_at_the_right_edge_are_drawn_on_its_left(name: str) -> None:
    w, h = SIZES[name]
    s = h / 4
    box = (w - s, h / 3, s, s)
    res = result_for((w, h), [box])
    before = res.frame.image.copy()
    r = plan_panels(res, w, h)[1].rect
    draw(res.frame.image, res)
    assert r is not None and r.right <= box[0]  # beside the face, not over it
    changed = np.any(res.frame.image != before, axis=2)
    assert changed[r.y : r.bottom, r.x : r.right].mean() > 0.3  # the panel really is drawn


def test_the_exported_panel_is_nearly_opaque_over_a_busy_background():
    """Text must read over stripes: the panel darkens whatever is behind it to under a
    fifth of its brightness."""
    w, h = SIZES["720p"]
    res = result_for((w, h), [(500.0, 200.0, 200.0, 200.0)])
    res.frame.image[:, ::2] = 255  # white stripes
    r = plan_panels(res, w, h)[1].rect
    draw(res.frame.image, res, OverlayOptions(show_labels=False))
    # The margin after the text (the edge facing the face is drawn in the face's colour).
    stripes = res.frame.image[r.y : r.bottom, r.right - 2 : r.right, :]
    assert stripes.max() <= 255 * 0.2


def test_each_panel_is_joined_to_its_own_face_in_its_colour():
    """A panel set between two faces, as near one as the other, was read as the wrong
    face's: its facing edge and a tie across the gap are drawn in its face's colour."""
    w, h = SIZES["720p"]
    res = result_for((w, h), [(300.0, 200.0, 160.0, 160.0), (900.0, 200.0, 160.0, 160.0)])
    res.faces[1] = replace(res.faces[1], probs=np.eye(len(NAMES), dtype=np.float32)[0])
    plan = plan_panels(res, w, h)
    draw(res.frame.image, res, OverlayOptions(show_labels=False))
    image = res.frame.image
    for face in res.faces:
        place = plan[face.face_id]
        r = place.rect
        assert r is not None and place.side in ("right", "below")
        colour = class_color(NAMES[face.top_index], face.top_index)
        x0, y0, bw, bh = (round(v) for v in face.box)
        if place.side == "right":  # the gap between face and panel, and the panel's edge
            gap, edge = image[y0 : y0 + bh, x0 + bw + 2 : r.x - 1], image[r.y : r.bottom, r.x]
        else:
            gap, edge = image[y0 + bh + 2 : r.y - 1, x0 : x0 + bw], image[r.y, r.x : r.right]
        assert gap.size and np.all(gap == colour, axis=-1).any()
        assert np.all(edge == colour, axis=-1).mean() > 0.9


def test_text_grows_with_resolution_and_stays_readable_at_480p() -> None:
    small = plan_panels(result_for(SIZES["480p"], [(200.0, 150.0, 120.0, 120.0)]), 640, 480)
    big = plan_panels(result_for(SIZES["4K"], [(900.0, 675.0, 540.0, 540.0)]), 3840, 2160)
    row_480 = small[1].rect.h / len(NAMES)
    assert row_480 >= 14  # about 9 px letters: readable on a 480p webcam
    assert big[1].rect.h / small[1].rect.h > 3  # 4K is not a sea of tiny text


@pytest.mark.parametrize("name", list(SIZES))
def test_drawing_faces_at_every_edge_does_not_fail(name: str) -> None:
    w, h = SIZES[name]
    s = h / 4
    boxes = [(w / 2 - s / 2, h / 2 - s / 2, s, s), (w - s, h / 3, s, s), (-s / 3, h / 3, s, s),
             (w - s * 0.8, h - s * 0.8, s, s), (0.0, 0.0, s, s)]
    res = result_for((w, h), boxes)
    out = draw(res.frame.image, res, OverlayOptions(show_landmarks=True))
    assert out is res.frame.image  # drawn in place, no copy of a 4K frame
    plan = plan_panels(res, w, h)
    assert all(p.rect is None or p.rect.inside(w, h) for p in plan.values())


def test_everything_switched_off_leaves_the_frame_untouched() -> None:
    res = result_for(SIZES["720p"], [(500.0, 200.0, 200.0, 200.0)])
    before = res.frame.image.copy()
    draw(res.frame.image, res, OverlayOptions(show_boxes=False, show_labels=False,
                                              show_bars=False))
    np.testing.assert_array_equal(res.frame.image, before)


def test_boxes_only_draw_nothing_beside_the_face() -> None:
    res = result_for(SIZES["720p"], [(500.0, 200.0, 200.0, 200.0)])
    before = res.frame.image.copy()
    draw(res.frame.image, res, OverlayOptions(show_labels=False, show_bars=False))
    changed = np.argwhere(np.any(res.frame.image != before, axis=2))
    ys, xs = changed[:, 0], changed[:, 1]
    assert xs.min() >= 495 and xs.max() <= 705 and ys.min() >= 195 and ys.max() <= 405


def test_an_exported_video_keeps_each_panel_in_its_place(tmp_path, crowd_results):
    """The export draws with the same rules and the same memory from frame to frame: the
    darkened panel of each face stays on one side of it in every frame of the file."""
    from emocam.process import ProcessOptions, run_process

    src = tmp_path / "crowd.mp4"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (1280, 720))
    for f in crowd_plan(24, 1.5):
        writer.write(render((1280, 720), f, seed=7))
    writer.release()
    out = tmp_path / "crowd.emocam.mp4"
    run_process(ProcessOptions(input=src, output_video=out, csv=tmp_path / "crowd.csv",
                               json=tmp_path / "crowd.json", no_sidecar=True, overwrite=True,
                               progress=False))
    boxes: dict[int, dict[int, tuple[int, ...]]] = {}
    with open(tmp_path / "crowd.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            boxes.setdefault(int(row["frame"]), {})[int(row["face_id"])] = tuple(
                round(float(row[k])) for k in ("x", "y", "w", "h"))
    cap = cv2.VideoCapture(str(out))
    sides: dict[int, list[str]] = {}
    for index in range(24):
        ok, img = cap.read()
        assert ok
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        for fid, (x, y, w, h) in boxes[index].items():
            patches = {"right": gray[y + h // 5 : y + h // 2, x + w + 12 : x + w + 42],
                       "left": gray[y + h // 5 : y + h // 2, x - 42 : x - 12],
                       "below": gray[y + h + 12 : y + h + 42, x + w // 5 : x + w * 4 // 5],
                       "above": gray[y - 70 : y - 40, x + w // 5 : x + w * 4 // 5]}
            # A panel is mostly its dark background, with a minority of text pixels.
            dark = [side for side, patch in patches.items()
                    if patch.size and (patch < 45).mean() > 0.6]
            sides.setdefault(fid, []).append("/".join(dark))
    cap.release()
    assert len(sides) == 4
    for fid, seen in sides.items():
        assert len(set(seen)) == 1 and seen[0], (fid, seen)


@pytest.fixture(scope="module")
def approaching_results(model_path) -> list[FrameResult]:
    """Two real faces at 640x360 walking towards each other until their boxes nearly touch."""
    frames = [render((640, 360), [Placement("astronaut", 170 + 9 * i, 190, 80),
                                  Placement("hopper", 470 - 9 * i, 190 + i, 80)], seed=3)
              for i in range(14)]
    return analyse(frames, model_path)


def test_faces_close_together_never_hide_each_others_label(approaching_results):
    """Each label (id, emotion, %) sits against its own box, and none covers another, down to
    boxes a few pixels apart, where both labels above would overlap; a label that had to move
    stays moved, not flickering."""
    memory = PlacementMemory()
    sides: dict[int, list[str]] = {}
    crowded = 0
    for res in approaching_results:
        assert len(res.faces) == 2  # the real detector found both people
        marks = face_marks(res, 640, 360, memory=memory)
        a, b = (m.chip for m in marks)
        assert a is not None and b is not None
        assert a.overlap(b) == 0, (a, b)
        for m in marks:
            chip, box = m.chip, m.box
            assert chip is not None and chip.inside(640, 360)
            assert chip.bottom == box.y or chip.y == box.bottom or chip.y == box.y, (chip, box)
            sides.setdefault(m.face_id, []).append(
                "top" if chip.bottom == box.y else "below" if chip.y == box.bottom else "inside")
        first, second = sorted(marks, key=lambda m: m.face_id)
        usual = Rect(second.box.x, second.box.y - b.h, b.w, b.h)  # above its box, as alone
        crowded += usual.overlap(first.chip) > 0  # type: ignore[arg-type]
    assert crowded >= 3, "the faces never came close enough to test anything"
    for face_sides in sides.values():
        assert sum(1 for x, y in itertools.pairwise(face_sides) if x != y) <= 1, sides


def test_in_a_crowd_a_label_with_no_room_keeps_the_faces_id_and_covers_no_other():
    """Sixteen small faces close together: whole labels ("#3 happiness 100%") had nowhere
    free and covered each other's ids; where a whole one has no room, the id alone goes."""
    w, h = 480, 270
    boxes = [(40.0 + 70 * c, 30.0 + 60 * r, 34.0, 34.0) for r in range(4) for c in range(4)]
    res = result_for((w, h), boxes)
    marks = face_marks(res, w, h, OverlayOptions(show_bars=False))
    chips = [m.chip for m in marks]
    assert all(c is not None for c in chips)
    for a, b in itertools.combinations(chips, 2):
        assert a.overlap(b) == 0, (a, b)  # type: ignore[union-attr]
    assert any(m.short for m in marks) and not all(m.short for m in marks)
    draw(res.frame.image, res, OverlayOptions(show_bars=False))  # drawn without a fault



def test_a_widened_anamorphic_frame_says_its_pixels_are_square(model_path):
    # widened() gives the picture as shown (square pixels) with its faces moved onto it; its
    # frame still said 32/27, so a face cropped from it again (as the pipeline crops) would
    # be widened a second time.
    from emocam.overlay import widened

    shown = render((854, 480), [Placement("hopper", 600, 240, 170)], seed=2)
    stored = cv2.resize(shown, (720, 480), interpolation=cv2.INTER_AREA)
    with Pipeline(PipelineConfig(model_path=model_path)) as p:
        result = p.process(Frame(stored, 0, 0.0, pixel_aspect=32 / 27))
    assert result.faces
    wide, moved = widened(stored, result, 32 / 27)
    assert moved.frame.image is wide and wide.shape[:2] == (480, 853)
    assert moved.frame.pixel_aspect == 1.0
