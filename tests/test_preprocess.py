"""The one face-crop and normalisation used by both training and the app."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import data

from benchmarks.media import Placement, placed_eyes, render
from emocam.preprocess import (
    CropSpec,
    Normalization,
    crop_faces,
    eye_angle,
    face_matrix,
    normalize,
    to_gray,
)


def test_normalize_maps_0_255_to_minus_1_plus_1() -> None:
    out = normalize(np.array([0.0, 127.5, 255.0]), Normalization())
    assert out == pytest.approx([-1.0, 0.0, 1.0])


@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_to_gray_accepts_gray_bgr_and_bgra(channels: int | None) -> None:
    shape = (5, 6) if channels is None else (5, 6, channels)
    gray = to_gray(np.full(shape, 100, np.uint8))
    assert gray.shape == (5, 6) and gray.dtype == np.uint8 and gray[0, 0] == 100


def test_the_crop_is_centred_on_the_face_with_the_spec_framing() -> None:
    # A still with the face at a known place; the crop made from its true box.
    pl = Placement("astronaut", 300, 260, 150)
    gray = to_gray(render((640, 480), [pl]))
    spec = CropSpec()
    box = (300 - 75, 260 - 75, 150, 150)
    crop = crop_faces(gray, [box], spec)[0]
    m = face_matrix(box, spec)
    u, v = m @ np.array([300.0, 260.0, 1.0])
    assert (u, v) == pytest.approx((24, 24 - spec.shift_y * 48 / spec.scale), abs=1e-6)
    # The same face warped by hand with OpenCV looks the same.
    ref = cv2.resize(
        gray[
            round(260 + spec.shift_y * 150 - 150 * spec.scale / 2) : round(
                260 + spec.shift_y * 150 + 150 * spec.scale / 2
            ),
            round(300 - 150 * spec.scale / 2) : round(300 + 150 * spec.scale / 2),
        ],
        (48, 48),
        interpolation=cv2.INTER_AREA,
    )
    assert np.corrcoef(crop.ravel(), ref.ravel())[0, 1] > 0.97


def test_eye_alignment_levels_the_true_eyes_of_a_tilted_face() -> None:
    pl = Placement("hopper", 320, 240, 160, angle_deg=30)
    eyes = placed_eyes(pl)
    assert eye_angle(*eyes) == pytest.approx(
        -30 + eye_angle(*placed_eyes(Placement("hopper", 320, 240, 160))), abs=0.01
    )
    m = face_matrix((240, 160, 160, 160), CropSpec(), eyes)
    (ax, ay), (bx, by) = (m @ np.array([x, y, 1.0]) for x, y in eyes)
    assert abs(by - ay) < 1e-6 and bx > ax


def test_a_box_partly_outside_the_frame_gives_a_padded_crop() -> None:
    gray = np.full((100, 100), 200, np.uint8)
    gray[:, :50] = 50
    crops = crop_faces(gray, [(-40, -40, 80, 80), (90, 90, 60, 60), (500, 500, 10, 10)], CropSpec())
    assert crops.shape == (3, 48, 48) and crops.dtype == np.uint8
    # The edge is repeated outward: no black border that a model would read as a shadow.
    assert crops[0].min() >= 50 and crops[1].min() >= 50


def test_a_big_face_shrinks_smoothly_without_aliasing() -> None:
    # A fine stripe pattern averages to mid-gray when properly area-sampled.
    stripes = np.zeros((1000, 1000), np.uint8)
    stripes[:, ::2] = 255
    crop = crop_faces(stripes, [(100, 100, 700, 700)], CropSpec())[0]
    assert crop[8:40, 8:40].std() < 12



def test_a_face_gives_the_same_crop_at_any_camera_resolution() -> None:
    # The astronaut's face, and the same photo at 4x and 6x its resolution (a 560-840 px
    # face, as a phone photo gives): the model must see the same 48-px face each time.
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    box = (170, 50, 140, 140)
    small = crop_faces(gray, [box], CropSpec())[0].astype(np.float32)
    for f in (4, 6):
        big = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        crop = crop_faces(big, [tuple(v * f for v in box)], CropSpec())[0]
        assert np.abs(crop - small).mean() < 1.0, f  # grey levels of 255

finite = st.floats(-3000, 3000, allow_nan=False)
sizes = st.floats(0, 5000, allow_nan=False)
point = st.tuples(finite, finite)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=st.tuples(st.integers(1, 120), st.integers(1, 120)),
    boxes=st.lists(st.tuples(finite, finite, sizes, sizes), max_size=4),
    eyes=st.lists(st.one_of(st.none(), st.tuples(point, point)), min_size=4, max_size=4),
    size=st.sampled_from([48, 64]),
    scale=st.floats(0.5, 2.5),
    shift=st.floats(-0.3, 0.3),
)
def test_any_box_and_eyes_give_crops_of_the_right_shape_without_crashing(
    frame, boxes, eyes, size, scale, shift
) -> None:
    h, w = frame
    gray = np.random.default_rng(0).integers(0, 256, (h, w), dtype=np.uint8)
    spec = CropSpec(size=size, scale=scale, shift_y=shift)
    crops = crop_faces(gray, boxes, spec, eyes[: len(boxes)])
    assert crops.shape == (len(boxes), size, size) and crops.dtype == np.uint8
    assert all(math.isfinite(float(c.mean())) for c in crops)
