"""Memory over a long run: N frames through the pipeline in a fresh process, printing JSON.

A process of its own, so the peak is the pipeline's and not what earlier benchmarks left.

    python benchmarks/soak.py VIDEO --frames 10000
    python benchmarks/soak.py VIDEO --frames 20000 --outputs OUT   # the writers too
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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


def _writers(pipe: Any, video: Path, outdir: Path, frames: int, size: tuple[int, int],
             stack: ExitStack) -> Any:
    """The run's own writers, as `emocam process --no-video` opens them: CSV, JSON summary
    and the sidecar (streamed to disk in chunks)."""
    from emocam.output_set import OutputSet
    from emocam.outputs import OutputRequest, RunFacts, make_folder, output_base, plan_for
    from emocam.run_sinks import RunDescription, open_sinks

    make_folder(outdir)
    plan = plan_for(OutputRequest(outdir=outdir, no_video=True, overwrite=True), "video", [],
                    output_base(video, outdir, False), video)
    outset = stack.enter_context(OutputSet(plan, overwrite=True))
    desc = RunDescription(str(video), pipe.config, overlay=None)
    return open_sinks(plan, outset.writing, desc, pipe, RunFacts(30.0, frames, size), stack)


def soak(video: Path, frames: int, outdir: Path | None = None) -> SoakResult:
    import psutil
    from speed import FRAME_MS, make_pipeline
    from timing import read_frames

    from emocam.types import Frame

    proc = psutil.Process()
    clip = read_frames(video, 60)
    every = max(1, frames // SAMPLES)
    rss: list[tuple[int, float]] = []
    pipe = make_pipeline()
    with ExitStack() as stack:
        h, w = clip[0].shape[:2]
        sinks = _writers(pipe, video, outdir, frames, (w, h), stack) if outdir else None
        try:
            for i in range(frames):
                frame = Frame(clip[i % len(clip)], i, i * FRAME_MS)
                result = pipe.process(frame)
                if sinks is not None:
                    sinks.write(frame, result)
                if i % every == 0 or i == frames - 1:
                    rss.append((i, proc.memory_info().rss / 2**20))
        finally:
            if sinks is not None:
                sinks.finish(True)
            pipe.close()
    # ru_maxrss is KiB on Linux (bytes on macOS, where this harness is not run).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return SoakResult(frames, rss, peak, len(clip), sum(f.nbytes for f in clip) / 2**20)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", type=Path)
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--outputs", type=Path, metavar="DIR",
                   help="also write every frame's results as `emocam process --no-video` "
                   "does (CSV, JSON, sidecar) into DIR")
    a = p.parse_args()
    print(json.dumps(asdict(soak(a.video, a.frames, a.outputs))))


if __name__ == "__main__":
    main()
