"""`emocam process INPUTS --jobs N`: inputs at once in worker processes, with the same results
as one at a time, a manifest, retries of an input whose worker was killed, --resume, and a
clean stop on Ctrl-C. Real videos of real faces, the real detector and model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import photo_folder, run_cli, run_emocam, skip_unless_installed, start_emocam
from reliability_helpers import assert_one_sentence, wait_for_rows

from benchmarks.media import edge_plan, four_faces_plan, one_face_plan, scaled, write_video
from emocam import cores
from emocam.batch_manifest import MANIFEST_NAME
from emocam.sidecar import load_sidecar

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def short_clips(media_dir: Path) -> list[Path]:
    """Three short videos of real faces, each different."""
    folder = media_dir / "batch"
    folder.mkdir(exist_ok=True)
    plans = {
        "close.mp4": ((640, 360), scaled(one_face_plan(20), 0.5)),
        "four.mp4": ((640, 360), scaled(four_faces_plan(20), 0.5)),
        "edge.mp4": ((640, 480), edge_plan(20)),
    }
    return [write_video(folder / name, size, plan, seed=i).path
            for i, (name, (size, plan)) in enumerate(plans.items())]


@pytest.fixture(scope="module")
def twin_clips(media_dir: Path) -> list[Path]:
    """Two copies of one 150-frame video: long enough to kill a worker half-way, and a
    retried input's rows can be compared with its twin's, which ran once."""
    folder = media_dir / "twins"
    folder.mkdir(exist_ok=True)
    first = write_video(folder / "first.mp4", (640, 360), scaled(four_faces_plan(150), 0.5),
                        seed=8).path
    second = folder / "second.mp4"
    shutil.copyfile(first, second)
    return [first, second]


def _manifest(folder: Path) -> dict[str, dict]:
    data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    return {Path(o["input"]).name: o for o in data["inputs"]} | {"": data}


def _csv(folder: Path, video: Path) -> bytes:
    return (folder / f"{video.stem}.emocam.csv").read_bytes()


def _leftovers(folder: Path) -> list[str]:
    """Locks, partial files and sidecar chunks: what a finished set must not leave."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _kill_the_worker_writing(csv_path: Path) -> int:
    lock = csv_path.with_name(f".{csv_path.name}.lock")
    pid = json.loads(lock.read_text(encoding="utf-8"))["pid"]
    os.kill(pid, signal.SIGKILL)
    return pid


