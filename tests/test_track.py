"""Face ids stay put across frames, and smoothed labels neither flicker nor lag."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from benchmarks.media import SyntheticVideo, match_faces
from emocam.geometry import iou_matrix
from emocam.track import DEFAULT_TAU_S, FaceTracker, TrackerConfig

C = 8


def one_hot_ish(top: int, p: float = 0.7) -> np.ndarray:
    v = np.full(C, (1 - p) / (C - 1), np.float32)
    v[top] = p
    return v


def run_step(fps: float, tau: float, before: int = 0, after: int = 1) -> float:
    """Seconds until the smoothed top label follows a step change of the raw probabilities."""
    tr = FaceTracker(TrackerConfig(tau_s=tau))
    box = [(100.0, 100.0, 80.0, 80.0)]
    dt = 1000.0 / fps
    for i in range(int(fps)):  # a second of the first expression
        tr.update(box, [0.9], one_hot_ish(before)[None], i * dt)
    t_change = int(fps) * dt
    for k in range(int(fps)):
        faces = tr.update(box, [0.9], one_hot_ish(after)[None], t_change + k * dt)
        if faces[0].top_index == after:
            return k * dt / 1000.0
    return math.inf


def test_label_follows_a_change_of_expression_within_a_third_of_a_second_at_30fps() -> None:
    switch = run_step(30.0, DEFAULT_TAU_S)
    assert 1 / 30 <= switch <= 0.3


def test_smoothing_feels_the_same_at_15_30_and_60_fps() -> None:
    times = [run_step(fps, DEFAULT_TAU_S) for fps in (15.0, 30.0, 60.0)]
    # Each measurement is quantised to its frame period; beyond that they agree.
    assert max(times) - min(times) <= 1 / 15 + 1e-9


def test_label_does_not_flicker_on_noisy_probabilities_at_30fps() -> None:
    rng = np.random.default_rng(0)
    tr = FaceTracker()
    box = [(100.0, 100.0, 80.0, 80.0)]
    # Class 1 leads on average by a small margin, but single frames often disagree: the
    # jitter a real classifier shows on a still face.
    base = np.full(C, 0.05, np.float32)
    base[1], base[3] = 0.40, 0.30
    raw_flips = smooth_flips = 0
    last_raw = last_smooth = None
    for i in range(90):  # three seconds
        raw = np.clip(base + rng.normal(0, 0.08, C).astype(np.float32), 1e-3, None)
        raw /= raw.sum()
        face = tr.update(box, [0.9], raw[None], i * 1000 / 30)[0]
        r, s = int(np.argmax(raw)), face.top_index
        raw_flips += last_raw is not None and r != last_raw
        smooth_flips += last_smooth is not None and s != last_smooth
        last_raw, last_smooth = r, s
    assert raw_flips >= 15  # the raw labels really do flicker
    assert smooth_flips <= raw_flips / 5


def test_smoothed_probabilities_still_sum_to_one() -> None:
    tr = FaceTracker()
    rng = np.random.default_rng(1)
    for i in range(20):
        raw = rng.dirichlet(np.ones(C)).astype(np.float32)
        face = tr.update([(0.0, 0.0, 50.0, 50.0)], [0.9], raw[None], i * 33.3)[0]
        assert face.probs.sum() == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_array_equal(face.raw_probs, raw)


def test_smoothing_off_shows_each_frame_as_it_is() -> None:
    tr = FaceTracker(TrackerConfig(tau_s=0.0))
    box = [(0.0, 0.0, 50.0, 50.0)]
    tr.update(box, [0.9], one_hot_ish(0)[None], 0.0)
    face = tr.update(box, [0.9], one_hot_ish(5)[None], 33.0)[0]
    np.testing.assert_allclose(face.probs, one_hot_ish(5))


def test_two_faces_that_cross_sides_keep_their_ids() -> None:
    tr = FaceTracker()
    probs = np.stack([one_hot_ish(0), one_hot_ish(1)])
    ids_by_face: dict[str, set[int]] = {"a": set(), "b": set()}
    for i in range(40):
        ax = 100 + i * 10  # face a moves right, face b left, 20 px per frame apart
        bx = 500 - i * 10
        boxes = [(float(bx), 200.0, 90.0, 90.0), (float(ax), 100.0, 90.0, 90.0)]
        faces = tr.update(boxes, [0.9, 0.9], probs[::-1], i * 33.3)
        ids_by_face["b"].add(faces[0].face_id)
        ids_by_face["a"].add(faces[1].face_id)
    assert len(ids_by_face["a"]) == len(ids_by_face["b"]) == 1
    assert ids_by_face["a"] != ids_by_face["b"]


def test_a_face_missed_for_a_few_frames_keeps_its_id_and_new_faces_get_new_ids() -> None:
    tr = FaceTracker(TrackerConfig(max_missed=5))
    box = [(100.0, 100.0, 80.0, 80.0)]
    p = one_hot_ish(2)[None]
    first = tr.update(box, [0.9], p, 0.0)[0].face_id
    for i in range(1, 4):  # the detector blinks
        assert tr.update([], [], np.empty((0, C), np.float32), i * 33.0) == []
    assert tr.update(box, [0.9], p, 4 * 33.0)[0].face_id == first
    for i in range(5, 45):  # the person leaves, for over a second
        tr.update([], [], np.empty((0, C), np.float32), i * 33.0)
    again = tr.update(box, [0.9], p, 45 * 33.0)[0].face_id
    assert again != first
    tr.reset()
    assert tr.update(box, [0.9], p, 16 * 33.0)[0].face_id not in (first, again)


def test_iou_of_boxes() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 10, 10]], np.float64)
    b = np.array([[5, 0, 10, 10]], np.float64)
    np.testing.assert_allclose(iou_matrix(a, b)[:, 0], [50 / 150, 0.0])


def test_a_moving_real_face_keeps_one_id_through_the_video(
    video_one_face: SyntheticVideo,
) -> None:
    from emocam.detect import create_detector
    from emocam.sources import open_source

    detector = create_detector("mediapipe")
    tracker = FaceTracker()
    ids = []
    try:
        with open_source(str(video_one_face)) as src:
            for frame in src:
                dets = detector.detect(frame.image, frame.time_ms)
                truth = video_one_face.faces[frame.index]
                found = match_faces([d.box for d in dets], truth)
                probs = np.tile(one_hot_ish(0), (len(dets), 1))
                faces = tracker.update([d.box for d in dets], [d.score for d in dets], probs,
                                       frame.time_ms)
                if found[0] is not None:
                    ids.append(faces[found[0]].face_id)
    finally:
        detector.close()
    assert len(ids) >= 0.95 * video_one_face.frame_count
    assert len(set(ids)) == 1


@pytest.mark.parametrize(("gone", "comes", "ids"), [
    (7, "hopper", 1), (40, "hopper", 2), (12, "astronaut", 2),
], ids=["hidden 0.28 s", "away 1.6 s", "someone else there 0.5 s later"])
def test_a_face_hidden_for_a_moment_keeps_its_id_and_no_one_else_takes_it(
        tmp_path, model_path, gone: int, comes: str, ids: int) -> None:
    # At 25 fps five frames are 0.2 s: a face gone for 6 frames came back as a second person
    # for the rest of the clip. Kept for a second, an id went to whoever sat down where its
    # face had been (one id, two people's emotions).
    from benchmarks.media import Placement, write_video
    from emocam.pipeline import Pipeline, PipelineConfig
    from emocam.sources import open_source

    # A face small enough in the picture that its going is no cut to a new shot.
    plan = ([[Placement("hopper", cx=640, cy=360, side=140)]] * 25 + [[]] * gone
            + [[Placement(comes, cx=640, cy=360, side=140)]] * 25)
    video = write_video(tmp_path / "hidden.mp4", (1280, 720), plan, fps=25.0)
    with Pipeline(PipelineConfig(model_path=model_path)) as pipeline, \
            open_source(video) as src:
        found = [{f.face_id for f in pipeline.process(frame).faces} for frame in src]
    before, after = set().union(*found[:25]), set().union(*found[25 + gone:])
    assert len(before) == len(after) == 1, found
    assert len(before | after) == ids, found


def faces_per_frame(video, model_path) -> list[list]:
    """Each frame's FaceResults, as the pipeline gives them for ``video``."""
    from emocam.pipeline import Pipeline, PipelineConfig
    from emocam.sources import open_source

    with Pipeline(PipelineConfig(model_path=model_path)) as pipeline, \
            open_source(video) as src:
        return [pipeline.process(frame).faces for frame in src]


