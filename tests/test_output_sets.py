"""A run's outputs are one set: two runs never write into it at once, a failed or stopped
``--overwrite`` leaves the old set whole, and no input is ever an output of the same command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_helpers import CliRun, emocam_command, run_cli, run_emocam, start_emocam
from reliability_helpers import assert_one_sentence, wait_for_rows

from benchmarks.media import SyntheticVideo, four_faces_plan, scaled, write_video
from emocam.locks import lock_path
from emocam.sidecar import load_sidecar
from emocam.staging import staging_path

pytestmark = pytest.mark.timeout(180)

SET = ("clip.emocam.csv", "clip.emocam.json", "clip.emocam.mp4", "clip.emocam.npz")


@pytest.fixture(scope="module")
def clip(media_dir: Path) -> SyntheticVideo:
    """Four real faces at 640x360 for 150 frames: long enough to act while it runs."""
    return write_video(media_dir / "clip.mp4", (640, 360), scaled(four_faces_plan(150), 0.5),
                       seed=8)


@contextmanager
def a_run_writing(clip: SyntheticVideo, folder: Path, model_path: Path
                  ) -> Iterator[subprocess.Popen[str]]:
    """A run of ``clip`` into ``folder``, 20 rows in while the body acts; after it, the run
    must have finished its set whole."""
    run = start_emocam("process", clip, "-o", folder, "--model", model_path, "-q")
    try:
        wait_for_rows(run, folder / "clip.emocam.csv", 20)
        # Held still while the body acts, so a loaded machine cannot let it finish first.
        run.send_signal(signal.SIGSTOP)
        yield run
    finally:
        run.send_signal(signal.SIGCONT)
        _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert json.loads((folder / "clip.emocam.json").read_text())["completed"] is True
    assert load_sidecar(folder / "clip.emocam.npz").header["completed"] is True


def _old_set(folder: Path) -> dict[str, bytes]:
    old = {name: f"the previous {name}\n".encode() for name in SET}
    for name, data in old.items():
        (folder / name).write_bytes(data)
    return old


def test_a_second_run_into_the_same_outputs_is_refused_while_the_first_runs(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    with a_run_writing(clip, tmp_path, model_path) as first:
        second = run_cli(capfd, "process", clip, "-o", tmp_path, "--overwrite",
                         "--model", model_path, "-q")
        line = assert_one_sentence(second, "clip.emocam", "another emocam run",
                                   f"process {first.pid}", socket.gethostname())
        assert "delete" in line  # and what to do when that run is gone
        # Without --overwrite it is told the same at once, not to pass --overwrite first.
        third = run_cli(capfd, "process", clip, "-o", tmp_path, "--model", model_path, "-q")
        line = assert_one_sentence(third, "clip.emocam", f"process {first.pid}")
        assert "--overwrite" not in line
    summary = json.loads((tmp_path / "clip.emocam.json").read_text())
    assert summary["frames"] == clip.frame_count
    assert not list(tmp_path.glob(".*.lock"))  # the first run let go of its outputs


def test_a_sidecar_still_being_written_is_not_reanalysed(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    with a_run_writing(clip, tmp_path, model_path) as run:
        early = run_cli(capfd, "process", "--reanalyse", tmp_path / "clip.emocam.npz", "-o",
                        tmp_path / "early", "-q")
        assert_one_sentence(early, "clip.emocam.npz", "being written", f"process {run.pid}",
                            "wait for it to finish")
    later = run_cli(capfd, "process", "--reanalyse", tmp_path / "clip.emocam.npz", "-o",
                    tmp_path / "later", "-q", "--no-video")
    assert later.code == 0, later.err


def test_the_lock_of_a_killed_run_is_taken_over_by_the_next(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    dead = start_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q")
    wait_for_rows(dead, tmp_path / "clip.emocam.csv", 20)
    dead.send_signal(signal.SIGKILL)  # no handler runs: its locks stay behind
    dead.communicate(timeout=30)
    assert lock_path(tmp_path / "clip.emocam.csv").exists()
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--overwrite", "--model", model_path,
                  "-q")
    assert run.code == 0, run.err
    # Said once for the dead run, naming its outputs, not once per file.
    assert run.err.count("no longer running") == 1, run.err
    assert "clip.emocam.csv" in run.err and "clip.emocam.npz" in run.err
    assert json.loads((tmp_path / "clip.emocam.json").read_text())["completed"] is True
    # Nothing of the dead run is left: no lock, and none of its sidecar chunks.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_overwrite_without_a_sidecar_leaves_none_of_a_killed_runs_chunks(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    dead = start_emocam("process", clip, "-o", tmp_path, "--model", model_path, "-q")
    wait_for_rows(dead, tmp_path / "clip.emocam.csv", 20)
    dead.send_signal(signal.SIGKILL)
    dead.communicate(timeout=30)
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--overwrite", "--no-sidecar",
                  "--model", model_path, "-q")
    assert run.code == 0, run.err
    # The dead run's chunks would be joined into a sidecar beside the new CSV: a mixed set.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert not (tmp_path / "clip.emocam.npz").exists()


def test_a_failed_overwrite_keeps_the_old_set_whole_and_the_new_one_apart(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    old = _old_set(tmp_path)
    proc = start_emocam("process", clip, "-o", tmp_path, "--overwrite", "--no-video", "--model",
                        model_path, "-q", limit_bytes=12_000)  # the disk fills part-way
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    for name, data in old.items():
        assert (tmp_path / name).read_bytes() == data, f"{name} of the old set was touched"
    partial = json.loads(staging_path(tmp_path / "clip.emocam.json").read_text())
    assert partial["completed"] is False and partial["frames"] > 0


def test_ctrl_c_during_an_overwrite_keeps_the_old_set_and_names_the_partial_one(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path
) -> None:
    old = _old_set(tmp_path)
    proc = start_emocam("process", clip, "-o", tmp_path, "--overwrite", "--model", model_path, "-q")
    wait_for_rows(proc, staging_path(tmp_path / "clip.emocam.csv"), 20)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    for name, data in old.items():
        assert (tmp_path / name).read_bytes() == data, f"{name} of the old set was touched"
    partial = {name: staging_path(tmp_path / name) for name in SET}
    assert all(p.exists() for p in partial.values()), err
    assert ".clip.emocam.partial.csv" in err  # the user is told where the new results are
    summary = json.loads(partial["clip.emocam.json"].read_text())
    assert summary["completed"] is False
    # It names its own files, not the old set's it sits beside.
    assert summary["outputs"]["csv"] == str(partial["clip.emocam.csv"])
    assert summary["outputs"]["video"] == str(partial["clip.emocam.mp4"])
    assert load_sidecar(partial["clip.emocam.npz"]).header["completed"] is False


def test_ctrl_c_while_a_finished_overwrite_is_put_in_place_leaves_one_whole_set(
    tmp_path: Path, model_path: Path
) -> None:
    # strace slows each rename down (0.4 s) so that the Ctrl-C lands among them; emocam is
    # unchanged. Before: the video and CSV were the new run's, the summary, sidecar and
    # report the old one's, and --resume took that set as done.
    from network_trace import strace_unusable_reason

    reason = strace_unusable_reason()
    if reason is not None:
        pytest.skip(reason)
    clip = write_video(tmp_path / "clip.mp4", (320, 180), scaled(four_faces_plan(20), 0.25))
    out = tmp_path / "out"
    first = run_emocam("process", clip, "-o", out, "--model", model_path, "-q")
    assert first.returncode == 0, first.stderr
    old = {name: (out / name).read_bytes() for name in SET}
    slow = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
            "-e", "inject=rename,renameat,renameat2:delay_enter=400000"]
    proc = subprocess.Popen(
        [*slow, *emocam_command("process", clip, "-o", out, "--overwrite", "--smoothing",
                                "0.8", "--model", model_path, "-q")],
        stderr=subprocess.PIPE, text=True)
    staged = [staging_path(out / name) for name in SET]
    deadline = time.monotonic() + 120
    seen_all = False
    while True:  # until some staged files are in place and some are still to go
        there = sum(p.exists() for p in staged)
        seen_all = seen_all or there == len(staged)
        if seen_all and 0 < there < len(staged):
            break
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.005)  # polling files another process renames
    emocam_pid = int(subprocess.check_output(["pgrep", "-P", str(proc.pid)]).split()[0])
    os.kill(emocam_pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    # The set is whole, and said so: it was "emocam: interrupted.", status 130.
    assert proc.returncode == 0, err
    assert "Ctrl-C came while the outputs were being closed; they are complete" in err
    new = {name: (out / name).read_bytes() for name in SET}
    assert all(new[name] != old[name] for name in SET), "a file of the old set is still there"
    assert json.loads(new["clip.emocam.json"])["smoothing_tau_s"] == 0.8
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def _a_set_then_an_overwrite_refused(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, refused: object, before: object = None,
) -> tuple[Path, dict[str, bytes], CliRun]:
    """A small clip's outputs, then an --overwrite of them (smoothing 0.8) during which
    ``os.replace`` refuses what ``refused(src, dst)`` says, as Windows refuses a file open
    in another program; ``before(out)`` acts between the two. The folder, the first set's
    bytes and the second run."""
    clip = write_video(tmp_path / "clip.mp4", (320, 180), scaled(four_faces_plan(12), 0.25))
    out = tmp_path / "out"
    first = run_cli(capfd, "process", clip, "-o", out, "--model", model_path, "-q")
    assert first.code == 0, first.err
    old = {name: (out / name).read_bytes() for name in SET}
    if callable(before):
        before(out)
    real_replace = os.replace

    def windows_replace(src: object, dst: object) -> None:
        if callable(refused) and refused(Path(str(src)), Path(str(dst))):
            raise PermissionError(13, "The process cannot access the file because it is "
                                      "being used by another process")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", windows_replace)
    again = run_cli(capfd, "process", clip, "-o", out, "--overwrite", "--smoothing", "0.8",
                    "--model", model_path, "-q")
    monkeypatch.setattr(os, "replace", real_replace)
    return out, old, again


def test_an_overwrite_that_cannot_replace_one_file_keeps_the_whole_old_set(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Windows refuses to move or replace a file another program has open (the CSV in
    # Excel). The files were put in place one by one: the new video stood beside the old
    # CSV, summary and sidecar, and the old summary still said complete.
    held = tmp_path / "out" / "clip.emocam.csv"  # open in a spreadsheet
    out, old, again = _a_set_then_an_overwrite_refused(
        tmp_path, model_path, capfd, monkeypatch, lambda src, dst: held in (src, dst))
    assert_one_sentence(again, str(held), "close it there")
    for name, data in old.items():
        assert (out / name).read_bytes() == data, f"{name} of the old set was replaced"
    # The new set waits whole under the partial names the message gives.
    for name in SET:
        assert str(staging_path(out / name)) in again.err
    staged = json.loads(staging_path(out / "clip.emocam.json").read_text())
    assert staged["completed"] is True and staged["smoothing_tau_s"] == 0.8
    assert not [p.name for p in out.iterdir() if p.name.endswith(".old")]


def test_an_earlier_set_a_killed_commit_had_moved_aside_is_put_back(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run killed between moving the earlier set aside and putting its own in place left
    # no outputs under their names, the earlier ones hidden as .NAME.old for good.
    def killed_in_its_commit(out: Path) -> None:
        for name in SET:  # its own files still under partial names, two old ones aside
            staging_path(out / name).write_bytes(b"the killed run's")
        for name in SET[:2]:
            (out / name).rename(out / f".{name}.old")

    # This run, too, is refused its CSV's place, so that it must keep the earlier set.
    out, old, again = _a_set_then_an_overwrite_refused(
        tmp_path, model_path, capfd, monkeypatch,
        lambda src, dst: dst == tmp_path / "out" / "clip.emocam.csv" and ".partial" in src.name,
        killed_in_its_commit)
    assert again.code == 2 and "put back" in again.err, again.err
    for name, data in old.items():
        assert (out / name).read_bytes() == data, name
    assert not list(out.glob(".*.old"))


def _a_set_all_moved_aside(tmp_path: Path, model_path: Path,
                           capfd: pytest.CaptureFixture[str]
                           ) -> tuple[Path, Path, dict[str, bytes]]:
    """A small clip's outputs, each then moved aside as a commit moves them: the clip, the
    folder and the set's bytes."""
    clip = write_video(tmp_path / "clip.mp4", (320, 180), scaled(four_faces_plan(12), 0.25))
    out = tmp_path / "out"
    assert run_cli(capfd, "process", clip, "-o", out, "--model", model_path, "-q").code == 0
    old = {name: (out / name).read_bytes() for name in SET}
    for name in SET:
        (out / name).rename(out / f".{name}.old")
    return clip, out, old


