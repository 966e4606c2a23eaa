"""An edited video: after a cut to another person, that person is a new face from the cut's
first frame, with their own emotions, not the previous shot's face carried on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import Placement, SyntheticVideo, render

from emocam.pipeline import Pipeline, PipelineConfig
from emocam.sources import open_source
from emocam.types import FrameResult

SHOT = 20  # frames per shot


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shot 1: one person, shot 2: another person in nearly the same place, another room."""
    path = tmp_path_factory.mktemp("cuts") / "interview.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (640, 480))
    for i in range(SHOT):
        w.write(render((640, 480), [Placement("astronaut", 300 + i, 240, 170)], seed=1))
    for i in range(SHOT):
        w.write(render((640, 480), [Placement("hopper", 330 - i, 250, 180)], seed=5))
    w.release()
    return path


def _run(video: Path, model_path: Path, **config: object) -> list[FrameResult]:
    with Pipeline(PipelineConfig(model_path=model_path, **config)) as p, \
            open_source(video) as src:
        return [p.process(frame) for frame in src]


def test_a_new_shot_gives_the_person_in_it_a_new_face_with_their_own_emotions(
    two_shots: Path, model_path: Path
) -> None:
    results = _run(two_shots, model_path)
    assert all(len(r.faces) == 1 for r in results)  # found in every frame, the cut's too
    first, second = results[:SHOT], results[SHOT:]
    assert len({r.faces[0].face_id for r in first}) == 1
    assert len({r.faces[0].face_id for r in second}) == 1
    assert first[0].faces[0].face_id != second[0].faces[0].face_id
    # Nothing of the first person's expression is smoothed into the second's.
    cut = second[0].faces[0]
    np.testing.assert_array_equal(cut.probs, cut.raw_probs)
    # Without cut detection the box would simply carry on (what this test guards against).
    blind = _run(two_shots, model_path, detect_cuts=False)
    assert blind[0].faces[0].face_id == blind[SHOT].faces[0].face_id
    assert not np.array_equal(blind[SHOT].faces[0].probs, blind[SHOT].faces[0].raw_probs)


def test_one_continuous_shot_keeps_its_faces(
    video_four_faces: SyntheticVideo, model_path: Path
) -> None:
    results = _run(video_four_faces.path, model_path)
    ids = {f.face_id for r in results for f in r.faces}
    assert len(ids) == 4