def face_ids(tmp_path, model_path, plan: list[list]) -> list[dict[str, int]]:
    """A 25 fps 720p video of ``plan`` run through the pipeline: per frame, each portrait's
    face id (a portrait the detector missed is left out)."""
    from benchmarks.media import write_video

    video = write_video(tmp_path / "scene.mp4", (1280, 720), plan, fps=25.0)
    out = []
    for index, faces in enumerate(faces_per_frame(video, model_path)):
        found = match_faces([f.box for f in faces], video.faces[index])
        out.append({pl.portrait: faces[i].face_id
                    for pl, i in zip(plan[index], found, strict=True) if i is not None})
    return out


def walk(portrait: str, x0: float, step: float, frames: range) -> list[list]:
    """``portrait`` walking along y = 360 at ``step`` px a frame, seen in ``frames`` only."""
    from benchmarks.media import Placement

    return [[Placement(portrait, cx=x0 + step * i, cy=360, side=140)] if i in frames else []
            for i in range(frames.stop)]


@pytest.mark.parametrize(("hidden", "step", "same_id"), [(13, 16, True), (38, 8, False)],
                         ids=["out of sight 0.5 s", "gone 1.5 s"])
def test_a_face_that_moves_while_hidden_keeps_its_id_for_up_to_a_second(
        tmp_path, model_path, hidden: int, step: float, same_id: bool) -> None:
    # Walking on out of sight, it comes back 200 px (0.5 s at 400 px/s) or 300 px (1.5 s at
    # 200 px/s) on from where it went. Matched by its last box alone, it came back a second
    # person.
    plan = walk("hopper", 300, step, range(20 + hidden + 20))
    plan[20:20 + hidden] = [[]] * hidden
    ids = face_ids(tmp_path, model_path, plan)
    before = {f["hopper"] for f in ids[:20] if f}
    after = {f["hopper"] for f in ids[20 + hidden:] if f}
    assert len(before) == len(after) == 1, ids
    assert (before == after) is same_id, ids


