"""Writes the four-person clip of docs/screenshot.png: the test suite's two public-domain
portraits (skimage's astronaut, matplotlib's Grace Hopper) composed into a 1280x720 scene,
each face drifting a little (benchmarks/media.py does the composing).

Usage: python docs/crowd_video.py OUT.mp4   (needs the [test] extra: scikit-image)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from media import Placement, render

PEOPLE = [("astronaut", 250, 300, 120), ("hopper", 620, 330, 140),
          ("astronaut", 930, 280, 110), ("hopper", 1110, 520, 120)]


def main(out: str, seconds: float = 8.0, fps: float = 30.0) -> None:
    writer = cv2.VideoWriter(out, cv2.VideoWriter.fourcc(*"mp4v"), fps, (1280, 720))
    for i in range(round(seconds * fps)):
        writer.write(render((1280, 720), [
            Placement(name, x + 8 * math.sin(i / 20 + k), y + 5 * math.cos(i / 25 + k), side,
                      mirror=k % 2 == 1)
            for k, (name, x, y, side) in enumerate(PEOPLE)], seed=7))
    writer.release()


if __name__ == "__main__":
    main(sys.argv[1])
