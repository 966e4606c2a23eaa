"""``emocam process`` end to end, run as a user runs it: a subprocess of ``python -m emocam``."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import NAMES, photo_folder, read_csv, run_emocam, start_emocam, video_facts

from benchmarks.media import SyntheticVideo, four_faces_plan, match_faces, scaled, write_video
from emocam import __version__
from emocam.classify import EmotionClassifier
from emocam.resources import builtin_models


def assert_one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


# --- a full run on the four-face video ------------------------------------------------------


@pytest.fixture(scope="module")
def four_face_run(
    video_four_faces: SyntheticVideo, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path, SyntheticVideo]:
    out = tmp_path_factory.mktemp("four_out")
    r = run_emocam("process", video_four_faces, "-o", out, "--model", model_path, timeout=240)
    return r, out, video_four_faces


def test_a_video_gives_an_annotated_video_like_the_input(four_face_run) -> None:
    r, out, video = four_face_run
    assert r.returncode == 0, r.stderr
    annotated = out / "four_faces.emocam.mp4"
    reported, size, fps, decoded = video_facts(annotated)
    assert decoded == video.frame_count
    assert reported == video.frame_count
    assert size == video.size
    assert fps == pytest.approx(video.fps, abs=0.01)


def test_progress_written_to_a_log_file_is_lines_not_a_redrawn_bar(four_face_run) -> None:
    """stderr is a pipe here, as in a ``nohup`` log or CI: a bar redrawn with carriage
    returns made one unreadable line there. Each state is a line of its own instead."""
    r, _, video = four_face_run
    assert "\r" not in r.stderr
    bar = [ln for ln in r.stderr.splitlines() if ln.startswith("four_faces.mp4:")]
    assert 1 <= len(bar) <= 3, r.stderr  # one every 30 s: the start and the end here
    assert f"{video.frame_count}/{video.frame_count}" in bar[-1]


def test_the_csv_has_one_row_per_face_and_probabilities_that_sum_to_one(four_face_run) -> None:
    _, out, video = four_face_run
    rows = read_csv(out / "four_faces.emocam.csv")
    assert rows
    for row in rows:
        probs = np.array([float(row[n]) for n in NAMES])
        assert probs.sum() == pytest.approx(1.0, abs=1e-3)
        assert row["top_label"] == NAMES[int(np.argmax(probs))]
        frame = int(row["frame"])
        assert float(row["time_ms"]) == pytest.approx(frame * 1000 / video.fps, abs=1.0)
        assert row["shot"] == "0"  # one continuous shot
    # Each frame's faces in id order, so two runs' CSVs diff and join row by row (they came
    # as the detector found them: 1, 2 in one frame, 2, 1 in the next).
    keys = [(int(r["frame"]), int(r["face_id"])) for r in rows]
    assert keys == sorted(keys)


def test_all_four_faces_are_found_in_nearly_every_frame(four_face_run) -> None:
    _, out, video = four_face_run
    boxes: dict[int, list[tuple[float, ...]]] = {}
    for row in read_csv(out / "four_faces.emocam.csv"):
        box = tuple(float(row[k]) for k in ("x", "y", "w", "h"))
        boxes.setdefault(int(row["frame"]), []).append(box)
    complete = sum(
        all(m is not None for m in match_faces(boxes.get(i, []), video.faces[i]))
        for i in range(video.frame_count)
    )
    assert complete >= 0.95 * video.frame_count


def test_the_json_summary_describes_the_run_and_each_face(four_face_run) -> None:
    r, out, video = four_face_run
    summary = json.loads((out / "four_faces.emocam.json").read_text())
    assert summary["completed"] is True
    assert summary["frames"] == video.frame_count
    assert summary["class_names"] == NAMES
    assert summary["detector"] == "mediapipe"
    assert summary["provider"].endswith("ExecutionProvider")
    assert summary["fps_achieved"] > 0
    assert set(summary["mean_timings_ms"]) >= {"detect", "align", "classify", "track"}
    long_lived = [f for f in summary["faces"].values() if f["frames"] >= 0.9 * video.frame_count]
    assert len(long_lived) >= 4  # the four people keep their ids through the video
    assert summary["shots"] == [{"shot": 0, "first_frame": 0, "first_time_ms": 0.0}]
    assert summary["detection"] == [
        {"schedule": "every frame; new faces every frame (at most 30/s)",
         "frames": video.frame_count}
    ]
    for face in summary["faces"].values():
        assert sum(face["share_of_time"].values()) == pytest.approx(1.0, abs=1e-3)
        assert sum(face["mean_probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert "wrote" in r.stdout


def test_a_target_frame_rate_out_of_reach_detects_less_but_keeps_every_face_and_says_so(
    video_four_faces: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    # No machine holds 1,000 fps: the run steps down to its cheapest detection, following
    # the faces between detections; the people must keep their ids all the same.
    r = run_emocam("process", video_four_faces, "-o", tmp_path, "--model", model_path, "-q",
                   "--no-video", "--target-fps", "1000")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "four_faces.emocam.json").read_text())
    assert summary["target_fps"] == 1000
    schedules = [d["schedule"] for d in summary["detection"]]
    assert len(schedules) >= 3 and "every 2nd frame" in " ".join(schedules)
    assert sum(d["frames"] for d in summary["detection"]) == video_four_faces.frame_count
    frames_per_face = sorted(f["frames"] for f in summary["faces"].values())
    assert frames_per_face == [video_four_faces.frame_count] * 4


def test_an_existing_output_is_refused_without_overwrite(four_face_run, model_path: Path) -> None:
    _, out, video = four_face_run
    csv_before = (out / "four_faces.emocam.csv").read_bytes()
    r = run_emocam("process", video, "-o", out, "--model", model_path, "-q")
    assert_one_line_error(r, "--overwrite")
    assert (out / "four_faces.emocam.csv").read_bytes() == csv_before


# --- images and folders -------------------------------------------------------------------


@pytest.fixture
def portrait(image_one_face: Path, tmp_path: Path) -> Path:
    """A photo of one face in a folder of its own, where its outputs land."""
    img = tmp_path / "portrait.jpg"
    shutil.copy(image_one_face, img)
    return img


def test_an_image_gives_an_annotated_image_and_a_summary_next_to_it(
    portrait: Path, model_path: Path, tmp_path: Path
) -> None:
    img = portrait
    r = run_emocam("process", img, "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    annotated = cv2.imread(str(tmp_path / "portrait.emocam.jpg"))
    assert annotated is not None and annotated.shape == cv2.imread(str(img)).shape
    summary = json.loads((tmp_path / "portrait.emocam.json").read_text())
    assert summary["completed"] is True and summary["frames_with_faces"] == 1
    assert not (tmp_path / "portrait.emocam.csv").exists()


def test_the_summary_names_its_input_and_outputs_wherever_it_is_read_from(
    portrait: Path, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative names on the command line, as a user types them
    r = run_emocam("process", portrait.name, "-o", "out", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "portrait.emocam.json").read_text())
    assert summary["input"] == str(tmp_path / portrait.name)
    assert all(Path(p).is_absolute() and Path(p).exists() for p in summary["outputs"].values())


@pytest.mark.parametrize("name", list(builtin_models()))
def test_a_built_in_model_is_chosen_by_its_short_name(
    name: str, portrait: Path, tmp_path: Path
) -> None:
    r = run_emocam("process", portrait, "--model", name, "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "portrait.emocam.json").read_text())
    shipped = EmotionClassifier(builtin_models()[name])
    assert summary["class_names"] == list(shipped.info.class_names)
    shipped.close()


def test_without_a_model_choice_the_cpu_runs_the_int8_model_and_says_so(
    portrait: Path, tmp_path: Path
) -> None:
    r = run_emocam("process", portrait, "--provider", "cpu", "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "portrait.emocam.json").read_text())
    assert summary["provider"] == "CPUExecutionProvider"
    assert Path(summary["model_path"]) == builtin_models()["ferplus-int8"]
    assert summary["model"].endswith("int8") and summary["frames_with_faces"] == 1


def test_a_folder_of_images_gives_annotated_images_a_csv_and_a_summary(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    # A name a spreadsheet would run as a formula, as a photo sent by someone else may have.
    formula = "=HYPERLINK(1).jpg"
    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg", "b.jpg", formula)
    (photos / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    r = run_emocam("process", photos, "-o", out, "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (out / "photos.emocam").iterdir()) == [
        formula, "a.jpg", "b.jpg"]
    rows = read_csv(out / "photos.emocam.csv")
    # "./" names the same file, and a spreadsheet reads the cell as text.
    assert [row["file"] for row in rows] == [f"./{formula}", "a.jpg", "b.jpg"]
    assert json.loads((out / "photos.emocam.json").read_text())["frames"] == 3


def test_a_folders_closing_line_counts_photos(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    # It said "2 frames at 3.1 fps" of two photos, beside a bar that counted photos.
    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg", "b.jpg")
    r = run_emocam("process", photos, "-o", tmp_path / "out", "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^2 photos at [0-9.]+ photos/s; wrote ", r.stdout, re.M), r.stdout


def test_a_folder_of_phone_and_browser_photos_is_read_and_its_heic_photos_named(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    photos = photo_folder(tmp_path / "phone", image_one_face, "a.jpg", "a.jfif", "IMG_2.HEIC")
    (photos / "IMG_3.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")  # a real one's start
    out = tmp_path / "out"
    r = run_emocam("process", photos, "-o", out, "--model", model_path, "-q")
    # Before: the .jfif photo was left out without a word, a JPEG named .HEIC was not
    # annotated (a traceback: OpenCV writes no .HEIC), and the real HEIC was "cannot be
    # decoded". Each annotated copy keeps its photo's name, as a JPEG where OpenCV writes
    # no such type.
    assert r.returncode == 0, r.stderr
    assert "IMG_3.HEIC is a HEIC photo, which emocam cannot read; convert it" in r.stderr
    annotated = out / "phone.emocam"
    assert sorted(p.name for p in annotated.iterdir()) == ["IMG_2.HEIC", "a.jfif", "a.jpg"]
    assert cv2.imread(str(annotated / "IMG_2.HEIC")) is not None
    # Run again over it: the annotated folder is known as emocam's own (not "files emocam
    # did not write"), and replaced whole.
    r = run_emocam("process", photos, "-o", out, "--model", model_path, "-q", "--overwrite")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "phone.emocam.json").read_text())
    assert summary["frames"] == 3 and summary["photos_skipped"] == ["IMG_3.HEIC"]
    # A photo with no extension is a photo: annotated as a JPEG, and an .mp4 name for its
    # annotated copy is one sentence (it was a cv2.error traceback).
    bare = tmp_path / "bare"
    bare.write_bytes(image_one_face.read_bytes())
    r = run_emocam("process", bare, "-o", out, "--model", model_path, "-q")
    assert r.returncode == 0 and (out / "bare.emocam.jpg").is_file(), r.stderr
    r = run_emocam("process", bare, "--output-video", tmp_path / "bare.mp4", "--json",
                   tmp_path / "b.json", "--model", model_path, "-q")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bare.mp4" in r.stderr
    # A folder of HEIC photos alone is one sentence saying what to do.
    heic = tmp_path / "heic"
    heic.mkdir()
    (heic / "IMG_9.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    r = run_emocam("process", heic, "-o", out, "--model", model_path, "-q")
    assert r.returncode == 2 and "holds only HEIC photos (1)" in r.stderr, r.stderr


def test_several_inputs_are_processed_in_turn_and_a_bad_one_does_not_stop_the_rest(
    image_one_face: Path, video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "gone.mp4"
    r = run_emocam("process", video_face_at_edge.path, missing, image_one_face, "-o", out,
                   "--model", model_path, "--no-sidecar")
    assert r.returncode == 2, r.stderr  # not every input was processed
    video, image = video_face_at_edge.path, image_one_face
    assert sorted(p.name for p in out.iterdir()) == sorted([
        f"{video.stem}.emocam.mp4", f"{video.stem}.emocam.csv", f"{video.stem}.emocam.json",
        f"{video.stem}.emocam.html",
        f"{image.stem}.emocam{image.suffix}", f"{image.stem}.emocam.json",
        f"{image.stem}.emocam.html",
    ])
    assert json.loads((out / f"{video.stem}.emocam.json").read_text())["completed"] is True
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("emocam:")]
    assert len(errors) == 2 and "gone.mp4" in errors[0]
    assert "2 of 3 inputs processed" in errors[1] and "gone.mp4" in errors[1]
    assert "Traceback" not in r.stderr


def test_a_folder_of_videos_is_each_of_its_videos_but_not_an_earlier_runs_outputs(
    video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "talks"
    folder.mkdir()
    for name in ("a.mp4", "b.mkv", "a.emocam.mp4"):  # the last: an earlier run's output
        shutil.copy(video_face_at_edge.path, folder / name)
    r = run_emocam("process", folder, "-o", tmp_path / "out", "--model", model_path, "-q",
                   "--no-sidecar")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.emocam.csv", "a.emocam.html", "a.emocam.json", "a.emocam.mp4",
        "b.emocam.csv", "b.emocam.html", "b.emocam.json", "b.emocam.mp4",
    ]


def test_several_inputs_that_would_write_the_same_outputs_are_refused_before_any_work(
    video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(video_face_at_edge.path, tmp_path / folder / "talk.mp4")
    out = tmp_path / "out"
    r = run_emocam("process", tmp_path / "a" / "talk.mp4", tmp_path / "b" / "talk.mp4", "-o", out,
                   "--model", model_path, "-q")
    assert_one_line_error(r, "talk.emocam")
    assert not out.exists() or not any(out.iterdir())
    r = run_emocam("process", tmp_path / "a" / "talk.mp4", tmp_path / "b" / "talk.mp4",
                   "--csv", tmp_path / "one.csv", "-q")
    assert_one_line_error(r, "-o DIR")


# --- what users get wrong -------------------------------------------------------------------


def test_every_bad_input_gives_one_sentence_and_exit_code_2(
    tmp_path: Path, model_path: Path, video_face_at_edge: SyntheticVideo
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    fake_image = tmp_path / "fake.jpg"
    fake_image.write_text("not a jpeg")
    bad_model = tmp_path / "model.onnx"
    bad_model.write_text("not a model")
    video = video_face_at_edge.path
    m = ("--model", model_path)
    cases = {
        "missing": (("process", tmp_path / "nope.mp4", *m), "nope.mp4"),
        "empty folder": (("process", empty, *m), "empty"),
        "corrupt video": (("process", corrupt, "-o", tmp_path / "o1", *m), "corrupt.mp4"),
        "not an image": (("process", fake_image, "-o", tmp_path / "o2", *m), "fake.jpg"),
        "bad model": (("process", video, "-o", tmp_path / "o3", "--model", bad_model), "model"),
        "missing model": (
            ("process", video, "-o", tmp_path / "o4", "--model", tmp_path / "x.onnx"), "x.onnx"
        ),
        "output is input": (("process", video, "--output-video", video, *m), "input"),
    }
    for name, (args, word) in cases.items():
        r = run_emocam(*args, "-q")
        try:
            assert_one_line_error(r, word)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from e
    assert video.exists() and video.stat().st_size > 0


def test_a_video_without_faces_keeps_its_outputs_and_says_so(
    tmp_path: Path, model_path: Path
) -> None:
    blank = write_video(tmp_path / "blank.mp4", (320, 240), [[]] * 10)
    r = run_emocam("process", blank, "--model", model_path, "-q")
    assert_one_line_error(r, "No face")
    assert read_csv(tmp_path / "blank.emocam.csv") == []
    assert json.loads((tmp_path / "blank.emocam.json").read_text())["frames"] == 10
    assert video_facts(tmp_path / "blank.emocam.mp4")[3] == 10
    # The advice names the detector that did not run, never the one that just looked.
    assert "(--detector opencv" in r.stderr
    r = run_emocam("process", blank, "--model", model_path, "-q", "--overwrite", "--detector",
                   "opencv")
    assert_one_line_error(r, "No face", "64 px", "--detector mediapipe", "View > Detector")


def test_version() -> None:
    r = run_emocam("--version")
    assert r.returncode == 0 and __version__ in r.stdout


# --- stopping half-way ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_video(media_dir: Path) -> SyntheticVideo:
    """Ten seconds of the four-face scene at 640x360, long enough to stop half-way."""
    small = scaled(four_faces_plan(300), 0.5)
    return write_video(media_dir / "long.mp4", (640, 360), small, seed=5)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["ctrl-c", "sigterm", "sighup"])
def test_stopping_mid_run_leaves_a_valid_csv_and_a_playable_video(
    sig: signal.Signals, long_video: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    proc = start_emocam("process", long_video, "-o", tmp_path, "--model", model_path)
    csv_path = tmp_path / "long.emocam.csv"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if csv_path.exists() and csv_path.read_text().count("\n") > 40:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    rows = read_csv(csv_path)
    frames_written = int(rows[-1]["frame"]) + 1
    assert 0 < frames_written < long_video.frame_count
    *_, decoded = video_facts(tmp_path / "long.emocam.mp4")
    assert decoded >= frames_written - 1
    summary = json.loads((tmp_path / "long.emocam.json").read_text())
    assert summary["completed"] is False
    assert summary["frames"] >= frames_written
    with np.load(tmp_path / "long.emocam.npz", allow_pickle=False) as sidecar:
        assert len(sidecar["frame_index"]) == summary["frames"]  # the numbers so far are kept


def test_a_stop_signal_that_lands_inside_a_write_to_stderr_still_stops_cleanly() -> None:
    """The progress bar writes to stderr many times a second, so a signal often interrupts a
    write. CPython then runs the handler inside that write, and a buffered stream written to
    again from the handler raises "reentrant call": the run ended with a traceback and status
    1 instead of 130 (seen once in the SIGHUP test above). This stream fails the same way."""
    import logging

    from emocam.stopping import graceful_stop

    class Stderr:
        def __init__(self) -> None:
            self.inside = False
            self.text = ""

        def write(self, text: str) -> int:
            if self.inside:
                raise RuntimeError("reentrant call inside the stream")
            self.inside = True
            try:
                if text == "bar":
                    signal.raise_signal(signal.SIGTERM)  # handled here, mid-write
                self.text += text
            finally:
                self.inside = False
            return len(text)

        def flush(self) -> None:
            pass

    stream = Stderr()
    handler = logging.StreamHandler(stream)  # the command's warnings go to stderr too
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with graceful_stop() as stop:
            stream.write("bar")
    finally:
        root.removeHandler(handler)
    assert stop.requested and stop.signal_name == "SIGTERM"
    assert stream.text == "bar"


def test_the_video_writer_keeps_every_frame_even_when_the_caller_reuses_its_buffer(
    tmp_path: Path,
) -> None:
    from emocam.video_writer import AnnotatedVideoWriter

    buf = np.empty((240, 320, 3), np.uint8)
    levels = [20 * i + 20 for i in range(10)]
    with AnnotatedVideoWriter(tmp_path / "levels.mp4", 25.0, (320, 240)) as w:
        for level in levels:
            buf[:] = level  # the same array every time, as a camera driver may do
            w.write(buf)
    cap = cv2.VideoCapture(str(tmp_path / "levels.mp4"))
    seen = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        seen.append(float(frame.mean()))
    cap.release()
    assert len(seen) == len(levels)
    np.testing.assert_allclose(seen, levels, atol=4)


@pytest.mark.parametrize("args, said", [
    (("{img}", "--no-video", "--output-video", "{tmp}/x.jpg", "-o", "{tmp}/made"),
     "--no-video writes no annotated copy"),
    (("{img}", "--csv", "{tmp}/r.txt", "--json", "{tmp}/r.txt"), "both named"),
    (("{img}", "--json", "{tmp}/r.html"), "give --json a name ending in .json"),
    (("{img}", "--json", "{tmp}/r.csv"), "JSON under a .csv name"),
    (("{img}", "--csv", "{tmp}/r.json"), "give --csv a name ending in .csv"),
    (("{img}", "{img2}", "--jobs", "2", "--stream", "ws://127.0.0.1:18800", "-o", "{tmp}/o"),
     "--stream sends one run's results"),
    (("{img}", "--jobs", "2", "--csv", "{tmp}/x.csv"), "for a batch"),
])
def test_options_that_contradict_each_other_are_one_sentence_and_make_nothing(
    tmp_path: Path, image_one_face: Path, args: tuple[str, ...], said: str
) -> None:
    shutil.copy(image_one_face, tmp_path / "b.jpg")
    argv = [a.format(img=image_one_face, img2=tmp_path / "b.jpg", tmp=tmp_path) for a in args]
    r = run_emocam("process", *argv)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and said in r.stderr and "Traceback" not in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["b.jpg"]


def test_videos_beside_the_photos_of_a_folder_are_named_as_left_out(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    folder = photo_folder(tmp_path / "mixed", image_one_face, "a.jpg")
    (folder / "talk.mp4").write_bytes(b"not looked at")
    r = run_emocam("process", folder, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    assert "talk.mp4 is not part of that" in r.stderr and "by name" in r.stderr


def test_a_read_only_home_folder_adds_no_line_to_a_quiet_run(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("a file where the home folder should be")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPL"))}
    env["HOME"] = str(not_a_folder)
    r = run_emocam("process", image_one_face, "-o", tmp_path / "out", "--model", model_path,
                   "-q", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # matplotlib's and onnxruntime's notices about it are not ours


def test_a_folders_summary_accounts_for_every_photo_in_it(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    from PIL import Image

    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg")
    cv2.imwrite(str(photos / "b_blank.png"), np.full((240, 320, 3), 128, np.uint8))
    (photos / "c_corrupt.jpg").write_bytes(b"\xff\xd8 not a photo")
    face = Image.open(image_one_face).convert("RGB")
    face.save(photos / "d_anim.gif", save_all=True, duration=100,
              append_images=[face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    odd = "e_caf\\xe9.jpg"
    try:
        (photos / os.fsdecode(b"e_caf\xe9.jpg")).write_bytes(image_one_face.read_bytes())
    except (OSError, UnicodeError):
        odd = ""  # this file system keeps names UTF-8
    r = run_emocam("process", photos, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "photos.emocam.json").read_text())
    # Before: the photo of an odd name and the animation were said on the terminal only, and
    # the photo without a face was named in the sidecar only.
    skipped = ["c_corrupt.jpg", *([odd] if odd else [])]
    assert summary["photos"] == 4 + len(skipped) - 1 and summary["frames"] == 3
    assert summary["photos_skipped"] == skipped
    # The sentence the report and the app show counts them alike: it said "1 of 4" of the
    # photos whose names could be read, beside "photos": 5.
    assert summary["input_warning"].endswith(f"({len(skipped)} of {summary['photos']}).")
    assert not odd or odd in summary["input_warning"]
    reasons = summary["photos_skipped_reasons"]
    assert "cannot be decoded" in reasons["c_corrupt.jpg"]
    assert not odd or "not UTF-8" in reasons[odd]
    assert summary["photos_first_picture_only"] == ["d_anim.gif"]
    assert summary["photos_without_faces"] == ["b_blank.png"]
    with_faces = {f["file"] for f in summary["faces"].values()}
    assert with_faces == {"a.jpg", "d_anim.gif"}
    # Every photo is one of: read with faces, read without, skipped.
    assert len(with_faces) + len(summary["photos_without_faces"]) + len(skipped) == \
        summary["photos"]
    report = (tmp_path / "out" / "photos.emocam.html").read_text()
    for name in ("c_corrupt.jpg", "d_anim.gif", "b_blank.png"):
        assert name in report.split("<h2>Faces")[0], name


def _bar_lines(stderr: str, name: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(f"{name}:")]


def test_a_folders_progress_counts_its_photos_as_its_summary_does(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    # Before: the bar started at 0/5 (the photos whose names could be read) and ended at
    # 3/3 (those that were read), beside the summary's "photos": 6 and "(3 of 6)".
    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg", "b.jpg", "d.jpg")
    (photos / "c_broken.jpg").write_bytes(image_one_face.read_bytes()[:300])
    (photos / "z_broken.jpg").write_bytes(image_one_face.read_bytes()[:300])  # the last
    try:
        (photos / os.fsdecode(b"e_caf\xe9.jpg")).write_bytes(image_one_face.read_bytes())
        odd = 1
    except (OSError, UnicodeError):
        odd = 0  # this file system keeps names UTF-8
    total = 5 + odd
    r = run_emocam("process", photos, "-o", tmp_path / "out", "--no-video", "--model",
                   model_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "photos.emocam.json").read_text())
    assert summary["photos"] == total and summary["frames"] == 3
    bar = _bar_lines(r.stderr, "photos")
    assert bar and all(f"/{total} " in ln for ln in bar), r.stderr
    assert f"{odd}/{total} " in bar[0] and f"{total}/{total} " in bar[-1], r.stderr
    assert "photos/s" in bar[-1]
    assert r.stderr.rstrip().endswith(f"({2 + odd} of {total})."), r.stderr
    quiet = run_emocam("process", photos, "-o", tmp_path / "out", "--no-video", "--model",
                       model_path, "-q", "--overwrite")
    assert quiet.returncode == 0 and not _bar_lines(quiet.stderr, "photos"), quiet.stderr
    assert quiet.stderr.rstrip().endswith(f"({2 + odd} of {total})."), quiet.stderr
