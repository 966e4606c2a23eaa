"""The peer: the `fer` PyPI package, installed into its own venv and run in a subprocess.

fer needs TensorFlow and would drag facenet-pytorch (and with it torch 2.2 with CUDA, several
GB) into whatever environment it lands in, so it never touches emocam's venv: the harness
builds ``benchmarks/.peer-venv`` (git-ignored) from ``peer-requirements.txt`` on first use
and talks to ``peer_fer_worker.py`` through JSON on stdout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE / ".peer-venv"
REQUIREMENTS = HERE / "peer-requirements.txt"
WORKER = HERE / "peer_fer_worker.py"
# Installed without its dependencies: its facenet-pytorch requirement (for MTCNN, which the
# benchmark does not use) pins torch<2.3, a multi-GB CUDA download. 25.10.3 is the newest
# release; 25.10.2 still imports moviepy 1.x unconditionally.
FER_PIN = "fer==25.10.3"
MARKER = ".emocam-peer"


class PeerError(RuntimeError):
    """The peer venv could not be built or the worker failed."""


@dataclass
class PeerSpeed:
    """fer on one video: per repeat, the start-up of the worker it ran in (interpreter +
    TensorFlow import + FER() + first call), Video.analyze and a per-frame loop."""

    frames: int
    startup_s: list[float]
    analyze_s: list[float]
    loop_s: list[float]
    faces_per_frame: float  # mean over the loops' frames
    versions: dict[str, str]

    @classmethod
    def merge(cls, runs: list[PeerSpeed]) -> PeerSpeed:
        """Runs of separate workers (interleaved with emocam's) as one result."""
        return cls(
            frames=runs[0].frames,
            startup_s=[s for r in runs for s in r.startup_s],
            analyze_s=[t for r in runs for t in r.analyze_s],
            loop_s=[t for r in runs for t in r.loop_s],
            faces_per_frame=sum(r.faces_per_frame for r in runs) / len(runs),
            versions=runs[0].versions,
        )


def _python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _wanted() -> str:
    return hashlib.sha256((REQUIREMENTS.read_text() + FER_PIN).encode()).hexdigest()[:16]


def _pip(py: Path, *args: str) -> None:
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    log.info("%s", " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise PeerError(f"pip failed in the peer venv: {' '.join(args)}\n{r.stderr[-2000:]}")


def ensure_venv(venv_dir: Path = DEFAULT_VENV) -> Path:
    """The peer venv's python, building or rebuilding the venv when the pins changed."""
    py = _python(venv_dir)
    marker = venv_dir / MARKER
    if py.exists() and marker.is_file() and marker.read_text() == _wanted():
        return py
    print(f"building the fer peer venv in {venv_dir} (about 2 GB, once)...", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    _pip(py, "-r", str(REQUIREMENTS))
    _pip(py, "--no-deps", FER_PIN)
    marker.write_text(_wanted())
    return py


def run_worker(py: Path, *args: str, timeout_s: float = 3600) -> dict:
    """Run the worker with ``args``; its last stdout line is the JSON result."""
    r = subprocess.run([str(py), str(WORKER), *args], capture_output=True, text=True,
                       timeout=timeout_s)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        raise PeerError(f"the fer worker failed ({' '.join(args[:2])}):\n{r.stderr[-3000:]}")
    return json.loads(lines[-1])


def speed(py: Path, video: Path, repeats: int, workdir: Path) -> PeerSpeed:
    out = run_worker(py, "speed", str(video), "--repeats", str(repeats),
                     "--workdir", str(workdir))
    frames = out["frames"]
    faces = [r["faces"] for r in out["loop"]]
    return PeerSpeed(
        frames=frames,
        startup_s=[out["startup_s"]] * len(out["analyze"]),  # one worker: paid once
        analyze_s=[r["seconds"] for r in out["analyze"]],
        loop_s=[r["seconds"] for r in out["loop"]],
        faces_per_frame=sum(faces) / max(len(faces) * frames, 1),
        versions=out["versions"],
    )


def classify(py: Path, images_npy: Path, out_npy: Path) -> dict:
    """fer's classifier on saved 48x48 images: ``{"models": {name: {"predictions": path,
    "seconds": s}}, "labels": [...], "versions": {...}}``."""
    return run_worker(py, "classify", str(images_npy), str(out_npy))