def test_each_worker_gets_its_share_of_the_cores() -> None:
    n = os.cpu_count() or 1
    assert cores.share(1) == n
    assert cores.share(2) == max(1, n // 2)
    assert cores.share(n * 4) == 1


def test_two_workers_write_the_same_csv_rows_as_one_input_at_a_time(
    tmp_path: Path, short_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    one_by_one, batch = tmp_path / "one by one", tmp_path / "batch"
    common = ("--model", model_path, "--no-video", "-q")
    assert run_cli(capfd, "process", *short_clips, "-o", one_by_one, *common).code == 0
    run = run_cli(capfd, "process", *short_clips, "-o", batch, "--jobs", "2", *common)
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    for clip in short_clips:
        assert _csv(batch, clip) == _csv(one_by_one, clip), clip.name
    manifest = _manifest(batch)
    assert manifest[""]["completed"] is True
    workers = set()
    for clip in short_clips:
        line = manifest[clip.name]
        assert line["status"] == "done" and line["attempts"] == 1
        assert line["frames"] == 20 and line["faces"] >= 1 and line["wall_s"] > 0
        workers.add(line["worker"])
    assert len(workers) == 2, workers  # both workers took inputs
    assert _leftovers(batch) == []


def test_a_second_batch_into_the_folder_keeps_the_first_ones_lines_apart(
    tmp_path: Path, short_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    close, four, edge = short_clips
    common = ("-o", tmp_path, "--jobs", "2", "--model", model_path, "--no-video", "--no-report")
    assert run_cli(capfd, "process", close, four, *common, "-q").code == 0
    run = run_cli(capfd, "process", edge, *common)
    assert run.code == 0, run.err
    assert "also keeps the lines of 2 inputs an earlier batch wrote" in run.out
    data = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    # The counts and "completed" are this batch's; the first batch's lines are still there,
    # apart, with paths that lead to their files.
    assert data["counts"] == {"done": 1} and data["completed"] is True
    assert [Path(o["input"]).name for o in data["inputs"]] == ["edge.mp4"]
    kept = {Path(o["input"]).name: o for o in data["earlier_inputs"]}
    assert sorted(kept) == ["close.mp4", "four.mp4"]
    assert all(Path(f).is_file() for o in kept.values() for f in o["outputs"].values())

    # An input run again moves back among the batch's own lines; an input whose outputs
    # were deleted is no longer listed.
    for f in kept["close.mp4"]["outputs"].values():
        Path(f).unlink()
    assert run_cli(capfd, "process", four, *common, "-q", "--overwrite").code == 0
    data = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert [Path(o["input"]).name for o in data["inputs"]] == ["four.mp4"]
    assert [Path(o["input"]).name for o in data["earlier_inputs"]] == ["edge.mp4"]
    # An input another run (not a batch) has since redone with other settings: its line no
    # longer describes its files, and goes (it was kept, with the old figures).
    time.sleep(1.1)  # past the manifest's time, on a clock of whole seconds
    assert run_cli(capfd, "process", edge, *common[:1], tmp_path, *common[4:], "-q",
                   "--overwrite", "--smoothing", "0.5").code == 0
    assert run_cli(capfd, "process", four, *common, "-q", "--overwrite").code == 0
    data = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert "earlier_inputs" not in data


def test_resume_never_takes_another_videos_results_for_an_inputs_own(
    tmp_path: Path, short_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Two folders of "clip.mp4" (a camera's names), or a clip re-exported under its name:
    --resume used to skip the input as done and file the other video's results under it."""
    first, second = tmp_path / "day1" / "clip.mp4", tmp_path / "day2" / "clip.mp4"
    for path, clip in ((first, short_clips[0]), (second, short_clips[1])):
        path.parent.mkdir()
        shutil.copyfile(clip, path)
    out = tmp_path / "out"
    common = ("-o", out, "--jobs", "2", "--model", model_path, "--no-video", "--no-report",
              "-q")
    assert run_cli(capfd, "process", first, *common).code == 0
    summary = (out / "clip.emocam.json").read_bytes()
    # The same file reached through a linked folder is the same input: skipped as done.
    (tmp_path / "link").symlink_to(first.parent)
    run = run_cli(capfd, "process", tmp_path / "link" / "clip.mp4", *common, "--resume")
    assert run.code == 0, run.err
    run = run_cli(capfd, "process", second, *common, "--resume")
    line = assert_one_sentence(run, "clip.emocam.json", str(first), str(second))
    assert "--overwrite" in line
    shutil.copyfile(short_clips[1], first)  # the first clip re-exported under its name
    run = run_cli(capfd, "process", first, *common, "--resume")
    assert_one_sentence(run, "clip.emocam.json", "before it changed")
    assert (out / "clip.emocam.json").read_bytes() == summary  # nothing was filed over it


def test_the_manifest_says_what_of_a_done_input_could_not_be_read(
    tmp_path: Path, short_clips: list[Path], image_one_face: Path, model_path: Path,
    capfd: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copyfile(image_one_face, photos / "1.jpg")
    (photos / "2.jpg").write_bytes(image_one_face.read_bytes()[:300])  # damaged
    run = run_cli(capfd, "process", photos, short_clips[0], "-o", tmp_path / "out", "--jobs",
                  "2", "--model", model_path, "--no-video", "--no-report", "-q")
    assert run.code == 0, run.err
    lines = _manifest(tmp_path / "out")
    assert lines["photos"]["status"] == "done" and "2.jpg" in lines["photos"]["message"]
    assert lines[short_clips[0].name]["message"] == ""  # read whole


def _bar_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.split(":")[0].startswith(("0/", "1/", "2/"))]


@pytest.mark.parametrize("side_by_side", [False, True], ids=["one at a time", "--jobs 2"])
def test_several_inputs_show_which_is_going_and_end_where_their_summaries_do(
    tmp_path: Path, short_clips: list[Path], image_one_face: Path, model_path: Path,
    capfd: pytest.CaptureFixture[str], side_by_side: bool
) -> None:
    # Before: one at a time, each bar named its input alone; on workers, the bar said
    # "0/2 inputs" and not which, and ended at 22/23 (a photo that could not be read was
    # never counted), with no "(1 of 3)" for the folder at the end.
    photos = photo_folder(tmp_path / "photos", image_one_face, "1.jpg", "3.jpg")
    (photos / "2.jpg").write_bytes(image_one_face.read_bytes()[:300])  # damaged
    clip = short_clips[0]  # 20 frames
    jobs = ("--jobs", "2") if side_by_side else ()
    run = run_cli(capfd, "process", clip, photos, "-o", tmp_path / "out", *jobs, "--model",
                  model_path, "--no-video", "--no-report")
    assert run.code == 0, run.err
    bar = _bar_lines(run.err)
    going = [ln.split(":")[1] for ln in bar if "; going: " in ln]
    assert any(clip.name in g for g in going) and any("photos" in g for g in going), bar
    if not side_by_side:
        assert bar[0].startswith(f"0/2 inputs done; going: {clip.name}:"), bar
        assert any(ln.startswith("1/2 inputs done; going: photos:") for ln in bar), bar
    if side_by_side:  # one bar over both: every frame and every photo, counted to the end
        assert bar[-1].startswith("2/2 inputs done:") and " 23/23 " in bar[-1], bar
    else:  # a bar each, of its own frames or photos
        assert " 20/20 " in [ln for ln in bar if clip.name in ln][-1], bar
        assert " 3/3 " in bar[-1] and "photos/s" in bar[-1], bar
    assert "emocam: In photos, 2.jpg could not be read as a photo and was skipped (1 of 3)." \
        in run.err, run.err


@pytest.mark.parametrize("how", [(), ("--jobs", "2"), ("--dask", "local")],
                         ids=["one at a time", "--jobs 2", "--dask local"])
def test_inputs_refused_are_not_counted_done_by_the_bar_nor_the_closing_line(
    tmp_path: Path, short_clips: list[Path], image_one_face: Path, model_path: Path,
    capfd: pytest.CaptureFixture[str], how: tuple[str, ...]
) -> None:
    # One input done already (no --overwrite) and one damaged: before, the bar counted them
    # "finished", going on to "2/3 inputs finished; going: close.mp4" (one at a time) or
    # ending at "2/2 inputs finished" (side by side) beside "1 of 3 inputs processed
    # without a problem".
    if "--dask" in how:
        skip_unless_installed("distributed")
    out = tmp_path / "out"
    common = ("-o", out, "--model", model_path, "--no-video", "--no-report")
    assert run_cli(capfd, "process", image_one_face, *common, "-q").code == 0
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    clip = short_clips[0]
    run = run_cli(capfd, "process", image_one_face, broken, clip, *common, *how)
    assert run.code == 2, run.err
    bar = [ln for ln in run.err.splitlines() if " inputs " in ln.split(":")[0]]
    assert bar and not any("finished" in ln for ln in bar), bar
    if not how:  # a bar of its own for the one input run, saying how the others ended
        assert bar[-1].startswith(f"0/3 inputs done (2 refused); going: {clip.name}:"), bar
    else:  # one bar, over the three to the end
        assert bar[-1].startswith("1/3 inputs done (2 refused):"), bar
    closing = run.err.rpartition("emocam: ")[2]
    assert closing.startswith("1 of 3 inputs processed without a problem; see above for: "), \
        run.err


def test_two_batches_into_one_folder_at_once_both_stay_in_its_manifest(
    tmp_path: Path, twin_clips: list[Path], short_clips: list[Path], model_path: Path,
    capfd: pytest.CaptureFixture[str]
) -> None:
    common = ("-o", tmp_path, "--jobs", "2", "--model", model_path, "--no-video", "-q")
    first = start_emocam("process", *twin_clips, *common)
    wait_for_rows(first, tmp_path / "first.emocam.csv", 5)
    assert run_cli(capfd, "process", short_clips[0], *common).code == 0
    _, err = first.communicate(timeout=200)
    assert first.returncode == 0, err
    data = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    listed = [Path(o["input"]).name for o in [*data["inputs"], *data.get("earlier_inputs", [])]]
    # Whichever batch wrote last, the other's lines are still there.
    assert sorted(listed) == sorted(p.name for p in [*twin_clips, short_clips[0]])


def test_a_worker_killed_mid_input_is_retried_on_another_and_the_batch_completes(
    tmp_path: Path, twin_clips: list[Path], model_path: Path
) -> None:
    first, second = twin_clips
    proc = start_emocam("process", *twin_clips, "-o", tmp_path, "--jobs", "2", "--model",
                        model_path, "--no-video", "-q")
    wait_for_rows(proc, tmp_path / "first.emocam.csv", 30)
    killed = _kill_the_worker_writing(tmp_path / "first.emocam.csv")
    _, err = proc.communicate(timeout=200)
    assert proc.returncode == 0, err
    assert "killed by SIGKILL" in err and "Traceback" not in err
    line = _manifest(tmp_path)["first.mp4"]
    assert line["status"] == "done" and line["attempts"] == 2
    assert f"pid {killed})" not in line["worker"]
    # The retry's set replaced the killed attempt's whole: its rows are its twin's, which
    # ran once, with none of the dead attempt's rows among them.
    assert _csv(tmp_path, first) == _csv(tmp_path, second)
    assert _leftovers(tmp_path) == []


def test_resume_skips_a_done_input_and_redoes_a_partial_one(
    tmp_path: Path, twin_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    first, second = twin_clips
    common = ("-o", tmp_path, "--jobs", "2", "--model", model_path, "--no-video", "-q")
    proc = start_emocam("process", *twin_clips, *common, "--retries", "0")
    wait_for_rows(proc, tmp_path / "first.emocam.csv", 30)
    _kill_the_worker_writing(tmp_path / "first.emocam.csv")
    _, err = proc.communicate(timeout=200)
    assert proc.returncode == 2, err
    manifest = _manifest(tmp_path)
    assert manifest["first.mp4"]["status"] == "failed"
    assert "first.mp4 was not processed" in manifest["first.mp4"]["message"]
    assert manifest["second.mp4"]["status"] == "done"
    done_before = (tmp_path / "second.emocam.csv").stat().st_mtime_ns

    run = run_cli(capfd, "process", *twin_clips, *common[:-1], "--resume")
    assert run.code == 0, run.err
    assert f"{second}: done by an earlier run (its outputs are complete); skipped" in run.out
    manifest = _manifest(tmp_path)
    assert manifest["second.mp4"]["skipped"] is True
    assert manifest["second.mp4"]["status"] == "done"
    assert manifest["first.mp4"]["skipped"] is False
    assert manifest["first.mp4"]["status"] == "done"
    assert (tmp_path / "second.emocam.csv").stat().st_mtime_ns == done_before
    assert _csv(tmp_path, first) == _csv(tmp_path, second)
    assert _leftovers(tmp_path) == []

    # A sidecar damaged since (8 bytes of text) makes its set not complete: redone, where
    # --resume used to skip it.
    (tmp_path / "second.emocam.npz").write_text("damaged!")
    run = run_cli(capfd, "process", *twin_clips, *common[:-1], "--resume")
    assert run.code == 0, run.err
    assert f"{second}: done by an earlier run" not in run.out
    assert (tmp_path / "second.emocam.npz").stat().st_size > 100

    # Resumed with another smoothing, the folder would hold two kinds of results: refused.
    (tmp_path / "first.emocam.html").unlink()
    run = run_cli(capfd, "process", *twin_clips, *common, "--resume", "--smoothing", "0.5")
    line = assert_one_sentence(run, "second.emocam.json", "other settings", "smoothing (s) 0.2, "
                               "not 0.5", "--overwrite")
    assert "first.emocam.json" not in line
    assert not (tmp_path / "first.emocam.html").exists()  # nothing was run
    # So are another detection threshold and another uncertainty threshold.
    run = run_cli(capfd, "process", *twin_clips, *common, "--resume", "--threshold", "0.8",
                  "--uncertain-below", "0.95")
    assert_one_sentence(run, "second.emocam.json", "detection threshold 0.5, not 0.8",
                        "uncertain below 0.5, not 0.95")
    run = run_cli(capfd, "process", *twin_clips, *common, "--resume", "--overwrite")
    assert_one_sentence(run, "--resume", "--overwrite", "give one of them")


def test_ctrl_c_stops_the_batch_with_running_inputs_partial_and_the_manifest_saying_which(
    tmp_path: Path, twin_clips: list[Path], short_clips: list[Path], model_path: Path
) -> None:
    proc = start_emocam("process", *twin_clips, short_clips[0], "-o", tmp_path, "--jobs", "2",
                        "--model", model_path, "--no-video", "--no-report")
    wait_for_rows(proc, tmp_path / "first.emocam.csv", 30)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    # The bar's last words count what the closing line counts: none done, two stopped
    # (before: "2/3 inputs finished", with none of them finished).
    bar = [ln for ln in err.splitlines() if ln.startswith("0/3 inputs ")]
    assert bar and bar[-1].startswith("0/3 inputs done (2 stopped):"), err
    assert "the batch was stopped; 0 of 3 inputs are done" in err, err
    manifest = _manifest(tmp_path)
    assert manifest[""]["stopped"] is True and manifest[""]["completed"] is False
    assert manifest["first.mp4"]["status"] == "partial"
    assert manifest[short_clips[0].name]["status"] == "not started"
    summary = json.loads((tmp_path / "first.emocam.json").read_text(encoding="utf-8"))
    assert summary["completed"] is False
    assert summary["frames"] == manifest["first.mp4"]["frames"] > 0
    rows = _csv(tmp_path, twin_clips[0]).decode().splitlines()
    assert len(rows) > 30 and all(r.count(",") == rows[0].count(",") for r in rows)
    assert not any(n.endswith(".lock") for n in _leftovers(tmp_path))


def test_a_folder_stopped_in_a_batch_counts_its_photos(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    # Before: "stopped in photos after 12 frames", and the manifest "Stopped after 12
    # frames", of a folder whose bar and summary count photos.
    photos = photo_folder(tmp_path / "photos", image_one_face,
                          *[f"{i:02d}.jpg" for i in range(80)])
    out = tmp_path / "out"
    proc = start_emocam("process", photos, "-o", out, "--jobs", "1", "--model", model_path,
                        "--no-video", "--no-report", "-q")
    wait_for_rows(proc, out / "photos.emocam.csv", 5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    entry = _manifest(out)["photos"]
    n = entry["frames"]
    assert entry["status"] == "partial" and 0 < n < 80, entry
    assert entry["message"] == f"Stopped after {n} photos; the results so far were saved.", entry
    assert f"photos after {n} photos; the results so far were saved" in err, err


def test_a_folder_done_in_a_batch_counts_its_photos(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    # Its line said "photos: 3 frames in 1.2 s on local worker 1", beside a bar of photos.
    photos = photo_folder(tmp_path / "photos", image_one_face, "a.jpg", "b.jpg", "c.jpg")
    r = run_emocam("process", photos, "-o", tmp_path / "out", "--jobs", "1", "--model",
                   model_path, "--no-video", "--no-report")
    assert r.returncode == 0, r.stderr
    assert f"{photos}: 3 photos in " in r.stdout, r.stdout


def test_a_second_ctrl_c_lets_the_running_inputs_close_their_outputs_whole(
    tmp_path: Path, twin_clips: list[Path], model_path: Path
) -> None:
    proc = start_emocam("process", *twin_clips, "-o", tmp_path, "--jobs", "2",
                        "--model", model_path, "--no-video", "-q")
    wait_for_rows(proc, tmp_path / "first.emocam.csv", 30)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)  # the workers are stopping, or closing their outputs
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    # Before, the second Ctrl-C killed the workers mid-close: locks, an unjoined sidecar, no
    # report, and the manifest called them failed with 0 frames.
    assert _leftovers(tmp_path) == []
    manifest = _manifest(tmp_path)
    for clip in twin_clips:
        entry = manifest[clip.name]
        assert entry["status"] in ("partial", "done") and entry["frames"] > 0, entry
        sidecar = load_sidecar(tmp_path / f"{clip.stem}.emocam.npz")
        assert sidecar.header["completed"] is (entry["status"] == "done")
        assert (tmp_path / f"{clip.stem}.emocam.html").is_file()


def test_a_third_ctrl_c_never_claims_results_were_saved_when_none_were_closed(
    tmp_path: Path, twin_clips: list[Path], model_path: Path
) -> None:
    proc = start_emocam("process", *twin_clips, "-o", tmp_path, "--jobs", "2",
                        "--model", model_path, "-q")
    wait_for_rows(proc, tmp_path / "first.emocam.csv", 30)
    for _ in range(3):  # the third kills what is still closing its outputs
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    # Before: "the results so far were saved: " naming nothing, for an input whose files
    # were left half closed.
    assert not any(line.rstrip().endswith("were saved:") for line in err.splitlines()), err
    manifest = _manifest(tmp_path)
    for clip in twin_clips:
        entry = manifest[clip.name]
        if not entry["outputs"]:
            assert "--resume" in entry["message"] and clip.name in err, (entry, err)


def test_ctrl_c_during_inputs_one_after_another_names_those_never_started(
    tmp_path: Path, twin_clips: list[Path], model_path: Path
) -> None:
    proc = start_emocam("process", *twin_clips, "-o", tmp_path, "--model", model_path,
                        "--no-video", "-q")
    wait_for_rows(proc, tmp_path / "first.emocam.csv", 30)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"stopped before {twin_clips[1]}; run emocam process on them" in err
    assert not (tmp_path / "second.emocam.csv").exists()


def test_a_folder_where_the_manifest_goes_is_named_as_such_not_as_a_full_disk(
    short_clips: list[Path], tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # It was "The summary .../emocam-batch.json could not be written (Is a directory; free
    # some disk space or choose another folder)": the wrong file and the wrong advice.
    (tmp_path / MANIFEST_NAME).mkdir()
    run = run_cli(capfd, "process", *short_clips[:2], "-o", tmp_path, "--jobs", "2",
                  "--model", model_path, "--no-video", "-q")
    line = assert_one_sentence(run, "batch manifest", MANIFEST_NAME, "folder of that name")
    assert "summary" not in line and "disk space" not in line


def test_jobs_with_a_reanalysis_is_one_sentence(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capfd, "process", "--reanalyse", tmp_path / "x.emocam.npz", "--jobs", "2")
    assert run.code == 2 and "Traceback" not in run.err
    assert run.lines() == ["emocam: --jobs, --dask and --resume process INPUTs; a re-analysis "
                           "is one sidecar, so leave them out."]


def test_dask_without_the_cluster_extra_is_one_sentence_naming_the_install(
    tmp_path: Path, short_clips: list[Path], capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as in the plain install
    run = run_cli(capfd, "process", short_clips[0], "-o", tmp_path, "--dask", "local", "-q")
    assert run.code == 2 and "Traceback" not in run.err
    assert run.lines() == ['emocam: --dask needs Dask, which the plain install leaves out; '
                           'install it with `pip install "emocam[cluster]"`.']


@pytest.mark.parametrize("jobs", [("--jobs", "2"), ()], ids=["jobs", "one-by-one"])
def test_a_video_without_faces_among_others_is_said_and_the_batch_still_ends_well(
    tmp_path: Path, short_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str],
    jobs: tuple[str, ...],
) -> None:
    blank = write_video(tmp_path / "broll.mp4", (320, 240), [[]] * 10).path
    common = ("-o", tmp_path / "out", *jobs, "--model", model_path, "--no-video", "-q")
    run = run_cli(capfd, "process", short_clips[0], blank, *common)
    # Before: refused, exit 2, and every --resume after it exit 2 again: a batch with B-roll
    # in it could never end well.
    assert run.code == 0, run.err
    assert "No face was found in any of the 10 frames" in run.err and "broll.mp4" in run.err
    assert (tmp_path / "out" / "broll.emocam.json").is_file()
    if jobs:
        assert _manifest(tmp_path / "out")["broll.mp4"]["status"] == "done"
    run = run_cli(capfd, "process", short_clips[0], blank, *common, "--resume")
    assert run.code == 0, run.err


@pytest.mark.parametrize("jobs", [("--jobs", "2"), ()], ids=["jobs", "one-by-one"])
def test_a_rerun_without_resume_says_how_to_skip_the_done_inputs_and_resume_then_does(
    tmp_path: Path, short_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str],
    jobs: tuple[str, ...],
) -> None:
    # Without --jobs the inputs run one by one, outside the batch: it said only "already
    # exists; pass --overwrite".
    common = ("-o", tmp_path, *jobs, "--model", model_path, "--no-video", "-q")
    assert run_cli(capfd, "process", *short_clips, *common).code == 0
    done_before = (tmp_path / "close.emocam.csv").stat().st_mtime_ns
    run = run_cli(capfd, "process", *short_clips, *common)
    assert run.code == 2
    assert all(f"{clip} was processed already" in run.err for clip in short_clips)
    assert "--resume to skip the inputs already done" in run.err
    # Before: the refusal ("already exists; pass --overwrite") was kept in the manifest and
    # every later --resume repeated it and ended with status 2.
    if jobs:
        # The forgotten --resume kept the first batch's lines of the inputs it refused: they
        # were replaced by "refused" with 0 frames, and the --resume after it lost their times.
        earlier = json.loads((tmp_path / MANIFEST_NAME).read_text())["earlier_inputs"]
        assert {Path(line["input"]).name for line in earlier} == {c.name for c in short_clips}
    run = run_cli(capfd, "process", *short_clips, *common[:-1], "--resume")
    assert run.code == 0, run.err
    assert all(f"{clip}: done by an earlier run" in run.out for clip in short_clips)
    assert {_manifest(tmp_path)[c.name]["status"] for c in short_clips} == {"done"}
    if jobs:
        assert all(_manifest(tmp_path)[c.name]["wall_s"] > 0 for c in short_clips)
    assert (tmp_path / "close.emocam.csv").stat().st_mtime_ns == done_before


@pytest.mark.parametrize("jobs", [("--jobs", "2"), ()], ids=["jobs", "one-by-one"])
def test_resume_redoes_an_input_whose_outputs_were_emptied_or_cut_since(
    tmp_path: Path, short_clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str],
    jobs: tuple[str, ...],
) -> None:
    common = ("-o", tmp_path, *jobs, "--model", model_path, "--no-video")
    assert run_cli(capfd, "process", *short_clips, *common, "-q").code == 0
    first, second = (c.stem for c in short_clips[:2])
    csv = tmp_path / f"{first}.emocam.csv"
    csv.write_bytes(b"")  # saved over by hand, a copy cut short
    report = tmp_path / f"{second}.emocam.html"
    report.write_bytes(report.read_bytes()[:100])
    run = run_cli(capfd, "process", *short_clips, *common, "--resume")
    assert run.code == 0, run.err
    # Before: both "done by an earlier run (its outputs are complete)", left as they were.
    assert f"{first}.emocam.csv (0 bytes, not" in run.err, run.err
    assert f"{second}.emocam.html (100 bytes, not" in run.err, run.err
    assert len(csv.read_text().splitlines()) > 1
    assert report.stat().st_size > 100


def test_resume_sees_a_folder_of_photos_that_gained_a_photo_and_an_annotated_copy_is_no_photo(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "party"
    photos.mkdir()
    shutil.copyfile(image_one_face, photos / f"a{image_one_face.suffix}")
    common = ("-o", tmp_path / "out", "--model", model_path, "--no-video", "-q")
    # One photo processed on its own first: its annotated copy lands beside it.
    assert run_cli(capfd, "process", photos / f"a{image_one_face.suffix}", "-q",
                   "--model", model_path).code == 0
    assert any(".emocam." in p.name for p in photos.iterdir())
    assert run_cli(capfd, "process", photos, *common, "--resume").code == 0
    summary = json.loads((tmp_path / "out" / "party.emocam.json").read_text())
    assert summary["frames"] == 1  # before: 2, the annotated copy read as one more photo
    run = run_cli(capfd, "process", photos, *common[:-1], "--resume")
    assert run.code == 0 and "done by an earlier run" in run.out
    # A photo added since: before, --resume skipped the folder as done, its new photo unread.
    shutil.copyfile(image_one_face, photos / f"b{image_one_face.suffix}")
    run = run_cli(capfd, "process", photos, *common, "--resume")
    assert_one_sentence(run, "party.emocam.json", "before it changed", "its photos differ now")


def test_resume_carries_on_an_overwrite_with_new_settings_that_was_killed(
    tmp_path: Path, short_clips: list[Path], twin_clips: list[Path], model_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    inputs = [short_clips[0], twin_clips[0], short_clips[2]]
    common = ("-o", tmp_path, "--jobs", "1", "--model", model_path, "--no-video",
              "--no-report", "-q")
    assert run_cli(capfd, "process", *inputs, *common).code == 0  # smoothing 0.2
    first_batch = _manifest(tmp_path)[""]["started"]
    proc = start_emocam("process", *inputs, *common, "--overwrite", "--smoothing", "0.5",
                        new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            manifest = _manifest(tmp_path)
            if (manifest[""]["started"] != first_batch
                    and manifest[inputs[0].name]["status"] == "done"):
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the machine went down mid-batch
    proc.communicate(timeout=60)
    # Before: "first.emocam.json was made with other settings (smoothing (s) 0.2, not 0.5)",
    # status 2, and no way on but --overwrite, redoing the inputs already done.
    run = run_cli(capfd, "process", *inputs, *common, "--resume", "--smoothing", "0.5")
    assert run.code == 0, run.err
    for clip in inputs:
        summary = json.loads((tmp_path / f"{clip.stem}.emocam.json").read_text())
        assert summary["completed"] and summary["smoothing_tau_s"] == 0.5, clip
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("case_blind", [True, False], ids=["macOS/Windows disk", "Linux disk"])
def test_two_inputs_named_alike_but_for_case_into_one_folder_are_refused_where_case_is_ignored(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], image_one_face: Path,
    monkeypatch: pytest.MonkeyPatch, case_blind: bool,
) -> None:
    # On macOS's and Windows' disks out/Interview.emocam.* and out/interview.emocam.* are
    # one set of files: the second input was refused as done already, or replaced the
    # first's results under --overwrite.
    from emocam import process_command

    monkeypatch.setattr(process_command, "CASE_BLIND_DISKS", case_blind)
    for folder, name in (("day1", "Interview.jpg"), ("day2", "interview.jpg")):
        (tmp_path / folder).mkdir()
        shutil.copy(image_one_face, tmp_path / folder / name)
    run = run_cli(capfd, "process", tmp_path / "day1" / "Interview.jpg",
                  tmp_path / "day2" / "interview.jpg", "-o", tmp_path / "out", "--no-video",
                  "--no-report", "-q")
    if case_blind:
        assert_one_sentence(run, "Interview.jpg and", "would write the same outputs")
        assert not (tmp_path / "out").exists()
    else:  # a disk that tells them apart keeps them apart
        assert run.code == 0, run.err


def test_a_video_cut_short_among_several_inputs_is_said_once(
    tmp_path: Path, image_one_face: Path, model_path: Path,
    capfd: pytest.CaptureFixture[str]
) -> None:
    # On workers its sentence came as it was read, and again beside its result line.
    import cv2

    frame = cv2.imread(str(image_one_face))
    whole = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter.fourcc(*"MJPG"), 25.0,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(20):
        writer.write(frame)
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    run = run_cli(capfd, "process", cut, image_one_face, "-o", tmp_path / "out", "--jobs",
                  "2", "--model", model_path, "--no-video", "--no-report")
    assert run.code == 0, run.err
    said = [ln for ln in run.lines() if "of 20 frames" in ln]
    assert len(said) == 1, run.err
