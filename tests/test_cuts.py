"""An edited video: after a cut to another person, that person is a new face from the cut's
first frame, with their own emotions, not the previous shot's face carried on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import run_emocam
from conftest import TWO_SHOTS_SHOT as SHOT

from benchmarks.media import SyntheticVideo, head_image
from emocam.cuts import CutDetector
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.sources import open_source
from emocam.types import FrameResult


def _run(video: Path, model_path: Path, **config: object) -> list[FrameResult]:
    with Pipeline(PipelineConfig(model_path=model_path, **config)) as p, \
            open_source(video) as src:
        return [p.process(frame) for frame in src]


def test_a_new_shot_gives_the_person_in_it_a_new_face_with_their_own_emotions(
    video_two_shots: Path, model_path: Path
) -> None:
    results = _run(video_two_shots, model_path)
    assert all(len(r.faces) == 1 for r in results)  # found in every frame, the cut's too
    first, second = results[:SHOT], results[SHOT:]
    assert len({r.faces[0].face_id for r in first}) == 1
    assert len({r.faces[0].face_id for r in second}) == 1
    assert first[0].faces[0].face_id != second[0].faces[0].face_id
    assert [r.shot for r in results] == [0] * SHOT + [1] * SHOT
    # Nothing of the first person's expression is smoothed into the second's.
    cut = second[0].faces[0]
    np.testing.assert_array_equal(cut.probs, cut.raw_probs)
    # Without cut detection the box would simply carry on (what this test guards against).
    blind = _run(video_two_shots, model_path, detect_cuts=False)
    assert blind[0].faces[0].face_id == blind[SHOT].faces[0].face_id
    assert not np.array_equal(blind[SHOT].faces[0].probs, blind[SHOT].faces[0].raw_probs)


def test_a_cut_between_two_equally_bright_shots_is_seen() -> None:
    # An orange set, then a blue one, a face in the same place: their grey levels differ by
    # 7 of 255, and the grey thumbnail saw one shot (the new person's rows began 2 frames
    # late, under the last shot's id).
    def shot(name: str, background: tuple[int, int, int]) -> list[np.ndarray]:
        face = cv2.resize(head_image(name), (240, 240))
        frames = []
        for i in range(10):
            frame = np.full((360, 640, 3), background, np.uint8)
            frame[60:300, 200 + 2 * i:440 + 2 * i] = face  # a face drifting to the right
            frames.append(frame)
        return frames

    frames = shot("astronaut", (200, 120, 40)) + shot("hopper", (30, 60, 200))
    detector = CutDetector()
    assert [i for i, f in enumerate(frames) if detector.is_cut(f)] == [10]
    # A light changing colour every 10 frames in one shot, warm to cool and back at the
    # same brightness, is no cut: it scales each channel of the whole picture.
    warm, cool = np.array([1.35, 1.0, 0.65]), np.array([0.65, 1.0, 1.35])  # BGR gains
    lit = [np.clip(f * (cool if (i // 5) % 2 else warm), 0, 255).astype(np.uint8)
           for i, f in enumerate(shot("astronaut", (128, 128, 128)) * 2)]
    detector = CutDetector()
    assert [i for i, f in enumerate(lit) if detector.is_cut(f)] == []


def test_one_continuous_shot_keeps_its_faces(
    video_four_faces: SyntheticVideo, model_path: Path
) -> None:
    results = _run(video_four_faces.path, model_path)
    ids = {f.face_id for r in results for f in r.faces}
    assert len(ids) == 4


def _shot_of_each_frame(csv_path: Path) -> dict[int, str]:
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return {int(row["frame"]): row["shot"] for row in csv.DictReader(fh)}


def test_the_outputs_say_which_shot_each_row_and_face_belongs_to(
    video_two_shots: Path, model_path: Path, tmp_path: Path
) -> None:
    r = run_emocam("process", video_two_shots, "-o", tmp_path, "--model", model_path,
                   "--no-video")
    assert r.returncode == 0, r.stderr
    shots = _shot_of_each_frame(tmp_path / "interview.emocam.csv")
    assert shots == {i: "0" if i < SHOT else "1" for i in range(2 * SHOT)}
    summary = json.loads((tmp_path / "interview.emocam.json").read_text())
    assert [(s["shot"], s["first_frame"]) for s in summary["shots"]] == [(0, 0), (1, SHOT)]
    assert summary["shots"][1]["first_time_ms"] == pytest.approx(SHOT * 1000 / 30, abs=1)
    assert sorted(f["shot"] for f in summary["faces"].values()) == [0, 1]
    # Re-analysing the recorded numbers keeps the shots (no video is decoded for it).
    again = tmp_path / "again"
    again.mkdir()
    r = run_emocam("process", "--reanalyse", tmp_path / "interview.emocam.npz", "-o", again,
                   "--no-video", "--smoothing", "0.5")
    assert r.returncode == 0, r.stderr
    assert _shot_of_each_frame(again / "interview.reanalysed.csv") == shots
