"""Classifier session options: ms per batch-4 call and faces/s at batch 64 (median of 7)."""
import statistics, time
import numpy as np, onnxruntime as ort
from emocam.resources import default_model_path
path = str(default_model_path())
rng = np.random.default_rng(0)
def bench(opts, batch, n):
    s = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    shape = [batch] + [d if isinstance(d, int) else 1 for d in s.get_inputs()[0].shape[1:]]
    x = rng.standard_normal(shape).astype(np.float32)
    for _ in range(10): s.run(None, {name: x})
    out = []
    for _ in range(7):
        t = time.thread_time()
        for _ in range(n): s.run(None, {name: x})
        out.append((time.thread_time() - t) / n * 1e3)
    return statistics.median(out)
def mk(threads, level, mode, arena, spin):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    o.graph_optimization_level = level; o.execution_mode = mode
    o.enable_cpu_mem_arena = arena
    o.add_session_config_entry("session.intra_op.allow_spinning", spin)
    o.log_severity_level = 3
    return o
G = ort.GraphOptimizationLevel
for threads, level, arena, spin in [(1, G.ORT_ENABLE_ALL, True, "0"), (1, G.ORT_ENABLE_EXTENDED, True, "0"), (1, G.ORT_ENABLE_ALL, False, "0")]:
    o = mk(threads, level, ort.ExecutionMode.ORT_SEQUENTIAL, arena, spin)
    b4 = bench(o, 4, 200); b64 = bench(o, 64, 20)
    print(f"threads={threads} level={level.name} arena={arena} spin={spin}: b4 {b4:.2f} ms, b64 {b64:.1f} ms = {64/b64*1e3:.0f} faces/s")
