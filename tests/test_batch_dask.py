"""`emocam process INPUTS --dask local`: a real Dask LocalCluster of two worker processes on
this machine (no mock), giving the same rows as one input at a time, one sentence from a
worker that cannot see an input, and no traffic beyond 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from cli_helpers import run_cli, start_emocam
from reliability_helpers import wait_for_rows

from benchmarks.media import edge_plan, four_faces_plan, one_face_plan, scaled, write_video
from emocam.batch import BatchOptions
from emocam.batch_dask import run_on_dask
from emocam.batch_manifest import MANIFEST_NAME, Outcome
from emocam.process import ProcessOptions

pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> list[Path]:
    folder = media_dir / "dask"
    folder.mkdir(exist_ok=True)
    return [
        write_video(folder / "close.mp4", (640, 360), scaled(one_face_plan(20), 0.5)).path,
        write_video(folder / "edge.mp4", (640, 480), edge_plan(20), seed=3).path,
    ]


def test_a_local_cluster_of_two_workers_writes_the_same_rows_as_one_input_at_a_time(
    tmp_path: Path, clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    one_by_one, cluster = tmp_path / "one by one", tmp_path / "cluster"
    common = ("--model", model_path, "--no-video", "-q")
    assert run_cli(capfd, "process", *clips, "-o", one_by_one, *common).code == 0
    run = run_cli(capfd, "process", *clips, "-o", cluster, "--dask", "local", *common)
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    if importlib.util.find_spec("bokeh") is not None:
        assert "Dask dashboard: http://127.0.0.1:" in run.err
    else:  # a link to nothing would be worse than none
        assert "no Dask dashboard: it needs bokeh" in run.err and "http" not in run.err
    for clip in clips:
        name = f"{clip.stem}.emocam.csv"
        assert (cluster / name).read_bytes() == (one_by_one / name).read_bytes(), name
    manifest = json.loads((cluster / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["completed"] is True
    for line in manifest["inputs"]:
        assert line["status"] == "done" and line["frames"] == 20
        assert line["worker"].startswith("Dask worker tcp://127.0.0.1:")


def test_a_worker_that_cannot_see_an_input_says_so_in_one_sentence(
    tmp_path: Path, clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A path the cluster's workers do not have: on a real cluster, a disk only the client has.
    unseen = tmp_path / "on the laptop only" / "interview.mp4"
    run = run_cli(capfd, "process", clips[0], unseen, "-o", tmp_path / "out", "--dask", "local",
                  "--model", model_path, "--no-video", "-q")
    assert run.code == 2 and "Traceback" not in run.err
    said = [ln for ln in run.lines() if str(unseen) in ln and "cannot be seen" in ln]
    assert len(said) == 1, run.err
    assert said[0].startswith(f"emocam: The input {unseen} cannot be seen from Dask worker "
                              "tcp://127.0.0.1:")
    assert said[0].endswith("inputs and outputs must be on a filesystem every worker shares.")
    manifest = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text(encoding="utf-8"))
    statuses = {Path(o["input"]).name: o["status"] for o in manifest["inputs"]}
    assert statuses == {clips[0].name: "done", "interview.mp4": "refused"}


def _inet_endpoints() -> list[str]:
    """Every address this process and its children (scheduler, nannies, workers) have a
    socket on, local and remote."""
    found = []
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            conns = p.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            found += [a.ip for a in (c.laddr, c.raddr) if a]
    return found


def test_every_socket_of_a_local_cluster_stays_on_127_0_0_1(
    tmp_path: Path, clips: list[Path], model_path: Path
) -> None:
    seen: list[str] = []

    def while_running(_outcome: Outcome) -> None:
        seen.extend(_inet_endpoints())  # the cluster is up and working on the other input

    opts = ProcessOptions(input=clips[0], outdir=tmp_path, no_video=True, progress=False)
    opts = replace(opts, pipeline=replace(opts.pipeline, model_path=model_path))
    bopts = BatchOptions(inputs=clips, options=opts, jobs=2, progress=False)
    manifest = run_on_dask(bopts, "local", while_running)
    assert manifest.all_done
    assert seen, "no socket was seen while the cluster ran"
    assert set(seen) == {"127.0.0.1"}, seen


def test_a_scheduler_address_that_does_not_answer_is_one_sentence(
    tmp_path: Path, clips: list[Path], capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capfd, "process", clips[0], "-o", tmp_path, "--dask", "scheduler-without-port",
                  "-q")
    assert run.code == 2 and "Traceback" not in run.err
    assert len(run.lines()) == 1, run.err
    assert run.lines()[0].startswith("emocam: The Dask scheduler at scheduler-without-port "
                                     "cannot be reached (")
    assert not (tmp_path / MANIFEST_NAME).exists()  # nothing ran, so nothing to record


def test_a_dask_worker_killed_mid_input_is_replaced_and_its_input_retried_whole(
    tmp_path: Path, model_path: Path
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    first = write_video(inputs / "long.mp4", (640, 360), scaled(four_faces_plan(150), 0.5),
                        seed=8).path
    second = inputs / "long twin.mp4"
    shutil.copyfile(first, second)
    proc = start_emocam("process", first, second, "-o", out, "--dask", "local", "--model",
                        model_path, "--no-video", "-q")
    csv_path = out / "long.emocam.csv"
    wait_for_rows(proc, csv_path, 30)
    lock = csv_path.with_name(f".{csv_path.name}.lock")
    os.kill(json.loads(lock.read_text(encoding="utf-8"))["pid"], signal.SIGKILL)
    _, err = proc.communicate(timeout=200)
    assert proc.returncode == 0, err
    line = {Path(o["input"]).name: o for o in json.loads(
        (out / MANIFEST_NAME).read_text(encoding="utf-8"))["inputs"]}["long.mp4"]
    assert line["status"] == "done" and line["attempts"] == 2
    # The retry's set replaced the dead attempt's whole: the rows of its twin, which ran once.
    assert csv_path.read_bytes() == (out / "long twin.emocam.csv").read_bytes()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_ctrl_c_in_the_terminal_stops_a_local_cluster_batch_with_its_inputs_partial(
    tmp_path: Path, model_path: Path
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    long = write_video(inputs / "long.mp4", (640, 360), scaled(four_faces_plan(150), 0.5),
                       seed=8).path
    # Its own session: Ctrl-C in a terminal reaches the whole process group, the cluster's
    # worker processes included, and so does this SIGINT.
    proc = start_emocam("process", long, "-o", out, "--dask", "local", "--model", model_path,
                        "--no-video", "-q", new_session=True)
    wait_for_rows(proc, out / "long.emocam.csv", 20)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["stopped"] is True
    assert [o["status"] for o in manifest["inputs"]] == ["partial"]
    summary = json.loads((out / "long.emocam.json").read_text(encoding="utf-8"))
    assert summary["completed"] is False and summary["frames"] == manifest["inputs"][0]["frames"]


def test_a_dask_batch_shows_which_inputs_are_going_and_their_frames_as_they_run(
    tmp_path: Path, clips: list[Path], model_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the bar said "0/2 inputs" and moved only as inputs ended, never naming them.
    # An input of a few seconds on one worker: its frames reach the bar once a second while
    # it runs, and a bar line every 0.2 s (30 s in a log) shows them.
    monkeypatch.setattr("emocam.progress.LINE_EVERY_S", 0.2)
    n = 150  # some 3 s: two or three reports while it runs
    first = write_video(tmp_path / "first.mp4", (640, 360), scaled(one_face_plan(n), 0.5)).path
    run = run_cli(capfd, "process", first, clips[0], "-o", tmp_path / "out", "--dask", "local",
                  "--jobs", "1", "--model", model_path, "--no-video", "--no-report")
    assert run.code == 0, run.err
    bar = [ln for ln in run.lines() if ln[:4] in ("0/2 ", "1/2 ", "2/2 ")]
    going = " ".join(ln.split(":")[1] for ln in bar if "; going: " in ln)
    assert all(name in going for name in (first.name, clips[0].name)), bar
    # Mid-way through the first input (none finished yet), the bar had moved on.
    mid = [int(m.group(1)) for ln in bar
           if ln.startswith("0/2 inputs done; going: first.mp4:")
           and (m := re.search(r"\| (\d+)/\d+ \[", ln))]
    assert any(0 < count < n for count in mid), bar
    assert bar[-1].startswith("2/2 inputs done:") and f" {n + 20}/{n + 20} " in bar[-1], bar
