"""The annotated video's encoders on the benchmark's 720p, 4-face scene: CPU per frame, size
and fidelity (PSNR against the frames given), CPU time of the whole process, alternating rounds.

    python benchmarks/encoders.py [--rounds 3] [--frames 300]

Compares emocam's encoders (``emocam.encoders.open_encoder``, as the product runs them) with
OpenCV's own mp4v writer, which wrote emocam's default videos before they were fragmented
MP4 files, and with the MPEG-4 encoder at other fixed quantisers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from emocam import encoders
from emocam.encoders import open_encoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import Scene, write_scene

Writer = Callable[[Path, list[np.ndarray]], None]


def _opencv_mp4v(path: Path, frames: list[np.ndarray]) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def _emocam(codec: str, quantiser: int | None = None) -> Writer:
    def write(path: Path, frames: list[np.ndarray]) -> None:
        saved = encoders._MPEG4_QUANTISER
        if quantiser is not None:
            encoders._MPEG4_QUANTISER = quantiser
        try:
            h, w = frames[0].shape[:2]
            enc = open_encoder(path, codec, 30.0, (w, h))
            for f in frames:
                enc.write(f)
            enc.release()
        finally:
            encoders._MPEG4_QUANTISER = saved
    return write


def _psnr(path: Path, frames: list[np.ndarray]) -> float:
    cap = cv2.VideoCapture(str(path))
    values = []
    for f in frames:
        ok, got = cap.read()
        if not ok:
            raise RuntimeError(f"{path} holds fewer frames than were written")
        values.append(cv2.PSNR(f, got))
    cap.release()
    return float(np.mean(values))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=300)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    writers: dict[str, Writer] = {
        "OpenCV mp4v (before)": _opencv_mp4v,
        "mp4v, emocam (mpeg4, q 3, fragmented)": _emocam("mp4v"),
        "mpeg4, q 4": _emocam("mp4v", 4),
        "mpeg4, q 5": _emocam("mp4v", 5),
        "h264, emocam (x264 superfast, crf 23, fragmented)": _emocam("h264"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        source = write_scene(Path(tmp) / "scene.mp4", Scene(1280, 720, 4, 150.0, args.frames))
        cap = cv2.VideoCapture(str(source))
        frames = []
        while (got := cap.read())[0]:
            frames.append(got[1])
        cap.release()
        cpu: dict[str, list[float]] = {k: [] for k in writers}
        result: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, write in writers.items():
                out = Path(tmp) / "out.mp4"
                start = time.process_time()
                write(out, frames)
                cpu[name].append((time.process_time() - start) * 1000 / len(frames))
                result[name] = (out.stat().st_size / 1024 / len(frames), _psnr(out, frames))
        print(f"{len(frames)} frames of 1280x720, 4 faces; {args.rounds} alternating rounds\n")
        print("| encoder | CPU ms / frame (median, range) | KiB / frame | PSNR dB |")
        print("|---|---|---|---|")
        for name in writers:
            c = cpu[name]
            kib, psnr = result[name]
            print(f"| {name} | {statistics.median(c):.2f} ({min(c):.2f}-{max(c):.2f}) "
                  f"| {kib:.1f} | {psnr:.1f} |")


if __name__ == "__main__":
    main()
