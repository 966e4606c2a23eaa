"""Use a GPU machine lent for a few minutes: teachers, then distilled students, in parallel.

    KERAS_BACKEND=jax python -m emocam.training.lease --data FERPLUS.emopack --out RUNS \\
        --minutes 9 [--results DIR]

A lent machine is fast but brief, and the shipped model is tiny: one small CNN uses a sliver
of a modern GPU, so several train side by side, each for a fixed time rather than a fixed
number of epochs (``time_limit_minutes``: the learning rate anneals over the time, counted
from the run's start, so every run ends on a finished schedule, and in time, however fast the
machine is and however long the run took to load its data and teachers).

Phase 1 trains larger teachers and shipped-size students from the labels, all at once.
Phase 2 fine-tunes shipped-size students from the phase-1 students' best weights, with the
teachers' mean softmax blended into their targets (distillation). Model selection stays on
validation accuracy; nothing here reads a test split (a pack made with ``--splits
train,valid`` has none). Each finished phase copies its checkpoints, without optimizer
state, to ``--results``, so a machine taken back early still leaves the earlier phase's models.
Export them where TensorFlow is installed: ``fer-train export RUN/best.keras --data FERPLUS``.

A lease is limited per command (10 minutes on ours), so ``--phase 1`` can spend a whole
command on phase 1 and ``--phase 2`` a second one on phase 2, starting from the run folders
phase 1 left in ``--out`` (on a machine still warm, or with phase 1's tars unpacked there).
Size the second call from the time the lease has left, not from a plan: ours lends 15
minutes in all, the machine's start (a minute or more) and idle time included, and cuts a
command off at what is left, before its tars are written. So: ``--phase 1 --minutes 8``;
then read the time left (the device tool's status) and give ``--phase 2`` a minute less.

Teachers need training only once. With ``--teachers A.keras,B.keras`` (teachers an earlier
lease or CPU run made; the ``best.keras`` in a lease's tar has no optimizer state, a third of
the size, and ``keras.models.load_model(SRC, compile=False).save(DST)`` makes such a copy of
any other) no time goes to them again: phase 1 distils four shipped-size students from
those teachers from the start, one of them from ``--init`` (e.g. the shipped default's
checkpoint), and a fifth in a faster network the shipped weights cannot start
(``ONE_CONV_AT_48``); phase 2 continues each student from its phase-1 best weights under
the same teachers.

The shipped models are such a start: ``fer-train rebuild models/emocam-ferplus-large.onnx
--data FERPLUS --out large.keras`` and ``fer-train rebuild models/emocam-ferplus.onnx ...
--out default.keras`` write their networks as checkpoints (6.2 MB together; teachers must be
``.keras`` files to run on the GPU, and rebuilding here needs no ``onnx`` there), and
``--teachers large.keras --init default.keras`` distils from the first and starts one student
from the second (the large file's mirror is not in its checkpoint: ``teacher_flip`` puts it
back). A JAX smoke run of this (``--only kd4 --train-limit 512``) started from the default's
87.34% validation accuracy.

A lease needs the code, the pack and Keras, not the shipped models, the sample video or the
screenshots. Where a call may send only so many bytes with the repository (ours: 64 MiB, and
the FER+ pack alone is 49 MB), send a checkout without them: commit their removal on a
throw-away branch (``git switch -c lease-slim && git rm -q models/*.onnx assets/*.mp4
docs/*.png && git commit -qm slim``), make the calls from it, then ``git switch main``. That
frees about 16 MB of the 19 MB tree; ignored folders such as the pack's and the wheels' stay
where they are.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("fer-train.lease")

SHIPPED = ["model.widths=16,32,64,128", "model.blocks=2,2,2,2"]
# One convolution at 48x48, where the time goes, and more channels at 6x6, where they are
# cheap: 397,592 parameters, 15% less CPU time than the shipped network (BENCHMARKS, "What a
# wider default network would cost"). It cannot start from shipped weights, so only a lease
# can say whether it keeps the accuracy.
ONE_CONV_AT_48 = ["model.widths=16,32,64,160", "model.blocks=1,2,2,2"]
TEACHER = ["model.widths=32,64,128,256", "model.blocks=2,2,2,2", "model.dropout=0.4"]  # the
# teacher preset's network


@dataclass
class Job:
    name: str
    settings: list[str]
    role: str  # "teacher" or "student"
    init_from: str = ""  # a phase-1 job whose best weights start this one
    extra: list[str] = field(default_factory=list)
    init_weights: str = ""  # a checkpoint brought along that starts this one
    distil: bool = False  # learns from the teachers from its first epoch


def phase1() -> list[Job]:
    return [
        Job("teacher1", [*TEACHER, "seed=11"], "teacher"),
        Job("teacher2", [*TEACHER, "seed=12", "mixup=0.2"], "teacher"),
        Job("teacher3", [*TEACHER, "seed=13", "augment.cutout_prob=0.3"], "teacher"),
        Job("student1", [*SHIPPED, "seed=1"], "student"),
        Job("student2", [*SHIPPED, "seed=2", "mixup=0.2"], "student"),
        Job("student3", [*SHIPPED, "seed=3", "logit_adjustment=0.5"], "student"),
    ]


def phase2() -> list[Job]:
    return [
        Job("distilled1", [*SHIPPED, "seed=21", "teacher_weight=0.7", "learning_rate=1e-3"],
            "student", "student1"),
        Job("distilled2", [*SHIPPED, "seed=22", "teacher_weight=0.7", "learning_rate=1e-3"],
            "student", "student2"),
        Job("distilled3", [*SHIPPED, "seed=23", "teacher_weight=0.7", "learning_rate=1e-3",
                           "logit_adjustment=0.3"], "student", "student3"),
        Job("distilled4", [*SHIPPED, "seed=24", "teacher_weight=0.9", "teacher_temperature=2",
                           "learning_rate=1e-3"], "student", "student1"),
    ]


def distil_phase1(init: str = "") -> list[Job]:
    """Students distilled from teachers brought along (``--teachers``), from the start."""
    return [
        Job("kd1", [*SHIPPED, "seed=41", "teacher_weight=0.7", "teacher_flip=true"], "student",
            distil=True),
        Job("kd2", [*SHIPPED, "seed=42", "teacher_weight=0.9", "teacher_temperature=2"],
            "student", distil=True),
        Job("kd3", [*SHIPPED, "seed=43", "teacher_weight=0.7", "logit_adjustment=0.3"],
            "student", distil=True),
        Job("kd4", [*SHIPPED, "seed=44", "teacher_weight=0.8", "teacher_flip=true",
                    *(["learning_rate=5e-4"] if init else [])],
            "student", init_weights=init, distil=True),
        Job("kd5", [*ONE_CONV_AT_48, "seed=45", "teacher_weight=0.8", "teacher_flip=true"],
            "student", distil=True),
    ]


def _network(settings: list[str]) -> list[str]:
    return [s for s in settings if s.startswith("model.")]


def distil_phase2() -> list[Job]:
    """Each distilled student again from its best weights (so in its own network), a second
    annealed schedule."""
    return [Job(f"{j.name}b", [*_network(j.settings), f"seed={51 + i}", "teacher_weight=0.8",
                               "teacher_flip=true", "learning_rate=5e-4"], "student", j.name,
                distil=True)
            for i, j in enumerate(distil_phase1())]


def _command(job: Job, data: str, runs: Path, minutes: float, teachers: list[Path]) -> list[str]:
    cmd = [sys.executable, "-m", "emocam.training.cli", "train", "--data", data,
           "--out", str(runs / job.name), "--no-export", "--preset", "full",
           "--set", f"time_limit_minutes={minutes}", "--set", "epochs=100000",
           "--set", "patience=100000", "--set", "data_workers=3"]
    settings = list(job.settings)
    if job.init_from:
        settings.append(f"init_weights={runs / job.init_from / 'best.keras'}")
    elif job.init_weights:
        settings.append(f"init_weights={job.init_weights}")
    if teachers and job.role == "student" and (job.init_from or job.distil):
        settings.append("teacher=" + ",".join(str(t) for t in teachers))
    for s in settings:
        cmd += ["--set", s]
    return cmd


def run_phase(jobs: list[Job], data: str, runs: Path, minutes: float, teachers: list[Path],
              grace: float) -> dict[str, int]:
    """Start every job at once; wait until each ends or the phase's deadline passes."""
    env = dict(os.environ)
    procs = {}
    for job in jobs:
        logf = (runs / f"{job.name}.log").open("w")
        procs[job.name] = subprocess.Popen(
            _command(job, data, runs, minutes, teachers), stdout=logf,
            stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + minutes * 60 + grace
    codes: dict[str, int] = {}
    while len(codes) < len(procs):
        for name, p in procs.items():
            if name not in codes and p.poll() is not None:
                codes[name] = p.returncode
                log.info("%s ended with %d", name, p.returncode)
        if time.time() > deadline:
            for name, p in procs.items():
                if name not in codes:
                    log.warning("%s overran the phase; stopping it", name)
                    p.kill()
                    codes[name] = -9
        time.sleep(2)
    return codes


def _slim_copy(src: Path, dst: Path) -> None:
    """The checkpoint without optimizer state (a third of the size), for the trip home."""
    from emocam.training.keras_import import keras_module

    keras_module().models.load_model(src, compile=False).save(dst)


def collect(jobs: list[Job], runs: Path, results: Path, name: str) -> None:
    """A tar per role of the phase's slim checkpoints, configs, histories and logs: a lent
    machine may send back files of limited size (16 MiB on ours; three teachers are 15 MB)."""
    results.mkdir(parents=True, exist_ok=True)
    for role in sorted({j.role for j in jobs}):
        _tar([j for j in jobs if j.role == role], runs, results / f"{name}-{role}s.tar")


def _tar(jobs: list[Job], runs: Path, tar_path: Path) -> None:
    with tarfile.open(tar_path, "w") as tar:
        for job in jobs:
            run = runs / job.name
            if (run / "best.keras").is_file():
                slim = run / "slim.keras"
                try:
                    _slim_copy(run / "best.keras", slim)
                    tar.add(slim, f"{job.name}/best.keras")
                except Exception as e:  # a broken checkpoint must not lose the others
                    log.error("%s: cannot copy its checkpoint (%s)", job.name, e)
            for f in ("config.yaml", "history.csv", "train_info.json", "run_info.json"):
                if (run / f).is_file():
                    tar.add(run / f, f"{job.name}/{f}")
            if (runs / f"{job.name}.log").is_file():
                tar.add(runs / f"{job.name}.log", f"{job.name}/train.log")
    log.info("wrote %s (%.1f MB)", tar_path, tar_path.stat().st_size / 1e6)


def best_val(run: Path) -> float:
    import csv

    hist = run / "history.csv"
    if not hist.is_file():
        return float("nan")
    with hist.open(newline="") as f:
        vals = [float(r["val_acc"]) for r in csv.DictReader(f) if r.get("val_acc")]
    return max(vals) if vals else float("nan")


def _teachers(jobs: list[Job], runs: Path) -> list[Path]:
    """Phase 1's teachers: the slim copies made on this machine, else the checkpoints
    unpacked from phase 1's tars (which hold the slim copies as best.keras)."""
    found = []
    for j in jobs:
        if j.role != "teacher":
            continue
        for name in ("slim.keras", "best.keras"):
            if (runs / j.name / name).is_file():
                found.append(runs / j.name / name)
                break
    return found


def _phase2(jobs1: list[Job], jobs2: list[Job], args: argparse.Namespace, runs: Path,
            results: Path, end: float, given: list[Path]) -> dict[str, dict[str, float]]:
    teachers = given or _teachers(jobs1, runs)
    ready = [j for j in jobs2 if (runs / j.init_from / "best.keras").is_file()]
    m2 = (end - time.time() - args.startup - args.collect) / 60
    if not (teachers and ready and m2 > 0.5):
        log.error("phase 2 skipped: %d teachers, %d students to start from, %.1f min left",
                  len(teachers), len(ready), m2)
        return {}
    t1 = time.time()
    log.info("phase 2: %d students for %.1f min", len(ready), m2)
    codes = run_phase(ready, args.data, runs, m2, teachers, grace=args.startup)
    collect(ready, runs, results, "phase2")
    log.info("phase 2 took %.0f s", time.time() - t1)
    return {j.name: {"code": codes[j.name], "best_val_acc": best_val(runs / j.name)}
            for j in ready}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emocam.training.lease",
                                description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="a .emopack (train,valid) or dataset folder")
    p.add_argument("--out", required=True, help="folder for the run folders")
    p.add_argument("--results", help="where each phase's tar goes (default: --out)")
    p.add_argument("--minutes", type=float, default=9.5,
                   help="wall time of the whole command, both phases (default 9.5)")
    p.add_argument("--split", type=float, default=0.55,
                   help="share of the training time for phase 1 (default 0.55)")
    p.add_argument("--startup", type=float, default=30.0,
                   help="seconds a run may take beyond its time limit, which counts from its "
                        "start: Python starting, and writing its files after training; a run "
                        "still going then is stopped (default 30)")
    p.add_argument("--collect", type=float, default=20.0,
                   help="seconds to keep for copying a phase's results (default 20)")
    p.add_argument("--phase", choices=("both", "1", "2"), default="both",
                   help="run both phases (default), or one for the whole time; phase 2 alone "
                        "starts from phase 1's run folders in --out")
    p.add_argument("--teachers", help="comma-separated .keras teachers brought along: distil "
                                      "students from them instead of training teachers")
    p.add_argument("--init", default="", help="with --teachers: a checkpoint that starts one "
                                              "student (kd4), e.g. the shipped default's")
    p.add_argument("--train-limit", type=int, default=0, help="smoke runs: first N images")
    p.add_argument("--only", help="smoke runs: comma-separated job names to run")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    # Several processes share one GPU: each, this one too, takes memory only as it needs it.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    runs = Path(args.out)
    runs.mkdir(parents=True, exist_ok=True)
    results = Path(args.results) if args.results else runs
    extra = [f"train_limit={args.train_limit}"] if args.train_limit else []
    given = [Path(t) for t in args.teachers.split(",")] if args.teachers else []
    missing = [str(t) for t in (*given, *([Path(args.init)] if args.init else []))
               if not t.is_file()]
    if missing:
        p.error(f"no such checkpoint: {', '.join(missing)}")
    jobs1, jobs2 = (distil_phase1(args.init), distil_phase2()) if given else (phase1(), phase2())
    if args.only:
        keep = set(args.only.split(","))
        jobs1 = [j for j in jobs1 if j.name in keep]
        jobs2 = [j for j in jobs2 if j.name in keep]
    for j in (*jobs1, *jobs2):
        j.settings += extra
    start = time.time()
    end = start + args.minutes * 60
    phases = {"both": 2, "1": 1, "2": 1}[args.phase]
    # Each phase's startup and collection come out of the time; phase 2 gets what phase 1 leaves.
    train_s = args.minutes * 60 - phases * (args.startup + args.collect)
    m1 = max(train_s * (args.split if args.phase == "both" else 1.0), 30.0) / 60
    summary: dict[str, dict[str, float]] = {}

    if args.phase in ("both", "1"):
        log.info("phase 1: %d runs for %.1f min", len(jobs1), m1)
        t0 = time.time()
        codes = run_phase(jobs1, args.data, runs, m1, given, grace=args.startup + 20)
        collect(jobs1, runs, results, "phase1")
        for j in jobs1:
            summary[j.name] = {"code": codes[j.name], "best_val_acc": best_val(runs / j.name)}
        log.info("phase 1 took %.0f s: %s", time.time() - t0, json.dumps(summary))
    if args.phase in ("both", "2"):
        summary.update(_phase2(phase1(), jobs2, args, runs, results, end, given))
    (results / "summary.json").write_text(json.dumps(summary, indent=2))
    for name, s in summary.items():
        log.info("%-11s best validation accuracy %.4f (exit %d)", name, s["best_val_acc"],
                 s["code"])
    shutil.rmtree(runs / ".cache", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