def test_a_set_a_killed_commit_had_wholly_moved_aside_is_back_before_the_next_run(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:
    # Killed after moving every earlier file aside and before putting any of its own in
    # place, a run left no outputs under their names: the next run, finding none, wrote a
    # new set and the earlier one stayed hidden as .NAME.old for good.
    clip, out, old = _a_set_all_moved_aside(tmp_path, model_path, capfd)
    for name in SET:
        staging_path(out / name).write_bytes(b"the killed run's")
    again = run_cli(capfd, "process", clip, "-o", out, "--model", model_path, "-q")
    assert again.code == 2 and "put back" in again.err and "already exists" in again.err, \
        again.err
    for name, data in old.items():
        assert (out / name).read_bytes() == data, name
    assert not list(out.glob(".*.old"))


def test_a_set_a_killed_commit_had_half_replaced_is_replaced_whole_by_the_next_overwrite(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:
    # Killed after putting one of its own files in place: that folder's set is neither the
    # earlier one nor the killed run's, and an --overwrite replaces it, leaving no .old file.
    clip, out, _ = _a_set_all_moved_aside(tmp_path, model_path, capfd)
    (out / SET[0]).write_bytes(b"the killed run's")
    again = run_cli(capfd, "process", clip, "-o", out, "--overwrite", "--model", model_path,
                    "-q")
    assert again.code == 0, again.err
    assert not list(out.glob(".*.old"))
    assert json.loads((out / "clip.emocam.json").read_text())["completed"] is True


def test_a_glob_beside_an_earlier_runs_outputs_processes_the_videos_alone(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    a = tmp_path / "a.mp4"
    a.write_bytes(clip.path.read_bytes())
    earlier = tmp_path / "a.emocam.mp4"  # an earlier run's annotated copy, beside its video
    earlier.write_bytes(b"the previous annotated copy")
    # What the shell makes of `*.mp4` there, with and without --resume (it was refused).
    run = run_cli(capfd, "process", a, earlier, "--overwrite", "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert "left out" in run.err and "a.emocam.mp4" in run.err
    assert earlier.read_bytes() != b"the previous annotated copy"  # replaced by this run's
    run = run_cli(capfd, "process", a, earlier, "--resume", "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert "left out" in run.err


def test_a_glob_rerun_leaves_an_earlier_runs_outputs_out_and_says_so(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(clip.path.read_bytes())
    (videos / "a.emocam.mp4").write_bytes(clip.path.read_bytes())  # an earlier run's output
    out = tmp_path / "out"
    # What the shell makes of `videos/*.mp4`.
    run = run_cli(capfd, "process", *sorted(videos.glob("*.mp4")), "-o", out, "--no-video",
                  "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert "a.emocam.mp4" in run.err and "left out" in run.err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "a.emocam.csv", "a.emocam.html", "a.emocam.json", "a.emocam.npz"]


def test_an_output_set_written_by_an_interrupted_run_is_not_locked_forever(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    """A lock naming a process of this host that no longer exists is stale at once."""
    for name in SET[:2]:
        lock_path(tmp_path / name).write_text(json.dumps(
            {"pid": 2**22 + 7, "host": socket.gethostname(), "started": time.time()}))
    assert not os.path.exists(f"/proc/{2**22 + 7}")
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--no-video", "--model", model_path,
                  "-q")
    assert run.code == 0, run.err
    assert not list(tmp_path.glob(".*.lock"))


@pytest.mark.parametrize("damage", ["summary nested deeply", "lock of 1e300 seconds",
                                    "batch manifest nested deeply"])
def test_a_damaged_summary_lock_or_manifest_is_one_sentence(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd, damage: str
) -> None:
    # Each was a traceback (RecursionError, OverflowError) where a rerun read it back.
    photo = tmp_path / "face.png"
    photo.write_bytes(image_one_face.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    deep = "[" * 100_000 + "]" * 100_000
    args: list[object] = ["process", photo, "-o", out, "--model", model_path, "-q"]
    if damage == "summary nested deeply":
        (out / "face.emocam.json").write_text(deep)
    elif damage == "lock of 1e300 seconds":
        # Process 1 lives on every host, so the lock holds and its run is described.
        lock_path(out / "face.emocam.json").write_text(json.dumps(
            {"pid": 1, "host": socket.gethostname(), "started": 1e300}))
    else:
        other = tmp_path / "other.png"
        other.write_bytes(image_one_face.read_bytes())
        args = ["process", photo, other, "-o", out, "--model", model_path, "-q", "--jobs",
                "2"]
        assert run_cli(capfd, *args).code == 0
        (out / "emocam-batch.json").write_text(deep)
        args.append("--resume")
    run = run_cli(capfd, *args)
    if damage == "batch manifest nested deeply":
        assert run.code == 0 and "Traceback" not in run.err, run.err
        # The earlier batches' lines it held are lost with it: said, not silently.
        assert run.err.count("emocam-batch.json cannot be read (it is damaged)") == 1, run.err
    else:
        assert_one_sentence(run, str(out / "face.emocam."))


def test_an_overwrite_of_a_folder_of_photos_replaces_its_annotated_folder_whole(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (photos / name).write_bytes(Path(image_one_face).read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (out / "photos.emocam").mkdir()
    (out / "photos.emocam" / "old.jpg").write_bytes(b"an annotated photo of the old set")
    run = run_cli(capfd, "process", photos, "-o", out, "--overwrite", "--model", model_path,
                  "-q")
    assert run.code == 0, run.err
    assert sorted(p.name for p in (out / "photos.emocam").iterdir()) == ["a.jpg", "b.jpg"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # nothing partial


def test_an_annotated_folder_never_takes_files_emocam_did_not_write(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd
) -> None:
    project = tmp_path / "project"
    photos = project / "photos"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(Path(image_one_face).read_bytes())
    (project / "thesis.txt").write_text("a draft\n")
    # The folder that holds the input (and the default CSV and JSON): replacing it whole
    # would take the photos and the draft with it.
    run = run_cli(capfd, "process", photos, "--output-video", project, "--overwrite",
                  "--model", model_path, "-q")
    assert_one_sentence(run, f"{project} holds {photos}", "a folder of their own")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("notes\n")
    for extra in ((), ("--overwrite",)):
        run = run_cli(capfd, "process", photos, "--output-video", mine, *extra, "--model",
                      model_path, "-q")
        assert_one_sentence(run, "mine", "notes.txt", "new or empty folder")
    assert sorted(p.name for p in project.rglob("*")) == ["a.jpg", "photos", "thesis.txt"]
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_an_overwrite_without_a_sidecar_leaves_no_sidecar_of_the_old_set(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    old = _old_set(tmp_path)
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--overwrite", "--no-sidecar",
                  "--no-video", "--model", model_path, "-q")
    assert run.code == 0, run.err
    # The new CSV and JSON would otherwise sit beside the old run's sidecar and video.
    assert not (tmp_path / "clip.emocam.npz").exists()
    assert not (tmp_path / "clip.emocam.mp4").exists()
    assert "removed" in run.err and "clip.emocam.npz" in run.err
    assert (tmp_path / "clip.emocam.csv").read_bytes() != old["clip.emocam.csv"]
    summary = json.loads((tmp_path / "clip.emocam.json").read_text())
    assert summary["completed"] is True and set(summary["outputs"]) == {"csv", "json",
                                                                          "report"}


def test_a_summary_sent_elsewhere_takes_the_old_sets_summary_and_report_away(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    old = _old_set(tmp_path)
    (tmp_path / "clip.emocam.html").write_text("the previous report\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--json", elsewhere / "run.json",
                  "--no-video", "--overwrite", "--model", model_path, "-q")
    assert run.code == 0, run.err
    # The new CSV and sidecar replace the old ones at their names; the old summary, report
    # and video beside them described another run, and go.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip.emocam.csv", "clip.emocam.npz", "elsewhere"]
    assert (tmp_path / "clip.emocam.csv").read_bytes() != old["clip.emocam.csv"]
    assert load_sidecar(tmp_path / "clip.emocam.npz").header["completed"] is True
    assert "removed" in run.err and "clip.emocam.json" in run.err
    assert json.loads((elsewhere / "run.json").read_text())["completed"] is True


def test_the_sidecar_goes_beside_the_csv_the_user_named(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    source = tmp_path / "in" / "clip.mp4"
    source.parent.mkdir()
    source.write_bytes(clip.path.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    run = run_cli(capfd, "process", source, "--csv", out / "my results.csv", "--json",
                  out / "summary.json", "--no-video", "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert [p.name for p in source.parent.iterdir()] == ["clip.mp4"]  # nothing beside it
    assert sorted(p.name for p in out.iterdir()) == [
        "my results.csv", "my results.emocam.npz", "summary.html", "summary.json"]
    assert load_sidecar(out / "my results.emocam.npz").header["completed"] is True


def test_a_lock_left_by_an_earlier_process_with_this_ones_pid_is_stale(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd
) -> None:
    """In a container emocam is often process 1 every time: a lock naming our own pid that
    this process does not hold was left by a run before."""
    for name in SET[:2]:
        lock_path(tmp_path / name).write_text(json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time() - 60}))
    run = run_cli(capfd, "process", clip, "-o", tmp_path, "--no-video", "--model", model_path,
                  "-q")
    assert run.code == 0, run.err
    assert "no longer running" in run.err
    assert not list(tmp_path.glob(".*.lock"))


@pytest.mark.parametrize("system", ["linux", "darwin"])
def test_a_lock_whose_pid_now_belongs_to_another_process_is_stale(
    tmp_path: Path, clip: SyntheticVideo, model_path: Path, capfd,
    monkeypatch: pytest.MonkeyPatch, system: str,
) -> None:
    """The pid of a killed run, given since to another program: that program is alive, but
    it started after the lock was written, so the lock is stale. Without /proc (macOS,
    Windows) the lock recorded no start, and held for good."""
    from types import SimpleNamespace

    from emocam import locks

    monkeypatch.setattr(locks, "sys", SimpleNamespace(platform=system))
    if system != "linux":  # nor has it /proc
        monkeypatch.setattr(locks, "Path", lambda p: Path(p) if not str(p).startswith(
            "/proc/") else tmp_path / "no" / str(p).lstrip("/"))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for name in SET[:2]:
            # What the killed run recorded of itself, on this system.
            started = locks.process_start(os.getpid())
            assert started is not None and started == locks.process_start(os.getpid())
            lock_path(tmp_path / name).write_text(json.dumps(
                {"pid": other.pid, "host": socket.gethostname(), "started": time.time() - 60,
                 "process_start": started}))
        run = run_cli(capfd, "process", clip, "-o", tmp_path, "--no-video",
                      "--model", model_path, "-q")
    finally:
        other.kill()
        other.wait()
    assert run.code == 0, run.err
    assert "no longer running" in run.err


@pytest.mark.parametrize("faces", [True, False], ids=["faces", "no face"])
def test_a_ctrl_c_as_the_first_inputs_outputs_close_starts_no_later_input(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, faces: bool,
) -> None:
    # The Ctrl-C lands while the first input's outputs are closed (sent from there: a person
    # cannot aim that well). Its outputs end complete, and the second input is not started;
    # of an input without a face the stop was dropped and the next input ran.
    import cv2
    import numpy as np

    from emocam import run_sinks

    inputs = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.mp4"
        if faces:
            write_video(path, (320, 180), scaled(four_faces_plan(6), 0.25))
        else:
            w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
            for _ in range(5):
                w.write(np.full((48, 64, 3), 128, np.uint8))
            w.release()
        inputs.append(path)
    finish = run_sinks.RunSinks.finish

    def finish_with_a_ctrl_c(self, *args, **kwargs):
        if "a.mp4" in str(self.plan):
            os.kill(os.getpid(), signal.SIGINT)
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(run_sinks.RunSinks, "finish", finish_with_a_ctrl_c)
    out = tmp_path / "out"
    run = run_cli(capfd, "process", *inputs, "-o", out, "--model", model_path, "-q",
                  "--no-video")
    assert run.code == 130, run.err
    assert "Ctrl-C came" in run.err and "stopped before" in run.err and "b.mp4" in run.err
    assert json.loads((out / "a.emocam.json").read_text())["completed"] is True
    assert not list(out.glob("b.*"))