def write_mp4(path, images) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (1280, 720))
    for image in images:
        writer.write(image)
    writer.release()


def ids_per_frame(video, model_path) -> list[list[int]]:
    return [[f.face_id for f in faces] for faces in faces_per_frame(video, model_path)]


def test_a_face_that_walks_behind_a_pillar_has_its_id_back_once_it_is_out(
        tmp_path, model_path) -> None:
    # At 400 px/s behind a pillar 340 px wide, the detector finds it half hidden for 7 frames
    # going in and 4 coming out: a half face, like no one. Out in full, 0.9 s after it was
    # last found, it takes its id back (before: a second person for the rest of the clip).
    from benchmarks.media import Placement, render

    def frame(i: int) -> np.ndarray:
        image = render((1280, 720), [Placement("hopper", cx=200 + 16 * i, cy=360, side=140)])
        image[:, 500:840] = (90, 100, 110)
        return image

    write_mp4(tmp_path / "pillar.mp4", (frame(i) for i in range(60)))
    ids = ids_per_frame(tmp_path / "pillar.mp4", model_path)
    first = ids[0]
    assert all(f == first for f in ids[:15]) and all(f == first for f in ids[-12:]), ids
    assert len({i for f in ids for i in f}) <= 2, ids


def test_two_faces_that_swap_places_while_hidden_keep_their_own_ids(
        tmp_path, model_path) -> None:
    # Gone 0.5 s, each comes back where the other was: matched where they had been and by
    # look, both came back as new faces; by place alone they would have swapped ids.
    from benchmarks.media import Placement

    def pair(hopper_x: float, astronaut_x: float) -> list:
        return [Placement("hopper", cx=hopper_x, cy=360, side=140),
                Placement("astronaut", cx=astronaut_x, cy=360, side=140)]

    hidden = 13
    plan = [pair(440, 840)] * 20 + [[]] * hidden + [pair(840, 440)] * 20
    ids = face_ids(tmp_path, model_path, plan)
    for who in ("hopper", "astronaut"):
        before = {f[who] for f in ids[:20] if who in f}
        after = {f[who] for f in ids[20 + hidden:] if who in f}
        assert len(before) == 1 and before == after, (who, ids)


