"""Outputs that cannot be written, runs that die, files that already exist: nothing processed
is lost, no file is left half-overwritten, and every failure is one sentence."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import emocam_command, photo_folder, run_cli, run_emocam, start_emocam
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import assert_one_sentence, wait_for_rows

from benchmarks.media import SyntheticVideo, four_faces_plan, scaled, write_video
from emocam.csv_sink import CsvSink
from emocam.errors import OutputError
from emocam.staging import staging_path
from emocam.summary import JsonSummary
from emocam.types import FaceResult, Frame, FrameResult
from emocam.video_writer import AnnotatedVideoWriter

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def clip(media_dir: Path) -> SyntheticVideo:
    """Four real faces at 640x360 for 150 frames: long enough to kill a run half-way."""
    return write_video(media_dir / "reliability_clip.mp4", (640, 360),
                       scaled(four_faces_plan(150), 0.5), seed=8)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows and all(len(r) == len(rows[0]) for r in rows), "a row is incomplete"
    return rows


def _rows_after_a_kill(path: Path) -> list[list[str]]:
    """The rows of a CSV whose writer was killed. Each frame's rows go out in one write, but
    Linux may stop a write that SIGKILL interrupts at a page boundary, so the row being
    written may end cut short: that last line is dropped, every row before it is whole."""
    whole = path.read_bytes().rpartition(b"\n")[0]
    rows = list(csv.reader(io.StringIO(whole.decode("utf-8"))))
    assert rows and all(len(r) == len(rows[0]) for r in rows), "a row is incomplete"
    return rows


def _frames_in(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened() and cap.grab():
        n += 1
    cap.release()
    return n


# --- folders and names -----------------------------------------------------------------------


def test_an_output_folder_under_a_regular_file_is_one_sentence(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    run = run_cli(capfd, "process", clip, "-o", blocker / "out", "--model", model_path)
    assert_one_sentence(run, str(blocker / "out"), "cannot be created")


def test_a_csv_sent_to_stdout_is_the_csv_alone_piped_or_redirected(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    args = ("process", image_one_face, "--csv", "/dev/stdout", "--json", tmp_path / "s.json",
            "--no-video", "--no-sidecar", "--overwrite", "--model", model_path)
    piped = run_emocam(*args)
    assert piped.returncode == 0, piped.stderr
    rows = list(csv.reader(io.StringIO(piped.stdout)))
    assert rows[0][:3] == ["frame", "time_ms", "face_id"] and len(rows) == 2  # one face
    assert "wrote" in piped.stderr  # the summary line is not mixed into the CSV
    # Redirected to a file, /dev/stdout is a link to it: written through, never renamed over.
    with open(tmp_path / "out.csv", "w") as fh:
        done = subprocess.run(emocam_command(*args), stdout=fh, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.csv").read_text() == piped.stdout
    assert Path("/dev/stdout").is_symlink() or not Path("/dev/stdout").exists()
    # "-" is standard output too (it wrote a file named "-"), and a pipe needs no --overwrite
    # (it was refused as an output that "already exists").
    dash = run_emocam("process", image_one_face, "--csv", "-", "--json", tmp_path / "d.json",
                      "--no-video", "--no-sidecar", "--model", model_path)
    assert dash.returncode == 0, dash.stderr
    assert dash.stdout == piped.stdout and not Path("-").exists()


def test_a_summary_piped_to_stdout_is_written_and_its_report_kept(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    # Before: the earlier-summary check read /dev/stdout, the pipe's reading end, and waited
    # for good before any work; and the report was left out unsaid.
    run = run_emocam("process", image_one_face, "-o", tmp_path, "--json", "-", "--model",
                     model_path, timeout=60)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["completed"] is True and len(summary["faces"]) == 1
    report = Path(summary["outputs"]["report"])
    assert report.parent == tmp_path and report.is_file()


def test_a_csv_piped_to_a_reader_that_stops_early_is_not_called_a_disk_problem(
    tmp_path: Path, video_one_face: SyntheticVideo, model_path: Path
) -> None:
    proc = start_emocam("process", video_one_face.path, "-o", tmp_path, "--csv", "-",
                        "--no-video", "-q", "--model", model_path)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("frame,")  # as `| head -1` reads it
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 2
    # Before: "(Broken pipe; free some disk space or choose another folder)".
    assert "Broken pipe; the program reading it stopped before the end" in err, err
    assert "disk space" not in err



@pytest.mark.parametrize("jobs", [(), ("--jobs", "2")], ids=["in turn", "on 2 workers"])
def test_runs_whose_lines_meet_a_stopped_reader_go_on_and_end_quietly(
    tmp_path: Path, image_one_face: Path, model_path: Path, jobs: tuple[str, ...]
) -> None:
    """emocam process a.jpg b.jpg c.jpg | head -1: the reader stopped after a line, and the
    lines said what had been written, not what to do. It said "emocam: Broken pipe." with
    status 2, as if the run had failed; then, quiet, it left the later inputs undone."""
    photos = [shutil.copy(image_one_face, tmp_path / f"p{i}.jpg") for i in range(3)]
    proc = start_emocam("process", *photos, "-o", tmp_path / "out", "--model", model_path,
                        *jobs)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err and "exited" not in err, err
    for i in range(3):
        summary = json.loads((tmp_path / "out" / f"p{i}.emocam.json").read_text())
        assert summary["completed"] is True and len(summary["faces"]) == 1


def test_an_output_given_as_a_link_is_replaced_through_the_link(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "results.csv").write_text("an earlier table\n")
    (tmp_path / "latest.csv").symlink_to(shared / "results.csv")
    r = run_emocam("process", image_one_face, "--csv", tmp_path / "latest.csv", "--json",
                   tmp_path / "s.json", "--no-video", "--overwrite", "--model", model_path, "-q")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "latest.csv").is_symlink()
    assert (shared / "results.csv").read_text().startswith("frame,")


def test_an_output_that_is_the_input_is_refused_even_with_overwrite(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    before = clip.path.read_bytes()
    for flag in ("--output-video", "--csv", "--json"):
        run = run_cli(capfd, "process", clip, flag, clip, "--overwrite", "--model", model_path)
        assert_one_sentence(run, "input")
    assert clip.path.read_bytes() == before


def test_a_full_disk_at_the_start_is_one_sentence_and_keeps_the_old_outputs(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("this system has no /dev/full device")
    old_video = tmp_path / "reliability_clip.emocam.mp4"
    old_video.write_bytes(b"the previous result")
    # /dev/full: a real device on which every write fails with ENOSPC.
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--csv", "/dev/full", "--overwrite",
                  "--model", model_path, "-q")
    assert_one_sentence(run, "/dev/full", "No space left on device")
    assert old_video.read_bytes() == b"the previous result"
    assert not staging_path(old_video).exists()
    assert Path("/dev/full").is_char_device()  # written in place, never renamed over


def test_a_disk_full_before_the_first_byte_names_the_output_and_blocks_no_later_run(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # Not even a lock's record fits: the run says which output, and leaves no empty lock
    # for the next run (with the space freed) to take for a live run's.
    full = run_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q",
                      "--no-video", limit_bytes=8)
    assert full.returncode == 2, full.stderr
    lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "reliability_clip.emocam" in lines[0], full.stderr
    assert "disk space" in lines[0]
    assert not list(tmp_path.glob(".*.lock"))
    again = run_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q",
                       "--no-video")
    assert again.returncode == 0, again.stderr


def test_a_disk_that_fills_mid_run_keeps_every_complete_csv_row(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # No sidecar: its file would fill the disk too; this is about the CSV.
    proc = start_emocam("process", clip, "-o", tmp_path, "--no-video", "--no-sidecar", "--model",
                        model_path, "-q", limit_bytes=12_000)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "reliability_clip.emocam.csv" in lines[0], err
    rows = _rows(tmp_path / "reliability_clip.emocam.csv")
    assert len(rows) > 10
    summary = json.loads((tmp_path / "reliability_clip.emocam.json").read_text())
    assert summary["completed"] is False and summary["frames"] >= int(rows[-1][0]) + 1
    # It names the files there are: not the report, left out after the error.
    assert "report" not in summary["outputs"]
    assert all(Path(p).is_file() for p in summary["outputs"].values()), summary["outputs"]


def test_a_report_the_disk_cannot_hold_still_leaves_the_final_summary(
    tmp_path: Path, video_one_face: SyntheticVideo, model_path: Path
) -> None:
    # The CSV and summary fit; the report (tens of KB) does not.
    proc = start_emocam("process", video_one_face.path, "-o", tmp_path, "--no-video",
                        "--no-sidecar", "--model", model_path, "-q", limit_bytes=14_000)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "one_face.emocam.html" in lines[0], err
    summary = json.loads((tmp_path / "one_face.emocam.json").read_text())
    # The final summary, not the checkpoint of the first frame: every frame counted, the
    # set not complete, the report not listed.
    assert summary["frames"] == video_one_face.frame_count
    assert summary["completed"] is False and "report" not in summary["outputs"]


def _one_line(proc: subprocess.Popen[str]) -> str:
    """The one line of error of a run that failed (exit 2), without a traceback."""
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_sidecar_the_full_disk_cannot_start_says_to_free_space_not_to_change_folder_rights(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # Its first file (the header) is larger than the lock records: it is the first refused.
    line = _one_line(start_emocam("process", clip, "-o", tmp_path, "--no-video", "--model",
                                  model_path, "-q", limit_bytes=400))
    assert "reliability_clip.emocam.npz" in line and "cannot be started" in line, line
    assert "free some disk space" in line and "--no-sidecar" in line, line
    assert "write to" not in line, line  # the folder's rights are not the matter
    assert not list(tmp_path.glob(".*.parts")), "an empty working folder was left behind"


def test_a_photo_whose_annotated_copy_the_full_disk_refuses_names_it_and_the_disk(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    # The JSON (2 kB) fits; the annotated copy (tens of kB) does not.
    line = _one_line(start_emocam("process", image_one_face, "-o", tmp_path, "--no-sidecar",
                                  "--no-report", "--model", model_path, "-q",
                                  limit_bytes=8_000))
    copy = tmp_path / "one_face.emocam.jpg"
    assert str(copy) in line and "free some disk space" in line, line
    assert not copy.exists()  # no cut-off picture passed off as a result
    assert "the run stopped after 1 photo," in line, line  # it said "after 1 frame"


def test_a_photo_folder_the_full_disk_stops_counts_its_photos_not_frames(
    tmp_path: Path, image_one_face: Path, model_path: Path
) -> None:
    # Small photos, CSV rows of about 120 bytes: files of 2.6 kB at most fill the CSV after
    # some 20 of 30 photos. The sentence said "the run stopped after 20 frames" of a folder
    # whose bar and summary count photos.
    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(image_one_face)), (320, 240)))
    photos = photo_folder(tmp_path / "photos", small, *[f"{i:02d}.jpg" for i in range(30)])
    line = _one_line(start_emocam("process", photos, "-o", tmp_path / "out", "--no-sidecar",
                                  "--no-report", "--no-video", "--model", model_path, "-q",
                                  limit_bytes=2600))
    said = re.search(r"the run stopped after (\d+) photos, so its outputs are not complete",
                     line)
    assert said and "frame" not in line, line
    summary = json.loads((tmp_path / "out" / "photos.emocam.json").read_text())
    assert summary["completed"] is False and summary["frames"] == int(said.group(1)) < 30


def test_a_disk_full_before_the_video_opens_is_named_not_the_codec(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    """A file-size limit cannot show this: FFmpeg writes the video's header in one call, and a
    short write is not reported until the next, so only a disk that is full refuses it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                            str(disk)], capture_output=True).returncode:
        pytest.skip("needs root, to mount a small disk")
    try:
        # 16 kB left: the locks take a page each, then the video's header finds none.
        (disk / "fill").write_bytes(bytes(48 * 1024))
        for codec in ("mp4v", "h264"):
            line = _one_line(start_emocam("process", clip, "-o", disk / codec, "--no-sidecar",
                                          "--video-codec", codec, "--model", model_path,
                                          "-q"))
            assert str(disk / codec / "reliability_clip.emocam.mp4") in line, line
            assert "No space left on device; free some disk space" in line, line
            assert "codec" not in line, line
            shutil.rmtree(disk / codec)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_folder_in_the_way_on_a_nearly_full_disk_is_named_not_the_disk(
    tmp_path: Path
) -> None:
    """Less than 64 kB free makes a write's unexplained failure the disk's; a failure that
    names its own cause (a folder of the photo's name) is that cause, as on any other disk."""
    from emocam.run_sinks import write_image

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                            str(disk)], capture_output=True).returncode:
        pytest.skip("needs root, to mount a small disk")
    try:
        (disk / "fill").write_bytes(bytes(60 * 1024))
        (disk / "copy.jpg").mkdir()
        with pytest.raises(OutputError) as said:
            write_image(disk / "copy.jpg", np.zeros((32, 32, 3), np.uint8))
        assert "a folder of that name is in the way" in str(said.value), said.value
        assert "free some disk space" not in str(said.value), said.value
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("codec", ["mp4v", "h264"])
def test_a_video_cut_short_by_a_full_disk_is_reported_not_passed_off_as_complete(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, codec: str
) -> None:
    proc = start_emocam("process", clip, "-o", tmp_path, "--no-sidecar", "--model", model_path,
                        "-q", "--video-codec", codec, limit_bytes=100_000)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    # OpenCV's FFmpeg reports nothing (frames are counted at close); PyAV's fails the write.
    assert len(lines) == 1 and "reliability_clip.emocam.mp4" in lines[0], err
    assert "not written completely" in err or "could not be written" in err
    assert "Traceback" not in err


