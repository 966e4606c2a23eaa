"""Training away from TensorFlow: a packed dataset that restores every pixel, a run under the
JAX backend whose checkpoint exports under TensorFlow, a time-limited run, distillation."""

from __future__ import annotations

import csv
import json
import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cli_helpers import run_emocam, start_emocam
from training_helpers import write_ferplus_folders, write_kaggle_csv

from emocam.training.cli import main
from emocam.training.data import load_dataset, load_raw

TINY = ["--set", "model.widths=8,16", "--set", "model.blocks=1,1", "--set", "model.stem=8",
        "--set", "batch_size=16", "--set", "warmup_epochs=0"]


@pytest.fixture(scope="module")
def ferplus(tmp_path_factory) -> Path:
    return write_ferplus_folders(tmp_path_factory.mktemp("fer") / "ferplus", 40, 16)


@pytest.fixture(scope="module")
def pack(ferplus: Path) -> Path:
    out = ferplus.parent / "ferplus.emopack"
    assert main(["-q", "pack", str(ferplus), "-o", str(out), "--splits", "train,valid"]) == 0
    return out


def test_a_pack_restores_every_pixel_and_vote(ferplus, pack):
    raw, packed = load_raw(ferplus), load_raw(pack)
    assert set(packed.splits) == {"train", "valid"}
    for name in ("train", "valid"):
        assert np.array_equal(packed.splits[name].images, raw.splits[name].images)
        assert np.array_equal(packed.splits[name].votes, raw.splits[name].votes)
    a, b = load_dataset(ferplus, "majority"), load_dataset(pack, "majority")
    assert np.array_equal(a.train.targets, b.train.targets)
    assert np.array_equal(a.valid.labels, b.valid.labels)
    assert len(b.test) == 0  # left out on purpose: nothing else stands in for it


def test_a_fer2013_csv_packs_with_its_labels(tmp_path):
    imgs, labels = write_kaggle_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "fer2013.emopack"
    assert main(["-q", "pack", str(tmp_path / "fer2013.csv"), "-o", str(out)]) == 0
    ds = load_dataset(out)
    assert ds.label_mode == "fer2013"
    both = np.concatenate([ds.train.images, ds.valid.images, ds.test.images])
    assert np.array_equal(both, imgs)
    assert np.array_equal(np.concatenate([ds.train.labels, ds.valid.labels, ds.test.labels]),
                          labels)


