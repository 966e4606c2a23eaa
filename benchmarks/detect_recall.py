"""Recall and speed of the face detectors on real-face test videos with ground truth.

    python benchmarks/detect_recall.py                       # every configuration
    python benchmarks/detect_recall.py --config "mediapipe one tile level"
    python benchmarks/detect_recall.py --config scheduled

The videos are the ones the tests use (benchmarks/media.py): 720p with one close face,
720p with four faces of 100-200 px, 1080p with six faces of 50-90 px. A face counts as found
when a box is centred within 0.35 face sides of it and has about its size.

The "scheduled" configuration runs the detector the way the pipeline does on a stream
(``emocam.schedule``: known faces re-detected every frame, the full scan spread over frames,
tracks carried by the real tracker), so each video is read in order from its first frame.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import media
import numpy as np

from emocam.detect import MediaPipeDetector, create_detector
from emocam.schedule import DetectionSchedule
from emocam.track import FaceTracker
from emocam.types import Detection


class Scheduled:
    """A detector as the pipeline drives it: the schedule plus the tracker it follows."""

    def __init__(self) -> None:
        self.detector = create_detector("mediapipe")
        self.schedule = DetectionSchedule(self.detector)
        self.tracker = FaceTracker()

    def reset(self) -> None:
        self.schedule.reset()
        self.tracker.reset()

    def detect(self, image: np.ndarray, time_ms: float) -> list[Detection]:
        dets = self.schedule.detect(image, self.tracker.predict(time_ms), time_ms)
        probs = np.full((len(dets), 2), 0.5, np.float32)  # the tracker needs some; unused
        self.tracker.update([d.box for d in dets], [d.score for d in dets], probs, time_ms,
                            [d.keypoints for d in dets])
        return dets

    def close(self) -> None:
        self.schedule.close()
        self.detector.close()


CONFIGS = {
    # The whole frame only (short- and full-range models), no tiles: the speed floor.
    "mediapipe whole-frame": lambda: MediaPipeDetector(max_levels=0),
    # One tile level: what cameras ran before the schedule (docs/PROFILE.md, "before").
    "mediapipe one tile level": lambda: MediaPipeDetector(max_levels=1),
    "mediapipe file": lambda: create_detector("mediapipe"),
    "opencv": lambda: create_detector("opencv"),
    "scheduled": Scheduled,
}
VIDEOS = {
    "720p 1 face": ((1280, 720), media.one_face_plan),
    "720p 4 faces": ((1280, 720), media.four_faces_plan),
    "1080p 6 small": ((1920, 1080), media.small_faces_plan),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", choices=list(CONFIGS), action="append")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        videos = {}
        for name, (size, plan) in VIDEOS.items():
            v = media.write_video(Path(tmp) / f"{len(videos)}.mp4", size, plan())
            cap = cv2.VideoCapture(str(v.path))
            frames = []
            while (f := cap.read())[0]:
                frames.append(f[1])
            videos[name] = (v, frames)
        print("| detector | video | recall | false boxes/frame | ms/frame (best of runs) |")
        print("|---|---|---|---|---|")
        for cname in a.config or CONFIGS:
            det = CONFIGS[cname]()
            for vname, (v, frames) in videos.items():
                best = float("inf")
                for _ in range(a.repeats):
                    getattr(det, "reset", lambda: None)()
                    t = time.perf_counter()
                    results = [det.detect(f, i * 33.3) for i, f in enumerate(frames)]
                    best = min(best, (time.perf_counter() - t) / len(frames) * 1e3)
                found = total = extra = 0
                for i, dets in enumerate(results):
                    m = media.match_faces([d.box for d in dets], v.faces[i])
                    found += sum(x is not None for x in m)
                    total += len(m)
                    extra += len(dets) - sum(x is not None for x in m)
                print(
                    f"| {cname} | {vname} | {found / total:.3f} | {extra / len(frames):.2f} "
                    f"| {best:.1f} |",
                    flush=True,
                )
            det.close()


if __name__ == "__main__":
    main()
