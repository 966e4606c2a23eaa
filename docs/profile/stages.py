"""CPU ms (thread_time, so other processes' load does not count) per stage, 720p 4 faces."""
import time
import cv2
from emocam.pipeline import Pipeline, PipelineConfig
from emocam.overlay import draw, OverlayOptions
from emocam.preprocess import crop_faces
from emocam.types import Frame
T = time.process_time
cap = cv2.VideoCapture("/tmp/emocam-prof/v720_4.mp4")
t = T(); frames = []
while (f := cap.read())[0]: frames.append(f[1])
print(f"decode {(T()-t)/len(frames)*1e3:.2f} ms/frame (OpenCV threads not counted)")
t0 = time.process_time(); cap = cv2.VideoCapture("/tmp/emocam-prof/v720_4.mp4")
while cap.grab(): pass
print(f"decode (grab, all threads) {(time.process_time()-t0)/len(frames)*1e3:.2f}")
cap = cv2.VideoCapture("/tmp/emocam-prof/v720_4.mp4"); t0 = time.process_time(); n=0
while (f := cap.read())[0]: n+=1
print(f"decode (read, all threads) {(time.process_time()-t0)/n*1e3:.2f}")
t0 = time.process_time()
w = cv2.VideoWriter("/tmp/emocam-prof/o.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 30, (1280, 720))
for f in frames: w.write(f)
w.release()
print(f"encode mp4v (all threads) {(time.process_time()-t0)/len(frames)*1e3:.2f}")
def cpu(fn, xs):
    t = T()
    for x in xs: fn(x)
    return (T() - t) / len(xs) * 1e3
print(f"BGR2RGB {cpu(lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB), frames):.2f}  BGR2GRAY {cpu(lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), frames):.2f}")
pipe = Pipeline(PipelineConfig(provider="cpu"))
det = pipe.detector
rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames[:60]]
boxes = [d.box for d in det.detect(frames[0])]
print(f"redetect 4 faces {cpu(lambda r: det.redetect(r, boxes), rgb):.2f}")
for p in det.passes(1280, 720):
    print(f"pass {p.model} {p.tile.x0}-{p.tile.x1} {cpu(lambda r: det.run_passes(r, [p]), rgb):.2f}")
res = []
for rep in range(2):
    pipe.reset(); tim = {}
    t = T()
    for i, f in enumerate(frames):
        r = pipe.process(Frame(f.copy(), i, i * 1000 / 30)); res.append(r)
    print(f"pipeline.process {(T()-t)/len(frames)*1e3:.2f} CPU ms/frame (incl. first-frame full scan)")
dets = det.detect(frames[5])
print(f"align colour {cpu(lambda f: pipe._crops(f, dets), frames[:60]):.2f}  align gray-frame {cpu(lambda f: crop_faces(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), [d.box for d in dets], pipe.model_info.crop, [d.eyes for d in dets]), frames[:60]):.2f}")
crops = pipe._crops(frames[5], dets)
print(f"classify 4 {cpu(lambda _: pipe.classifier.predict(crops), range(200)):.2f}")
opts = OverlayOptions()
print(f"draw {cpu(lambda r: draw(r.frame.image, r, opts), res[:100]):.2f}")
