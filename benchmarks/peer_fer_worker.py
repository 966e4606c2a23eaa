"""Runs the `fer` package inside its own venv and prints one JSON object; started by peer_fer.py.

It imports only the standard library, numpy, OpenCV and fer, never emocam, because it runs
on the peer venv's interpreter.

    speed VIDEO --repeats N --workdir DIR [--frames N]
        Video.analyze wall time and a detect_emotions loop over decoded frames, per repeat.
    classify IMAGES.npy OUT.npy
        7-class probabilities of fer's bundled emotion model for (N, 48, 48) uint8 images,
        through its classifier only (no face detector), with both model files it ships.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()  # before the heavy imports: start-up cost belongs to fer

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import cv2  # noqa: E402

# fer 25.10.3's package __init__ no longer exports FER and Video; the submodules do (and
# did in every earlier release).
import fer  # noqa: E402
import numpy as np  # noqa: E402
from fer.classes import Video  # noqa: E402
from fer.fer import FER  # noqa: E402

logging.getLogger("fer").setLevel(logging.ERROR)

# OpenCV 5 wheels ship no Haar files (cv2.data is gone), which is where FER() looks by
# default; fer bundles the same cascade, so it is passed explicitly.
CASCADE = str(Path(fer.__file__).parent / "data" / "haarcascade_frontalface_default.xml")
# What FER() preprocesses a face crop to before its classifier (fer.py: 64x64, [-1, 1]).
FER_INPUT = 64


def versions() -> dict[str, str]:
    import tensorflow as tf

    return {"fer": fer.__version__, "tensorflow": tf.__version__, "opencv": cv2.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}


def read_frames(path: str, limit: int | None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    frames = []
    while limit is None or len(frames) < limit:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def time_analyze(detector: FER, video: str, workdir: Path) -> dict[str, float]:
    """One Video.analyze run: annotated video and CSV out, as `emocam process` writes; no
    per-frame JPEGs (fer's default save_frames=True writes and zips one per frame, which
    emocam does not do)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(workdir)  # to_csv writes data.csv into the working folder
    try:
        v = Video(video, outdir=str(workdir))
        t = time.perf_counter()
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            rows = v.analyze(detector, display=False, output="csv", save_frames=False,
                             save_video=True, annotate_frames=True, zip_images=False)
        seconds = time.perf_counter() - t
    finally:
        os.chdir(cwd)
    return {"seconds": seconds, "frames_with_faces": len(rows or [])}


def time_loop(detector: FER, frames: list[np.ndarray]) -> dict[str, float]:
    """detect_emotions on every decoded frame: detection + classification only."""
    t = time.perf_counter()
    faces = [len(detector.detect_emotions(f)) for f in frames]
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "faces": int(sum(faces))}


def cmd_speed(a: argparse.Namespace) -> dict:
    detector = FER(mtcnn=False, cascade_file=CASCADE)
    detector.detect_emotions(np.full((240, 320, 3), 128, np.uint8))  # load the interpreter
    startup_s = time.perf_counter() - T_START
    frames = read_frames(a.video, a.frames)
    analyze, loop = [], []
    for i in range(a.repeats):
        analyze.append(time_analyze(detector, a.video, Path(a.workdir) / f"run{i}"))
        loop.append(time_loop(detector, frames))
    return {"versions": versions(), "startup_s": startup_s, "frames": len(frames),
            "analyze": analyze, "loop": loop}


def fer_inputs(images: np.ndarray) -> np.ndarray:
    """fer.py's own preprocessing of a gray crop: resize to 64x64, scale to [-1, 1]."""
    x = np.stack([cv2.resize(im, (FER_INPUT, FER_INPUT)) for im in images]).astype(np.float32)
    return (x / 255.0 - 0.5) * 2.0


def cmd_classify(a: argparse.Namespace) -> dict:
    images = np.load(a.images)
    x = fer_inputs(images)
    out: dict = {"versions": versions(), "n": len(images), "models": {}}
    # use_tflite=True is FER()'s default (the quantized .tflite, one face per call);
    # False is the Keras .hdf5 model it also ships.
    for name, tflite in (("tflite", True), ("hdf5", False)):
        det = FER(mtcnn=False, cascade_file=CASCADE, use_tflite=tflite)
        t = time.perf_counter()
        probs = np.concatenate([np.asarray(det._classify_emotions(x[i:i + 256]))
                                for i in range(0, len(x), 256)])
        seconds = time.perf_counter() - t
        path = Path(a.out).with_name(f"{Path(a.out).stem}-{name}.npy")
        np.save(path, probs.astype(np.float32))
        out["models"][name] = {"predictions": str(path), "seconds": seconds}
    out["labels"] = [FER._get_labels()[i] for i in range(7)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("video")
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument("--workdir", required=True)
    s.add_argument("--frames", type=int, default=None)
    c = sub.add_parser("classify")
    c.add_argument("images")
    c.add_argument("out")
    a = p.parse_args()
    result = cmd_speed(a) if a.cmd == "speed" else cmd_classify(a)
    # The last stdout line is the result; TensorFlow may print above it.
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