def _run_on_a_small_disk(folder: Path, clip: SyntheticVideo, model_path: Path,
                         limit: int) -> tuple[str, dict]:
    """A run whose files may grow to ``limit`` bytes, as on a disk that fills: its one line
    of error (exit 2) and the summary it left. Every output on, as a user runs it: the
    sidecar and the report come after the video."""
    proc = start_emocam("process", clip, "-o", folder, "--model", model_path, "-q",
                        limit_bytes=limit)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0], json.loads((folder / "reliability_clip.emocam.json").read_text())


def test_a_video_the_disk_cut_short_is_the_error_and_the_summary_claims_no_complete_set(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    line, summary = _run_on_a_small_disk(tmp_path, clip, model_path, 100_000)
    assert "reliability_clip.emocam.mp4" in line
    # Not "completed": a --resume or a batch does this input again; and it lists only the
    # files that were written whole, not the broken video or the report never written.
    assert summary["completed"] is False
    assert "video" not in summary["outputs"] and "report" not in summary["outputs"]
    assert not (tmp_path / "reliability_clip.emocam.html").exists()
    assert {"csv", "json"} <= set(summary["outputs"])
    for path in summary["outputs"].values():
        assert Path(path).is_file(), path


def test_a_disk_that_refuses_everything_mid_run_names_what_stopped_the_run(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # Files of 5.5 kB at most: the CSV and the video fail after some frames. Said is the
    # output that stopped the run, and that the others are cut short: before, only "The
    # summary ... could not be written", as if the rest were whole.
    line, summary = _run_on_a_small_disk(tmp_path, clip, model_path, 5500)
    assert "stopped after" in line and "not complete" in line and "The summary" not in line
    assert summary["completed"] is False


def test_a_disk_that_fills_mid_run_leaves_a_summary_that_agrees_with_the_csv(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # As on a small disk the video fills: the final summary had no room beside the first
    # frame's checkpoint, which was left saying `frames: 1` beside a CSV of many frames, and
    # listing a sidecar and a report never written (a 1 MB tmpfs: 75 frames in the CSV).
    line, summary = _run_on_a_small_disk(tmp_path, clip, model_path, 5500)
    assert "disk space" in line
    said = re.search(r"stopped after (\d+) frames?", line)
    assert said, line
    rows = _rows(tmp_path / "reliability_clip.emocam.csv")[1:]
    assert len(rows) > 4
    assert summary["completed"] is False
    # The sentence, the summary and the CSV count the same frames.
    assert summary["frames"] == int(said.group(1))
    assert summary["frames_with_faces"] == len({r[0] for r in rows})
    # It names only files there are: no sidecar whose chunks the disk could not join.
    for path in summary["outputs"].values():
        assert Path(path).is_file(), summary["outputs"]
    assert "report" not in summary["outputs"] and "sidecar" not in summary["outputs"]
    # A video it lists holds every frame it counts (one was listed with 1 of 12 stored).
    if "video" in summary["outputs"]:
        assert _frames_in(Path(summary["outputs"]["video"])) >= summary["frames"]


def test_a_disk_too_full_for_the_whole_summary_still_leaves_its_counts(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # Files of 3 kB at most: the first frame's rows fit, its summary with four faces does
    # not (before: no summary at all), without their statistics it does, and is said so.
    line = _one_line(start_emocam("process", clip, "-o", tmp_path, "--no-sidecar", "--model",
                                  model_path, "-q", limit_bytes=3000))
    assert "without the faces' statistics" in line, line
    summary = json.loads((tmp_path / "reliability_clip.emocam.json").read_text())
    rows = _rows(tmp_path / "reliability_clip.emocam.csv")[1:]
    assert summary["completed"] is False and summary["faces"] == {}
    assert summary["faces_left_out"] == len({r[2] for r in rows}) > 0
    assert summary["frames_with_faces"] == len({r[0] for r in rows})


def test_a_disk_too_full_for_even_the_summary_says_which_files_are_cut_short(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # Files of 1 kB at most: the first frame's rows fit, no summary does (nor a sidecar's
    # header, refused at the start). The sentence says so and names the files left cut
    # short (before: only the summary's failure).
    line = _one_line(start_emocam("process", clip, "-o", tmp_path, "--no-sidecar", "--model",
                                  model_path, "-q", limit_bytes=1000))
    assert "no summary could be written to the full disk" in line, line
    assert "reliability_clip.emocam.csv" in line.rpartition("disk")[2], line
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob(".*.json*"))


def test_a_device_given_as_an_output_is_not_named_cut_short_by_a_full_disk(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # The CSV thrown away into /dev/null: the disk that fills cuts the video short, and the
    # sentence names that file, not the device (it said "null and ... are cut short").
    line = _one_line(start_emocam("process", clip, "-o", tmp_path, "--no-sidecar", "--csv",
                                  "/dev/null", "--model", model_path, "-q", limit_bytes=1000))
    named = line.rpartition("full disk")[2]
    assert "null" not in named and "reliability_clip.emocam.mp4" in named, line


# --- dying mid-run ---------------------------------------------------------------------------


def test_a_killed_run_leaves_a_readable_csv_and_summary(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    proc = start_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q")
    csv_path = tmp_path / "reliability_clip.emocam.csv"
    wait_for_rows(proc, csv_path, 200)  # 4 faces a frame: 50 frames in
    proc.send_signal(signal.SIGKILL)  # no handler runs: a crash, a power cut
    proc.communicate(timeout=30)
    rows = _rows_after_a_kill(csv_path)
    assert len(rows) > 200
    # The annotated video plays up to its last fragment (one every 12 frames); before, an
    # mp4 without the index its end holds, which no player opened.
    assert _frames_in(tmp_path / "reliability_clip.emocam.mp4") >= 24
    summary = json.loads((tmp_path / "reliability_clip.emocam.json").read_text())
    assert summary["completed"] is False and summary["frames"] >= 1
    # Run again, the set is refused with what to do about a run that did not finish (it
    # said only "already exists; pass --overwrite"), and --resume does it.
    again = run_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q")
    assert again.returncode == 2
    assert "is from a run that did not finish; pass --resume" in again.stderr
    redone = run_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q",
                        "--resume")
    assert redone.returncode == 0, redone.stderr
    assert json.loads((tmp_path / "reliability_clip.emocam.json").read_text())["completed"]


def test_a_stopped_run_into_named_files_is_refused_with_a_flag_that_then_redoes_it(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    # A script's `emocam process clip.mp4 --csv rows.csv --json summary.json`, stopped with
    # Ctrl-C, then run again. Its refusal named --resume, which then refused the named files
    # ("for a batch (--jobs, --dask, --resume), give a folder with -o DIR"): no way on but
    # to guess --overwrite.
    named = ("--csv", tmp_path / "rows.csv", "--json", tmp_path / "summary.json")
    args = ("process", clip, *named, "--no-video", "--model", model_path, "-q")
    proc = start_emocam(*args)
    wait_for_rows(proc, tmp_path / "rows.csv", 40)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    line = assert_one_sentence(run_cli(capfd, *args), "rows.csv", "did not finish")
    flags = [word.rstrip(",.") for word in line.split() if word.startswith("--")]
    assert flags and "--resume" not in flags, line
    for flag in flags:  # each flag the sentence offers does what it says
        redone = run_cli(capfd, *args, flag)
        assert redone.code == 0, redone.err
        assert json.loads((tmp_path / "summary.json").read_text())["completed"] is True


def test_signals_a_run_was_started_to_ignore_stay_ignored_once_its_frames_begin(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    # `nohup emocam process ... &` from a script: deaf to hang-ups (nohup) and to Ctrl-C (a
    # non-interactive shell's background job). Before, both stopped the run once its
    # frames began: a closed terminal ended the nohup run it was meant to outlive.
    proc = start_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q",
                        ignoring=(signal.SIGINT, signal.SIGHUP))
    wait_for_rows(proc, tmp_path / "reliability_clip.emocam.csv", 40)
    for signum in (signal.SIGHUP, signal.SIGINT):
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "reliability_clip.emocam.json").read_text())
    assert summary["completed"] is True and summary["frames"] == clip.frame_count


def test_a_killed_overwrite_leaves_the_old_outputs_intact(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    old = {
        name: f"previous {name}\n".encode()
        for name in ("reliability_clip.emocam.csv", "reliability_clip.emocam.json",
                     "reliability_clip.emocam.mp4")
    }
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    proc = start_emocam("process", clip, "-o", tmp_path, "--overwrite", "--model", model_path, "-q")
    partial = staging_path(tmp_path / "reliability_clip.emocam.csv")
    wait_for_rows(proc, partial, 30)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    for name, data in old.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert len(_rows_after_a_kill(partial)) > 30  # what the dead run processed is still readable


def test_an_overwrite_that_finishes_replaces_every_output_and_leaves_no_partial_file(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    video = write_video(tmp_path / "short.mp4", (320, 180), scaled(four_faces_plan(8), 0.25))
    out = tmp_path / "out"
    out.mkdir()
    names = ("short.emocam.csv", "short.emocam.json", "short.emocam.mp4")
    for name in names:
        (out / name).write_bytes(b"old")
    run = run_cli(capfd, "process", video, "-o", out, "--overwrite", "--model", model_path, "-q")
    assert run.code in (0, 2), run.err  # 2: faces this small may go unseen; outputs still made
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no partial file
    assert _frames_in(out / "short.emocam.mp4") == 8
    assert json.loads((out / "short.emocam.json").read_text())["frames"] == 8


# --- the writers, fuzzed ---------------------------------------------------------------------

NAME = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
    max_size=12,
)
PROB = st.one_of(
    st.floats(0, 1), st.just(math.nan), st.just(math.inf), st.floats(allow_nan=True)
)


@st.composite
def frame_results(draw: st.DrawFn) -> tuple[tuple[str, ...], list[FrameResult]]:
    names = tuple(draw(st.lists(NAME, min_size=2, max_size=5, unique=True)))
    results = []
    for i in range(draw(st.integers(1, 4))):
        faces = []
        for k in range(draw(st.integers(0, 3))):
            probs = np.array(draw(st.lists(PROB, min_size=len(names), max_size=len(names))))
            box = tuple(draw(st.lists(st.floats(-1e4, 1e4), min_size=4, max_size=4)))
            faces.append(FaceResult(k, box, 0.9, probs, probs))
        frame = Frame(np.zeros((2, 2, 3), np.uint8), i, i * 33.3)
        results.append(FrameResult(frame, faces, names))
    return names, results


def _strict_json(text: str) -> object:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=frame_results())
def test_csv_and_json_writers_round_trip_any_probabilities_and_class_names(
    tmp_path_factory: pytest.TempPathFactory, case
) -> None:
    names, results = case
    folder = tmp_path_factory.mktemp("fuzz")
    summary = JsonSummary(folder / "s.json", names, {"input": "ünï"})
    with CsvSink(folder / "r.csv", names) as sink:
        for r in results:
            sink.write(r)
            summary.add(r)
    summary.write(True)
    rows = _rows(folder / "r.csv")
    assert rows[0][7 : 7 + len(names)] == list(names)
    assert len(rows) - 1 == sum(len(r.faces) for r in results)
    written = [float(v) for row in rows[1:] for v in row[7 : 7 + len(names)]]
    expected = [p for r in results for f in r.faces for p in f.probs.tolist()]
    np.testing.assert_allclose(written, expected, atol=5e-5, equal_nan=True)
    data = _strict_json((folder / "s.json").read_text(encoding="utf-8"))
    assert data["class_names"] == list(names) and data["completed"] is True


def _decoded(path: Path) -> list[np.ndarray]:
    """Every frame of a video file, in order."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def test_frames_with_times_are_placed_in_time_in_the_annotated_video(tmp_path: Path) -> None:
    # Frames at 0, 40, 80, 200, 210, 240 ms into a 25 fps file (a slot every 40 ms): the one
    # at 80 ms is repeated until 200 ms; the one at 210 ms, rounded into the slot of the one
    # at 200 ms, goes a slot late, where the one at 240 ms is due and takes its place,
    # rather than pushing every later frame out of step.
    times = [0, 40, 80, 200, 210, 240]
    path = tmp_path / "timed.mp4"
    with AnnotatedVideoWriter(path, 25.0, (64, 48)) as video:
        for i, t in enumerate(times):
            video.write(np.full((48, 64, 3), 30 * (i + 1), np.uint8), float(t))
    levels = [round(float(image.mean()) / 30) for image in _decoded(path)]
    # Slots of 40 ms: 0 -> frame 1, 40 -> 2, 80..160 -> 3 (repeated), 200 -> 4, 240 -> 6.
    assert levels == [1, 2, 3, 3, 3, 4, 6]


def test_a_gap_longer_than_the_writer_keeps_is_cut_and_the_frames_after_keep_their_pace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AnnotatedVideoWriter, "_MAX_REPEAT_S", 1.0)  # stands for 10 minutes
    # 10 fps: three frames, a gap of 5 s, ten frames, and a last one after a pause of 0.8 s.
    times = [0, 100, 200] + [5200 + 100 * i for i in range(10)] + [6900]
    path = tmp_path / "gap.mp4"
    with AnnotatedVideoWriter(path, 10.0, (64, 48)) as video:
        for i, t in enumerate(times):
            video.write(np.full((48, 64, 3), 15 * (i + 1), np.uint8), float(t))
    levels = [round(float(image.mean()) / 15) for image in _decoded(path)]
    # The gap is cut to 1 s (10 slots) and each frame after it is shown once, in its own
    # slot (before: each of them was held for the cap too). The pause before the last frame
    # is kept, and the last frame lasts a frame, not the pause again (before: as long as
    # the step before it).
    assert levels == [1, 2] + [3] * 10 + list(range(4, 13)) + [13] * 8 + [14]


def test_frames_given_to_the_writer_are_each_encoded_with_their_own_overlay(
    tmp_path: Path,
) -> None:
    # `emocam process` hands each frame over with its overlay to paint on the writer's
    # thread. Every frame in the file must carry its own drawing, never a later frame's,
    # and a frame replaced in its time slot is not painted at all.
    times = [0, 40, 80, 200, 210, 240]
    painted: list[int] = []

    def overlay(i: int) -> Callable[[np.ndarray], np.ndarray]:
        def paint(image: np.ndarray) -> np.ndarray:
            painted.append(i)
            image[:, : 8 * (i + 1)] = 250  # a bar as long as the frame's number
            return image
        return paint

    path = tmp_path / "drawn.mp4"
    with AnnotatedVideoWriter(path, 25.0, (64, 48)) as video:
        for i, t in enumerate(times):
            video.write(np.full((48, 64, 3), 10, np.uint8), float(t), render=overlay(i),
                        owned=True)
    bars = [int((image[24, :, 1] > 128).sum()) // 8 - 1 for image in _decoded(path)]
    assert bars == [0, 1, 2, 2, 2, 3, 5]
    assert sorted(painted) == [0, 1, 2, 3, 5]


def test_a_failing_overlay_reaches_the_caller_as_itself_not_as_a_full_disk(
    tmp_path: Path,
) -> None:
    def broken(image: np.ndarray) -> np.ndarray:
        raise ValueError("cannot draw this face")

    path = tmp_path / "broken.mp4"
    with pytest.raises(ValueError, match="cannot draw"), AnnotatedVideoWriter(
        path, 25.0, (64, 48)
    ) as video:
        video.write(np.zeros((48, 64, 3), np.uint8), render=broken, owned=True)
        for _ in range(10):  # the writer's thread reports on a later call, or on closing
            time.sleep(0.05)
            video.write(np.zeros((48, 64, 3), np.uint8))


def test_an_input_whose_output_names_are_too_long_is_refused_before_anything_is_written(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd
) -> None:
    # A downloaded title of 78 Japanese characters: 234 bytes, under the 255 a name may have,
    # but its hidden ".NAME.emocam.json.PID.tmp" was not. Before: the run failed at its last
    # file, leaving a CSV of headers, an empty video and no summary.
    folder = tmp_path / "downloads"
    folder.mkdir()
    title = ("東京の会議で話す宇宙飛行士のインタビュー" * 4)[:78]
    photo = folder / f"{title}{image_one_face.suffix}"
    photo.write_bytes(image_one_face.read_bytes())
    run = run_cli(capfd, "process", photo, "--model", model_path)
    assert_one_sentence(run, "too long", "rename the input shorter", "--csv")
    assert sorted(p.name for p in folder.iterdir()) == [photo.name]


def test_standard_output_sent_to_a_file_is_written_in_place_on_macos_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # macOS's /dev/stdout is a link to fd/1, and /dev/fd/1 is no link: it reads as the file
    # the shell opened. Taken for that file, "--csv - > results.csv" was refused as an
    # output that "already exists", and --overwrite would have staged it inside /dev.
    from emocam import staging
    from emocam.staging import writes_in_place

    dev = tmp_path / "dev"
    monkeypatch.setattr(staging, "DEV_FD", dev / "fd")  # this machine's /dev, as macOS has it
    (dev / "fd").mkdir(parents=True)
    (dev / "fd" / "1").write_text("")  # the file the shell opened, as stat sees it
    (dev / "stdout").symlink_to("fd/1")
    assert writes_in_place(dev / "stdout")
    # An ordinary file is staged as ever, in a folder called fd too (a checkout of the tool).
    elsewhere = tmp_path / "home" / "dev" / "fd" / "results.csv"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text("")
    assert not writes_in_place(elsewhere)
