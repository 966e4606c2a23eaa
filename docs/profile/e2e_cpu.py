"""emocam process on the 720p 4-face video: wall fps of the frame loop (from the JSON
summary) and CPU ms per frame (all threads; start-up removed by subtracting a 30-frame run).
usage: e2e.py LABEL REPEATS [extra emocam args]"""
import json, os, resource, statistics, subprocess, sys
label, reps, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
env = {**os.environ, "GLOG_minloglevel": "2"}
def run(video):
    out = f"/tmp/emocam-prof/out_{label}"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "emocam", "process", video, "-o", out, "--overwrite", "-q", *extra], check=True, env=env)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    d = json.load(open(f"{out}/{os.path.basename(video).rsplit('.',1)[0]}.emocam.json"))
    fps = d.get("fps_achieved") or d.get("run", {}).get("fps_achieved")
    return fps, cpu, d.get("mean_timings_ms") or d.get("run", {}).get("mean_timings_ms")
fps, cpu_pf, loads = [], [], []
for i in range(reps):
    f300, c300, tim = run("/tmp/emocam-prof/v720_4.mp4")
    f30, c30, _ = run("/tmp/emocam-prof/v720_4_30.mp4")
    fps.append(f300); cpu_pf.append((c300 - c30) / 270 * 1e3); loads.append(os.getloadavg()[0])
    print(f"{label} run{i}: {f300:.1f} fps, {cpu_pf[-1]:.1f} CPU ms/frame, load {loads[-1]:.1f}, timings {tim}", flush=True)
print(f"{label}: median {statistics.median(fps):.1f} fps (range {min(fps):.1f}-{max(fps):.1f}), CPU {statistics.median(cpu_pf):.1f} ms/frame, load {min(loads):.1f}-{max(loads):.1f}")
