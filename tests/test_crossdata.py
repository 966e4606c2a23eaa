"""The held-out calibration figures of benchmarks/crossdata.py split the people fairly."""

from __future__ import annotations

import numpy as np

from benchmarks.crossdata import Face, balanced_interval, person_halves


def test_person_halves_keep_each_person_whole_and_split_each_label_evenly() -> None:
    # mux-dev's shape: one label is nearly all film stills of a few actors (disgust), the
    # others are spread over many people with a few photos each.
    faces: list[Face] = []
    for actor, n in (("Actor_A", 96), ("Actor_B", 48), ("Actor_C", 18), ("Actor_D", 9)):
        faces += [Face(f"{actor}_{i:04d}.jpg", "disgust", np.ones(8) / 8, False)
                  for i in range(n)]
    for p in range(200):
        label = ("neutral", "happiness", "sadness", "anger")[p % 4]
        faces += [Face(f"Person_{p}_{i:04d}.jpg", label, np.ones(8) / 8, False)
                  for i in range(1 + p % 3)]

    half = person_halves(faces)

    people: dict[str, set[int]] = {}
    for f, h in zip(faces, half, strict=True):
        people.setdefault(f.file.rsplit("_", 1)[0], set()).add(int(h))
    assert all(len(h) == 1 for h in people.values()), "a person is in both halves"
    for label in ("disgust", "neutral", "happiness", "sadness", "anger"):
        n = np.array([f.label == label for f in faces])
        share = half[n].mean()
        # The largest actor alone holds 56% of the disgust photos; a split by name could put
        # them all in one half.
        assert 0.35 <= share <= 0.65, f"{label}: {share:.0%} of its photos in half 1"


def test_photos_of_one_person_move_together_in_the_people_interval() -> None:
    # Two people per label, one read right on all 40 photos, the other wrong on all: the
    # photos look like 80 independent tries, the people like two.
    truth = np.repeat([0, 1], 80)
    correct = np.tile(np.repeat([True, False], 40), 2)
    people = [f"{label}-{i // 40}" for label, i in zip(truth, np.tile(np.arange(80), 2),
                                                         strict=True)]
    photos = balanced_interval(correct, truth)
    by_person = balanced_interval(correct, truth, people=people)
    assert photos[0] < 0.5 < photos[1] and by_person[0] < 0.5 < by_person[1]
    assert by_person[1] - by_person[0] > 3 * (photos[1] - photos[0])
    # One photo per person: the two resamplings are the same.
    assert balanced_interval(correct, truth, people=[f"{i:03d}" for i in range(160)]) == photos
