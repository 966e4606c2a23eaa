"""Memory over a long run: N frames through the pipeline in a fresh process, printing JSON.

A process of its own, so the peak is the pipeline's and not what earlier benchmarks left.

    python benchmarks/soak.py VIDEO --frames 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SAMPLES = 40


@dataclass
class SoakResult:
    frames: int
    rss_mib: list[tuple[int, float]]  # (frame index, resident MiB)
    peak_mib: float  # ru_maxrss of the whole process
    clip_frames: int = 0  # decoded frames held in memory and looped
    clip_mib: float = 0.0

    @property
    def warm(self) -> tuple[int, float]:
        """The sample a tenth of the way in: allocations of the first frames are done."""
        return self.rss_mib[len(self.rss_mib) // 10]

    @property
    def growth_mib(self) -> float:
        return self.rss_mib[-1][1] - self.warm[1]

    @property
    def growth_per_1000(self) -> float:
        frames = self.rss_mib[-1][0] - self.warm[0]
        return self.growth_mib / frames * 1000 if frames else 0.0


def soak(video: Path, frames: int) -> SoakResult:
    import psutil
    from speed import FRAME_MS, make_pipeline
    from timing import read_frames

    from emocam.types import Frame

    proc = psutil.Process()
    clip = read_frames(video, 60)
    every = max(1, frames // SAMPLES)
    rss: list[tuple[int, float]] = []
    pipe = make_pipeline()
    try:
        for i in range(frames):
            pipe.process(Frame(clip[i % len(clip)], i, i * FRAME_MS))
            if i % every == 0 or i == frames - 1:
                rss.append((i, proc.memory_info().rss / 2**20))
    finally:
        pipe.close()
    # ru_maxrss is KiB on Linux (bytes on macOS, where this harness is not run).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return SoakResult(frames, rss, peak, len(clip), sum(f.nbytes for f in clip) / 2**20)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", type=Path)
    p.add_argument("--frames", type=int, default=10000)
    a = p.parse_args()
    print(json.dumps(asdict(soak(a.video, a.frames))))


if __name__ == "__main__":
    main()
