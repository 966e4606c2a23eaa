"""Re-analysis without re-inference: ``emocam process`` keeps a sidecar of raw numbers, and
``emocam process --reanalyse`` re-renders CSV, JSON and video from it with new settings."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import NAMES, photo_folder, run_emocam, video_facts

from benchmarks.media import four_faces_plan, write_video


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def probs(rows: list[dict[str, str]], names: list[str]) -> np.ndarray:
    return np.array([[float(r[n]) for n in names] for r in rows])


@pytest.fixture(scope="module")
def fresh_run(media_dir: Path, model_path: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    """Four moving faces, processed once the ordinary way; returns the output folder."""
    video = write_video(media_dir / "people.mp4", (1280, 720), four_faces_plan(24), seed=1)
    out = tmp_path_factory.mktemp("fresh")
    r = run_emocam("process", video, "-o", out, "--model", model_path, "-q", timeout=240)
    assert r.returncode == 0, r.stderr
    return out


def reanalyse(fresh: Path, out: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return run_emocam("process", "--reanalyse", fresh / "people.emocam.npz", "-o", out, "-q",
                      *args)


def test_a_run_keeps_a_sidecar_that_loads_without_pickle(fresh_run: Path) -> None:
    with np.load(fresh_run / "people.emocam.npz", allow_pickle=False) as npz:
        header = json.loads(str(npz["header"]))
        raw, ids, boxes = npz["raw_probs"], npz["face_id"], npz["box"]
        frames = npz["frame_index"]
    assert header["class_names"] == NAMES
    assert header["fps"] == pytest.approx(30.0)
    assert header["frame_size"] == [1280, 720]
    assert header["source"].endswith("people.mp4") and header["completed"] is True
    assert len(frames) == 24
    _, rows = read_rows(fresh_run / "people.emocam.csv")
    assert len(raw) == len(ids) == len(boxes) == len(rows)
    np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-4)


def test_reanalysing_with_the_same_settings_matches_the_fresh_run(
    fresh_run: Path, tmp_path: Path
) -> None:
    r = reanalyse(fresh_run, tmp_path)
    assert r.returncode == 0, r.stderr
    head_a, fresh = read_rows(fresh_run / "people.emocam.csv")
    head_b, again = read_rows(tmp_path / "people.reanalysed.csv")
    assert head_a == head_b and len(fresh) == len(again)
    for a, b in zip(fresh, again, strict=True):
        assert {k: a[k] for k in ("frame", "face_id", "top_label", "uncertain")} == {
            k: b[k] for k in ("frame", "face_id", "top_label", "uncertain")
        }
    np.testing.assert_allclose(probs(again, NAMES), probs(fresh, NAMES), atol=1e-4)
    s_fresh = json.loads((fresh_run / "people.emocam.json").read_text())
    s_again = json.loads((tmp_path / "people.reanalysed.json").read_text())
    assert s_again["faces"] == s_fresh["faces"]
    assert s_again["reanalysed_from"] == str(fresh_run / "people.emocam.npz")  # absolute
    # What the recorded run was made with is said again, not lost or made up.
    for key in ("model_accuracy", "target_fps", "min_score", "uncertain_below"):
        assert s_again[key] == s_fresh[key], key
    assert s_again["recorded_completed"] is True
    # The source video is still there, so the annotated video is rendered again.
    assert video_facts(tmp_path / "people.reanalysed.mp4")[3] == 24



def test_a_face_that_took_its_id_back_elsewhere_reanalyses_to_the_same_numbers(
    media_dir: Path, model_path: Path, tmp_path: Path
) -> None:
    # Out of sight for half a second, it comes back 200 px on and takes its id back. The run
    # smoothed its emotions afresh there, the re-analysis on from the face's own, by id: the
    # same settings gave other numbers.
    from benchmarks.media import Placement

    plan = [[Placement("hopper", cx=300 + 16 * i, cy=360, side=140)] for i in range(45)]
    plan[12:25] = [[]] * 13
    video = write_video(media_dir / "hidden.mp4", (1280, 720), plan, fps=25.0)
    r = run_emocam("process", video, "-o", tmp_path, "--model", model_path, "-q",
                   "--no-video", "--no-report", timeout=240)
    assert r.returncode == 0, r.stderr
    _, fresh = read_rows(tmp_path / "hidden.emocam.csv")
    assert len({row["face_id"] for row in fresh}) == 1  # the id was taken back
    r = run_emocam("process", "--reanalyse", tmp_path / "hidden.emocam.npz", "-o",
                   tmp_path / "again", "-q", "--no-video", "--no-report")
    assert r.returncode == 0, r.stderr
    _, again = read_rows(tmp_path / "again" / "hidden.reanalysed.csv")
    np.testing.assert_allclose(probs(again, NAMES), probs(fresh, NAMES), atol=1e-4)


def test_a_sidecar_from_before_shots_were_recorded_still_reanalyses(
    fresh_run: Path, tmp_path: Path
) -> None:
    with np.load(fresh_run / "people.emocam.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "frame_shot"}
    old = tmp_path / "old"
    old.mkdir()
    np.savez_compressed(old / "people.emocam.npz", **arrays)
    r = reanalyse(old, tmp_path)
    assert r.returncode == 0, r.stderr
    _, rows = read_rows(tmp_path / "people.reanalysed.csv")
    assert rows and {row["shot"] for row in rows} == {"0"}


def test_reanalysis_loads_no_detector_and_no_classifier(fresh_run: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from emocam.cli import main\n"
        f"rc = main(['process', '--reanalyse', {str(fresh_run / 'people.emocam.npz')!r},"
        f" '-o', {str(tmp_path)!r}, '-q', '--no-video'])\n"
        "assert rc == 0, rc\n"
        "assert 'mediapipe' not in sys.modules, 'the face detector was loaded'\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "people.reanalysed.csv").exists()


def test_options_a_reanalysis_cannot_honour_are_refused(fresh_run: Path, tmp_path: Path
                                                         ) -> None:
    # It replays the recorded numbers: another model or detector would silently change nothing.
    for flags, named in ((("--model", "fer2013-int8"), "--model"),
                         (("--detector", "opencv", "--target-fps", "60"),
                          "--detector and --target-fps")):
        r = reanalyse(fresh_run, tmp_path / "refused", *flags)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and named in r.stderr and "again" in r.stderr
        assert not (tmp_path / "refused").exists()


def test_a_reanalysis_never_writes_over_the_recorded_runs_own_files(fresh_run: Path) -> None:
    csv_path = fresh_run / "people.emocam.csv"
    before = csv_path.read_bytes()
    r = run_emocam("process", "--reanalyse", fresh_run / "people.emocam.npz", "--overwrite",
                   "--csv", csv_path, "--no-video", "-q")
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "people.emocam.csv" in r.stderr and "mix" in r.stderr
    assert csv_path.read_bytes() == before  # the run's CSV still goes with its JSON and sidecar


def test_a_reanalysis_never_writes_over_a_named_csv_of_the_run_it_replays(
    tmp_path: Path, model_path: Path, video_one_face
) -> None:
    # Named as the app's Export names them: talk.csv, talk.json beside talk.emocam.npz.
    r = run_emocam("process", video_one_face.path, "--csv", tmp_path / "talk.csv", "--json",
                   tmp_path / "talk.json", "--no-video", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "talk.csv").read_bytes()
    r = run_emocam("process", "--reanalyse", tmp_path / "talk.emocam.npz", "--overwrite",
                   "--csv", tmp_path / "talk.csv", "--no-video", "-q")
    assert r.returncode == 2 and "talk.csv" in r.stderr and "mix" in r.stderr, r.stderr
    assert (tmp_path / "talk.csv").read_bytes() == before


def test_a_reanalysis_never_writes_over_the_files_of_a_run_whose_csv_was_named(
    tmp_path: Path, model_path: Path, video_one_face
) -> None:
    # As the README shows: --csv out/a.csv, so the sidecar is a.emocam.npz while the summary
    # and the video are named after the input. Before, a re-analysis replaced that video,
    # summary and report, leaving a.csv and the sidecar from the run beside them.
    out = tmp_path / "out"
    r = run_emocam("process", video_one_face.path, "-o", out, "--csv", out / "a.csv",
                   "--model", model_path, "-q", "--no-report")
    assert r.returncode == 0, r.stderr
    stem = video_one_face.path.stem
    video, summary = out / f"{stem}.emocam.mp4", out / f"{stem}.emocam.json"
    before = {p: p.read_bytes() for p in (video, summary)}
    r = run_emocam("process", "--reanalyse", out / "a.emocam.npz", "--output-video", video,
                   "--json", summary, "--overwrite", "--smoothing", "2", "-q")
    assert r.returncode == 2 and f"{stem}.emocam.mp4" in r.stderr and "mix" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in before} == before
    # A folder moved whole still holds that run's files under their names.
    moved = tmp_path / "moved"
    out.rename(moved)
    r = run_emocam("process", "--reanalyse", moved / "a.emocam.npz", "--json",
                   moved / f"{stem}.emocam.json", "--overwrite", "--no-video", "-q")
    assert r.returncode == 2 and "mix" in r.stderr, r.stderr


def test_a_run_that_piped_its_csv_reanalyses_into_a_pipe_too(
    tmp_path: Path, model_path: Path, video_two_shots: Path
) -> None:
    # `emocam process v.mp4 --csv - | ...` in a script, then `--reanalyse ... --csv - | ...`:
    # the standard output is no file of the recorded run, yet it was refused ("The output
    # /dev/stdout belongs to the run ... recorded").
    first = run_emocam("process", video_two_shots, "-o", tmp_path, "--csv", "-", "--no-video",
                       "--model", model_path, "-q")
    assert first.returncode == 0, first.stderr
    again = run_emocam("process", "--reanalyse", tmp_path / "interview.emocam.npz", "-o",
                       tmp_path / "again", "--csv", "-", "-q")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and first.stdout.count("\n") > 20  # the same settings


def test_other_smoothing_changes_smoothed_probabilities_but_not_raw_ones(
    fresh_run: Path, tmp_path: Path
) -> None:
    with np.load(fresh_run / "people.emocam.npz", allow_pickle=False) as npz:
        raw = npz["raw_probs"]
    _, fresh = read_rows(fresh_run / "people.emocam.csv")
    r = reanalyse(fresh_run, tmp_path / "off", "--smoothing", "0", "--no-video")
    assert r.returncode == 0, r.stderr
    _, unsmoothed = read_rows(tmp_path / "off" / "people.reanalysed.csv")
    np.testing.assert_allclose(probs(unsmoothed, NAMES), raw, atol=1e-4)  # raw kept exactly
    r = reanalyse(fresh_run, tmp_path / "slow", "--smoothing-tau", "1.0", "--no-video")
    assert r.returncode == 0, r.stderr
    _, slow = read_rows(tmp_path / "slow" / "people.reanalysed.csv")
    assert np.abs(probs(slow, NAMES) - probs(fresh, NAMES)).max() > 0.02
    np.testing.assert_allclose(probs(slow, NAMES).sum(axis=1), 1.0, atol=1e-3)


def test_a_label_map_renames_and_merges_classes(fresh_run: Path, tmp_path: Path) -> None:
    r = reanalyse(fresh_run, tmp_path, "--no-video", "--label-map",
                  "neutral=calm,anger=negative,disgust=negative,sadness=negative")
    assert r.returncode == 0, r.stderr
    head, rows = read_rows(tmp_path / "people.reanalysed.csv")
    assert "calm" in head and "negative" in head and "anger" not in head
    _, fresh = read_rows(fresh_run / "people.emocam.csv")
    merged = probs(fresh, ["anger", "disgust", "sadness"]).sum(axis=1)
    np.testing.assert_allclose(probs(rows, ["negative"])[:, 0], merged, atol=1e-3)
    np.testing.assert_allclose(probs(rows, ["calm"])[:, 0], probs(fresh, ["neutral"])[:, 0],
                               atol=1e-4)
    summary = json.loads((tmp_path / "people.reanalysed.json").read_text())
    assert summary["class_names"][:2] == ["calm", "happiness"]
    twice = reanalyse(fresh_run, tmp_path / "twice", "--label-map", "anger=neg,anger=pos")
    assert twice.returncode == 2 and "renames anger twice, to neg and pos" in twice.stderr
    # A new name that is one of the CSV's own columns would make "frame" hold anger.
    clash = reanalyse(fresh_run, tmp_path / "clash", "--label-map", "anger=frame")
    assert clash.returncode == 2 and "frame is already a column of the CSV" in clash.stderr
    assert not (tmp_path / "clash").exists()
    # A heading and labels a spreadsheet would run as formulas (it made a column "=x").
    formula = reanalyse(fresh_run, tmp_path / "formula", "--label-map", "anger==x")
    assert formula.returncode == 2 and "=x starts with a sign a spreadsheet" in formula.stderr
    # One class to a reader of the CSV, two columns: "Neutral" beside "neutral".
    case = reanalyse(fresh_run, tmp_path / "case", "--label-map", "contempt=Neutral")
    assert case.returncode == 2, case.stderr
    assert "Neutral differs from the class neutral only in case" in case.stderr
    case = reanalyse(fresh_run, tmp_path / "case2", "--label-map", "anger=Mad,disgust=mad")
    assert case.returncode == 2 and "new names Mad and mad differ only in case" in case.stderr
    clash = reanalyse(fresh_run, tmp_path / "clash2", "--label-map", "anger=FRAME")
    assert clash.returncode == 2 and "FRAME is already a column of the CSV" in clash.stderr


def test_a_stricter_detection_threshold_drops_weaker_faces(
    fresh_run: Path, tmp_path: Path
) -> None:
    with np.load(fresh_run / "people.emocam.npz", allow_pickle=False) as npz:
        scores = npz["score"]
    cut = float(np.median(scores))
    r = reanalyse(fresh_run, tmp_path, "--threshold", f"{cut:.4f}", "--no-video")
    assert r.returncode == 0, r.stderr
    _, rows = read_rows(tmp_path / "people.reanalysed.csv")
    assert len(rows) == int((scores >= np.float32(f"{cut:.4f}")).sum())
    assert 0 < len(rows) < len(scores)


def _a_run_of_a_copy(fresh: Path, model_path: Path, video: Path) -> Path:
    """The fresh run's video copied to ``video`` and processed (numbers only): a source the
    test may then remove or replace."""
    shutil.copy(_source(fresh), video)
    r = run_emocam("process", video, "--model", model_path, "-q", "--no-video")
    assert r.returncode == 0, r.stderr
    return video


def test_without_the_source_video_the_numbers_are_still_rewritten(
    fresh_run: Path, model_path: Path, tmp_path: Path
) -> None:
    _a_run_of_a_copy(fresh_run, model_path, tmp_path / "gone.mp4").unlink()
    r = run_emocam("process", "--reanalyse", tmp_path / "gone.emocam.npz", "--uncertain-below",
                   "0.99")
    assert r.returncode == 0, r.stderr
    # Said why there is no video, and how to have one; not "check the path and try again".
    assert "gone.mp4, which the run analysed, is no longer there" in r.stderr
    assert "put the file back" in r.stderr and "try again" not in r.stderr
    assert not (tmp_path / "gone.reanalysed.mp4").exists()
    _, rows = read_rows(tmp_path / "gone.reanalysed.csv")
    assert rows and any(row["uncertain"] == "low confidence" for row in rows)


def test_a_video_replaced_under_its_name_gets_no_annotated_copy(
    fresh_run: Path, model_path: Path, tmp_path: Path
) -> None:
    video = _a_run_of_a_copy(fresh_run, model_path, tmp_path / "clip.mp4")
    # Another clip of the same size under the same name: the old boxes would be drawn on it.
    write_video(video, (1280, 720), four_faces_plan(12), seed=5)
    r = run_emocam("process", "--reanalyse", tmp_path / "clip.emocam.npz", "-o",
                   tmp_path / "again", "-q")
    assert r.returncode == 0, r.stderr
    assert "clip.mp4 is not the file that was analysed" in r.stderr
    assert not (tmp_path / "again" / "clip.reanalysed.mp4").exists()
    _, rows = read_rows(tmp_path / "again" / "clip.reanalysed.csv")
    assert len({row["frame"] for row in rows}) == 24  # the recorded numbers, all of them


def test_a_folder_that_changed_is_paired_by_file_name_not_position(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    photos = photo_folder(tmp_path / "photos", image_one_face, "b.jpg")
    r = run_emocam("process", photos, "-o", tmp_path / "run", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    blank = np.full((360, 480, 3), 128, np.uint8)
    cv2.imwrite(str(photos / "a.jpg"), blank)  # a new photo sorts first: positions move
    r = run_emocam("process", "--reanalyse", tmp_path / "run" / "photos.emocam.npz", "-o",
                   tmp_path / "again", "-q")
    assert r.returncode == 0, r.stderr
    again = tmp_path / "again" / "photos.reanalysed"
    assert [p.name for p in again.iterdir()] == ["b.jpg"]  # the face drawn on its own photo
    _, rows = read_rows(tmp_path / "again" / "photos.reanalysed.csv")
    assert {row["file"] for row in rows} == {"b.jpg"}
    # The photo edited since (mirrored): the recorded boxes would miss its face.
    mirrored = cv2.flip(cv2.imread(str(photos / "b.jpg")), 1)
    cv2.imwrite(str(photos / "b.jpg"), mirrored)
    r = run_emocam("process", "--reanalyse", tmp_path / "run" / "photos.emocam.npz", "-o",
                   tmp_path / "edited", "-q")
    assert r.returncode == 0, r.stderr
    assert "b.jpg in" in r.stderr and "is not the photo analysed" in r.stderr
    assert not (tmp_path / "edited" / "photos.reanalysed").exists()
    _, rows = read_rows(tmp_path / "edited" / "photos.reanalysed.csv")
    assert {row["file"] for row in rows} == {"b.jpg"}
    (photos / "b.jpg").unlink()  # the photo analysed is gone: numbers only, and said so
    r = run_emocam("process", "--reanalyse", tmp_path / "run" / "photos.emocam.npz", "-o",
                   tmp_path / "gone", "-q")
    assert r.returncode == 0, r.stderr
    assert "b.jpg, analysed then, is no longer in" in r.stderr
    assert not (tmp_path / "gone" / "photos.reanalysed").exists()
    _, rows = read_rows(tmp_path / "gone" / "photos.reanalysed.csv")
    assert {row["file"] for row in rows} == {"b.jpg"}


def _source(fresh: Path) -> Path:
    with np.load(fresh / "people.emocam.npz", allow_pickle=False) as npz:
        return Path(json.loads(str(npz["header"]))["source"])


def test_a_file_that_is_not_a_sidecar_gives_one_sentence(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.npz"
    bogus.write_text("not numbers")
    r = run_emocam("process", "--reanalyse", bogus, "-q")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not an emocam sidecar" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_folder_given_for_the_sidecar_is_called_a_folder(fresh_run: Path) -> None:
    r = run_emocam("process", "--reanalyse", fresh_run, "-q")
    # Before: "The sidecar ... does not exist", of a folder that does.
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "is a folder, not a sidecar" in r.stderr and "people.emocam.npz in it" in r.stderr


def test_a_threshold_below_the_recorded_one_is_recorded_as_the_one_that_held(
    fresh_run: Path, tmp_path: Path
) -> None:
    r = reanalyse(fresh_run, tmp_path, "--threshold", "0.2", "--no-video")
    assert r.returncode == 0, r.stderr
    assert "were never kept" in r.stderr
    s_fresh = json.loads((fresh_run / "people.emocam.json").read_text())
    s_again = json.loads((tmp_path / "people.reanalysed.json").read_text())
    assert s_again["min_score"] == s_fresh["min_score"] == 0.5


def test_a_reanalysis_still_names_the_photos_and_video_the_run_could_not_read(
    image_one_face: Path, video_face_at_edge, model_path: Path, tmp_path: Path
) -> None:
    # Before: the re-analysed summary said "photos: 1, photos_skipped: []" and no
    # input_warning, and its report lost the row naming the damaged photo.
    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg")
    (photos / "d_corrupt.jpg").write_bytes(b"\xff\xd8 not a photo")
    r = run_emocam("process", photos, "-o", tmp_path / "run", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    r = run_emocam("process", "--reanalyse", tmp_path / "run" / "photos.emocam.npz", "-o",
                   tmp_path / "again", "-q")
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "run" / "photos.emocam.json").read_text())
    again = json.loads((tmp_path / "again" / "photos.reanalysed.json").read_text())
    assert again["photos"] == run["photos"] == 2
    assert again["photos_skipped"] == run["photos_skipped"] == ["d_corrupt.jpg"]
    assert "d_corrupt.jpg could not be read" in again["input_warning"]
    assert again["input_warning"] == run["input_warning"]
    report = (tmp_path / "again" / "photos.reanalysed.html").read_text()
    assert "photos that could not be read" in report and "d_corrupt.jpg" in report
    # A video cut short: its re-analysis says so as its run did.
    from sound_helpers import with_sound

    clip = video_face_at_edge
    mkv = with_sound(clip.path, tmp_path / "talk.mkv", "aac",
                     seconds=clip.frame_count / clip.fps)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: int(mkv.stat().st_size * 0.6)])
    r = run_emocam("process", cut, "-o", tmp_path / "cut", "--model", model_path, "-q",
                   "--no-video")
    assert r.returncode == 0, r.stderr
    r = run_emocam("process", "--reanalyse", tmp_path / "cut" / "cut.emocam.npz", "-o",
                   tmp_path / "cut-again", "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "cut-again" / "cut.reanalysed.json").read_text())
    assert "cut.mkv ended at" in summary.get("input_warning", ""), summary
    assert "cut.mkv ended at" in (tmp_path / "cut-again" / "cut.reanalysed.html").read_text()


def test_a_folders_reanalysis_counts_its_photos_as_the_run_did(
    image_one_face: Path, model_path: Path, tmp_path: Path
) -> None:
    # The re-analysis counted the 2 photos read ("2/2 frame"), the run every photo, the
    # broken one too (3/3 photo), as its summary does.
    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg", "c.jpg")
    (photos / "b.jpg").write_bytes(image_one_face.read_bytes()[:300])  # damaged
    r = run_emocam("process", photos, "-o", tmp_path / "run", "--model", model_path,
                   "--no-video", "--no-report")
    assert r.returncode == 0, r.stderr
    r = run_emocam("process", "--reanalyse", tmp_path / "run" / "photos.emocam.npz", "-o",
                   tmp_path / "again", "--no-report")
    assert r.returncode == 0, r.stderr
    bar = [ln for ln in r.stderr.splitlines() if ln.startswith("photos:")]
    assert bar and all("/3 " in ln and "photos/s" in ln for ln in bar), bar
    assert " 3/3 " in bar[-1], bar