def test_a_pack_is_never_written_over_the_pack_it_reads(pack, tmp_path, capsys):
    copy = tmp_path / "p.emopack"
    copy.write_bytes(pack.read_bytes())
    # Before: it was replaced by its train split alone, its valid split gone.
    rc = main(["-q", "pack", str(copy), "-o", str(copy), "--splits", "train"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "is the pack being read" in err, err
    assert copy.read_bytes() == pack.read_bytes()


def test_a_damaged_pack_is_one_sentence_naming_it(pack, tmp_path, capsys):
    bad = tmp_path / "bad.emopack"
    bad.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    rc = main(["-q", "train", "--data", str(bad), "--out", str(tmp_path / "run"), *TINY])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and str(bad) in err and "fer-train pack" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_a_misspelt_keras_backend_is_one_sentence_before_the_data_is_read(pack, tmp_path):
    # rebuild imported Keras itself after decoding the data: a ValueError traceback.
    env = {**os.environ, "KERAS_BACKEND": "jaxx"}
    model = Path(__file__).parents[1] / "models" / "emocam-ferplus.onnx"
    r = run_emocam("-q", "rebuild", model, "--data", pack,
                   "--out", tmp_path / "x.keras", tool="fer-train", env=env)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(lines) == 1 and "'jaxx'" in lines[0] and "KERAS_BACKEND" in lines[0], r.stderr


def _one_epoch(pack: Path, run: Path, *settings: str) -> Path:
    """``run``, trained in this process for one epoch of the tiny network."""
    assert main(["-q", "train", "--data", str(pack), "--out", str(run), "--no-export",
                 "--set", "epochs=1", *TINY, *settings]) == 0
    return run


def _history(run: Path) -> list[dict[str, str]]:
    with (run / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


def _running(pids: list[int], module: str) -> bool:
    """Whether one of ``pids`` runs ``module``: started, past the fork before its exec."""
    for pid in pids:
        try:
            if module in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return True
        except OSError:
            continue  # gone already
    return False


@pytest.mark.train
def test_a_jax_run_from_a_pack_exports_under_tensorflow(pack, ferplus, tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    run = tmp_path / "jax-run"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = run_emocam("train", "--data", pack, "--out", run, "--no-export", "--set", "epochs=2",
                      *TINY, tool="fer-train", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "best.keras").is_file() and len(_history(run)) == 2
    # Progress is logged per epoch with the rate, not left to a silent fit.
    assert "images/s" in proc.stderr and "Not exported" in proc.stdout
    # The checkpoint made under JAX converts under TensorFlow (parity is checked on export).
    assert main(["-q", "export", str(run / "best.keras"), "--data", str(ferplus),
                 "--out", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").is_file()
    # Exported from a JAX process, the conversion runs in a TensorFlow child; a terminal's
    # Ctrl-C (to the whole process group) stops it, and is said as a stop whenever it lands:
    # in the child's start, Python's own traceback ended it with status 1.
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").is_file():
        return  # a kernel that lists no children: the child cannot be waited for
    proc = start_emocam("export", run / "best.keras", "--data", ferplus, "--out",
                        tmp_path / "stopped.onnx", tool="fer-train", env=env, new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _running(_children(proc.pid), "emocam.training.cli"):
            break
        time.sleep(0.05)  # polling for the child; there is no event to wait on
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and not (tmp_path / "stopped.onnx").exists(), (
        proc.returncode, err[-2000:])


@pytest.mark.train
def test_a_jax_run_with_a_test_split_ends_exported_and_its_checkpoint_exports_too(
    ferplus, tmp_path
):
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    env = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = tmp_path / "jax-full"
    # Before: a tf2onnx traceback ("Cannot convert a symbolic tf.Tensor") after training and
    # the whole calibration, from train and from export alike.
    proc = run_emocam("train", "--data", ferplus, "--out", run, "--set", "epochs=1", *TINY,
                      tool="fer-train", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "model.onnx").is_file() and (run / "metrics.json").is_file()
    again = run_emocam("export", run / "best.keras", "--data", ferplus, "--out",
                       tmp_path / "again.onnx", tool="fer-train", env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (tmp_path / "again.onnx").is_file() and "Traceback" not in again.stderr


@pytest.mark.train
def test_an_interrupted_run_resumes_where_it_stopped_and_counts_both_sittings(pack, tmp_path):
    pytest.importorskip("jax")
    run = tmp_path / "cut"
    env = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = start_emocam("train", "--data", pack, "--out", run, "--no-export",
                        "--set", "epochs=1000", "--set", "patience=100000", *TINY,
                        tool="fer-train", env=env)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (run / "history.csv").is_file() and len(_history(run)) >= 2:
            break
        time.sleep(0.2)  # polling a file another process writes
    # A kill (Ctrl-C goes the same way; a test run may have been started with it ignored,
    # which fer-train then keeps).
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err, err[-2000:]
    done = len(_history(run))
    first_part = json.loads((run / "wall_time.json").read_text())["seconds"]
    # Resumed for one more epoch: it goes on from the backup, not from epoch 1.
    resumed = run_emocam("train", "--out", run, "--resume", "--no-export",
                         "--set", f"epochs={done + 1}", tool="fer-train", env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    epochs = [int(r["epoch"]) for r in _history(run)]
    assert epochs == list(range(done + 1))
    info = json.loads((run / "train_info.json").read_text())
    # The card's wall time is both sittings' (it was the last one's alone).
    assert info["sittings"] == 2 and info["wall_seconds"] > first_part


@pytest.mark.train
def test_a_resume_goes_on_past_a_run_record_damaged_beyond_json(pack, tmp_path, capsys):
    # Nested 100,000 levels deep, the records a resume reads raised RecursionError (which is
    # no ValueError): a traceback, where a damaged record is otherwise warned of and passed.
    pytest.importorskip("tensorflow")
    run = _one_epoch(pack, tmp_path / "run")
    for name in ("run_info.json", "wall_time.json"):
        (run / name).write_text("[" * 100_000 + "]" * 100_000)
    capsys.readouterr()
    rc = main(["-q", "train", "--out", str(run), "--resume", "--no-export"])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err, err[-2000:]


@pytest.mark.train
def test_a_time_limited_run_stops_in_time_with_its_schedule_annealed(pack, tmp_path):
    pytest.importorskip("tensorflow")
    run = tmp_path / "timed"
    assert main(["-q", "train", "--data", str(pack), "--out", str(run), "--no-export",
                 "--set", "epochs=100000", "--set", "patience=100000",
                 "--set", "time_limit_minutes=0.25", *TINY]) == 0
    rows = _history(run)
    assert 1 <= len(rows) < 1000
    lrs = [float(r["lr"]) for r in rows]
    # Warm-up, then a cosine over the time: the last epoch runs far below the peak.
    assert len(rows) == 1 or lrs[-1] < 0.5 * max(lrs)


@pytest.mark.train
def test_a_student_distils_from_a_teacher_checkpoint(pack, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    teacher = _one_epoch(pack, tmp_path / "teacher")
    student = _one_epoch(pack, tmp_path / "student", "--set",
                         f"teacher={teacher / 'best.keras'}", "--set", "teacher_weight=0.5",
                         "--set", "logit_adjustment=0.5")
    assert (student / "best.keras").is_file()
    # With teacher_flip a teacher's soft target is the same for a face and its mirror image.
    from emocam.training.data import load_dataset
    from emocam.training.train import Teachers

    ds = load_dataset(pack)
    faces = ds.train.images[:8]
    both = Teachers([teacher / "best.keras"], 1.0, ds.class_names, flip=True)
    np.testing.assert_allclose(both.probabilities(faces),
                               both.probabilities(faces[:, :, ::-1].copy()), atol=1e-5)
    plain = Teachers([teacher / "best.keras"], 1.0, ds.class_names)
    assert not np.allclose(plain.probabilities(faces), both.probabilities(faces), atol=1e-4)
    missing = tmp_path / "nowhere.keras"
    rc = main(["-q", "train", "--data", str(pack), "--out", str(tmp_path / "s2"),
               "--no-export", "--set", f"teacher={missing}", *TINY])
    err = capsys.readouterr().err
    assert rc != 0 and str(missing) in err and "Traceback" not in err


def test_a_lease_with_teachers_brought_along_distils_every_student_from_them(tmp_path):
    # No lease minute goes to retraining teachers: every student of both phases learns from
    # the teachers given, one starts from the checkpoint given, and phase 2 continues phase 1.
    from emocam.training.lease import _command, distil_phase1, distil_phase2

    teachers = [tmp_path / "t1.keras", tmp_path / "t2.keras"]
    runs = tmp_path / "runs"
    phase1, phase2 = distil_phase1("shipped.keras"), distil_phase2()
    for job in (*phase1, *phase2):
        cmd = " ".join(_command(job, "d.emopack", runs, 4.0, teachers))
        assert f"teacher={teachers[0]},{teachers[1]}" in cmd, job.name
    starts = {j.name: " ".join(_command(j, "d", runs, 4.0, teachers)) for j in phase1}
    assert "init_weights=shipped.keras" in starts["kd4"]
    assert not any("init_weights" in starts[n] for n in ("kd1", "kd2", "kd3"))
    networks = {j.name: [s for s in j.settings if s.startswith("model.")] for j in phase1}
    for job in phase2:
        cmd = " ".join(_command(job, "d", runs, 4.0, teachers))
        assert f"init_weights={runs / job.name[:-1] / 'best.keras'}" in cmd
        # It continues in its phase-1 network, whichever that was.
        assert [s for s in job.settings if s.startswith("model.")] == networks[job.name[:-1]]
    assert len({tuple(n) for n in networks.values()}) == 2  # the shipped one, and a faster one


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_lease_run_brings_home_checkpoints_that_export(pack, ferplus, tmp_path):
    """The GPU lease's script end to end, on the CPU under JAX, as a lent machine runs it:
    both phases on the clock, each phase's checkpoints in a tar that exports here."""
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")
    import json
    import tarfile

    teacher = tmp_path / "teacher"
    assert main(["-q", "train", "--data", str(pack), "--out", str(teacher), "--no-export",
                 "--set", "epochs=1", *TINY]) == 0
    runs, results = tmp_path / "runs", tmp_path / "results"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    # A run's time limit counts from its start, so a slow start (JAX on a busy 2-core CPU took
    # more than 15 s to load and compile) shortens its schedule instead of overrunning it: a
    # run still going 15 s after its phase's time is stopped.
    proc = run_emocam("--data", pack, "--out", runs, "--results", results, "--minutes", 2.2,
                      "--startup", 15, "--collect", 10, "--split", 0.3, "--teachers",
                      teacher / "best.keras", "--only", "kd1,kd1b", "--train-limit", 32,
                      tool="lease", env=env, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((results / "summary.json").read_text())
    assert set(summary) == {"kd1", "kd1b"}
    logs = "".join(f"\n--- {f.name}\n{f.read_text()[-1500:]}" for f in runs.glob("*.log"))
    assert all(s["code"] == 0 and 0 <= s["best_val_acc"] <= 1 for s in summary.values()), (
        f"{summary}\n{proc.stderr[-1500:]}{logs}")
    # Home: phase 2's tar unpacked is a run folder whose checkpoint exports.
    with tarfile.open(results / "phase2-students.tar") as tar:
        tar.extractall(tmp_path / "home", filter="data")
    assert main(["-q", "export", str(tmp_path / "home" / "kd1b" / "best.keras"), "--data",
                 str(ferplus), "--out", str(tmp_path / "kd1b.onnx")]) == 0
    assert (results / "phase1-students.tar").is_file() and (tmp_path / "kd1b.onnx").is_file()


@pytest.mark.train
def test_a_time_limited_run_resumed_goes_on_down_its_schedule(pack, tmp_path):
    """A lease stopped near its end and resumed: the time limit counted afresh from the
    resume, and the learning rate went back up to its peak for another whole limit."""
    # Long enough that the stop comes before the limit on a loaded machine: with 0.5 min,
    # the first epoch's end was already past it once and the run ended by itself.
    limit_min = 0.8
    pytest.importorskip("jax")
    run = tmp_path / "lease"
    env = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = start_emocam("train", "--data", pack, "--out", run, "--no-export",
                        "--set", "epochs=100000", "--set", "patience=100000",
                        "--set", f"time_limit_minutes={limit_min}", *TINY, tool="fer-train",
                        env=env)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (run / "wall_time.json").is_file() and json.loads(
                (run / "wall_time.json").read_text())["seconds"] >= 12:
            break
        time.sleep(0.2)  # polling a file another process writes
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    before = [float(r["lr"]) for r in _history(run)]
    resumed = run_emocam("train", "--out", run, "--resume", "--no-export", tool="fer-train",
                         env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = [float(r["lr"]) for r in _history(run)][len(before):]
    assert after and after[0] <= before[-1] * 1.05  # on down the cosine, not back at the peak
    wall = json.loads((run / "wall_time.json").read_text())["seconds"]
    assert wall < limit_min * 60 + 20  # one limit for both sittings (an epoch may overrun it)


def test_the_progress_eta_counts_each_epochs_validation(monkeypatch, caplog):
    pytest.importorskip("keras")
    from emocam.training import train

    clock = [1000.0]
    monkeypatch.setattr(train, "time", SimpleNamespace(time=lambda: clock[0]))
    progress = train.progress_callback(epochs=3, steps=10, images=100, every=0.0)
    progress.on_train_begin()
    for epoch in range(2):
        progress.on_epoch_begin(epoch)
        for batch in range(10):
            clock[0] += 1.0  # 10 s of batches
            progress.on_train_batch_end(batch)
        clock[0] += 20.0  # then 20 s of validation
        progress.on_epoch_end(epoch, {})
    with caplog.at_level("INFO", logger="emocam.training.train"):
        progress.on_epoch_begin(2)
        clock[0] += 1.0
        progress.on_train_batch_end(0)
    # The last epoch: 9 s of batches and 20 s of validation left (before: 9 s, a third).
    assert "epoch ends in 29 s" in caplog.text, caplog.text
    with caplog.at_level("INFO", logger="emocam.training.train"):
        clock[0] += 4.0  # 5 of 10 batches in 5 s: from this epoch's own pace from here on
        progress.on_train_batch_end(4)
    assert "epoch ends in 25 s" in caplog.text, caplog.text  # 5 s of batches + 20 s


def test_a_ctrl_c_while_the_export_child_starts_is_no_traceback(capfd, tmp_path):
    # The export under TensorFlow runs in a child; a Ctrl-C from the terminal while its
    # Python started (a second or so of imports) was Python's own KeyboardInterrupt
    # traceback. It starts with Ctrl-C blocked: the Ctrl-C waits for its entry point, and
    # stops it there, as one.
    from emocam.training.tf_child import start_child

    before = signal.getsignal(signal.SIGINT)
    try:
        child = start_child(["evaluate", str(tmp_path / "none.onnx"), "--data", str(tmp_path)],
                            dict(os.environ), deaf=False)
        time.sleep(0.05)  # well inside its Python's start
        child.send_signal(signal.SIGINT)
        rc = child.wait(timeout=120)
    finally:
        signal.signal(signal.SIGINT, before)
    err = capfd.readouterr().err
    assert rc == 130 and "fer-train: interrupted." in err, (rc, err)
    assert "Traceback" not in err, err
