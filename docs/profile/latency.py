"""Live-path added latency as benchmarks/run.py measures it (Pipeline live=True, 720p), plus CPU."""
import statistics, time, cv2, numpy as np
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.types import Frame
for path in ("/tmp/emocam-prof/v720_1.mp4", "/tmp/emocam-prof/v720_4.mp4"):
    cap = cv2.VideoCapture(path); frames = [cap.read()[1] for _ in range(150)]
    pipe = Pipeline(PipelineConfig(live=True, provider="cpu"))
    lat, cpu = [], []
    for i, f in enumerate(frames):
        t, c = time.perf_counter(), time.process_time()
        pipe.process(Frame(f, i, i * 33.3))
        lat.append((time.perf_counter() - t) * 1e3); cpu.append((time.process_time() - c) * 1e3)
    lat, cpu = lat[10:], cpu[10:]
    print(f"{path}: median {statistics.median(lat):.1f} ms, p95 {np.percentile(lat, 95):.1f} ms; CPU median {statistics.median(cpu):.1f} ms")
    pipe.close()