def test_a_face_missed_for_two_frames_keeps_its_id_when_it_comes_back_blurred(
        tmp_path, model_path) -> None:
    # A quick turn of the head: the detector loses the face for two frames and finds it again
    # smeared. A blink this short is followed by place alone, however the face looks: in the
    # sample clip at --threshold 0.89 a face back after 3 frames correlated 0.48 with its look.
    from benchmarks.media import Placement, render

    face, smear = Placement("hopper", cx=640, cy=360, side=140), np.full((1, 31), 1 / 31)
    images = (render((1280, 720), [] if i in (15, 16) else [face]) for i in range(30))
    write_mp4(tmp_path / "blink.mp4",
              (cv2.filter2D(image, -1, smear) if i in (17, 18, 19) else image
               for i, image in enumerate(images)))
    found = ids_per_frame(tmp_path / "blink.mp4", model_path)
    assert found[15] == found[16] == [] and found[17], found
    assert {i for ids in found for i in ids} == {found[0][0]}, found


def test_two_faces_that_cross_have_their_own_ids_once_past_each_other(
        tmp_path, model_path) -> None:
    # Grace Hopper walks behind the astronaut. For 4 frames hers is the one face found where
    # both are, under the astronaut's id (a short miss is followed by place alone); past him,
    # she was a third person for the rest of the clip.
    from benchmarks.media import Placement

    plan = [[Placement("hopper", cx=300 + 12 * i, cy=360, side=140),
             Placement("astronaut", cx=980 - 12 * i, cy=360, side=150)] for i in range(56)]
    ids = face_ids(tmp_path, model_path, plan)
    assert len(ids[0]) == 2 and all(f == ids[0] for f in ids[-15:]), ids


def test_a_face_that_looks_the_same_takes_back_an_id_only_from_within_reach() -> None:
    # The same crop 150 px on after 3 frames (0.1 s) could be the face that went; across the
    # frame it is someone else (or a photo of them), not a face that moved 5 m/s.
    from benchmarks.media import head_image

    crop = cv2.cvtColor(cv2.resize(head_image("hopper"), (48, 48)), cv2.COLOR_BGR2GRAY)
    p = one_hot_ish(0)[None]
    for x, same in ((250.0, True), (1000.0, False)):
        tr = FaceTracker()
        first = tr.update([(100.0, 100.0, 140.0, 140.0)], [0.9], p, 0.0, crops=crop[None])
        for i in range(1, 4):
            tr.update([], [], np.empty((0, C), np.float32), i * 33.0, crops=crop[:0])
        again = tr.update([(x, 100.0, 140.0, 140.0)], [0.9], p, 4 * 33.0, crops=crop[None])
        assert (again[0].face_id == first[0].face_id) is same
