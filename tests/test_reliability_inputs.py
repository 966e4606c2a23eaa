"""Bad and unusual inputs to ``emocam process``: each works, or ends with one sentence and exit
code 2, never a traceback or a hang. Images are real faces from benchmarks/media.py."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import struct
import threading
import time
import tracemalloc
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np
import pytest
from cli_helpers import photo_folder, run_cli, run_emocam
from PIL import Image
from reliability_helpers import assert_one_sentence
from sound_helpers import with_sound

from benchmarks.media import Placement, SyntheticVideo, TruthFace, match_faces, render
from emocam.errors import SourceError
from emocam.isobmff import Box, boxes
from emocam.open_failure import probe, unopened_sentence
from emocam.photo_source import ImageSource
from emocam.process import ProcessOptions, run_process
from emocam.resources import sample_video_path
from emocam.source_base import Source
from emocam.sources import open_source

pytestmark = pytest.mark.timeout(120)


def _avi(path: Path, frames: int = 20) -> Path:
    """An MJPEG AVI of one real face (AVI keeps its frames readable without its index)."""
    image = render((320, 240), [Placement("astronaut", 160, 120, 100)])
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (320, 240))
    for _ in range(frames):
        w.write(image)
    w.release()
    return path


def _bad_inputs(tmp: Path, video: Path) -> dict[str, Path]:
    (tmp / "no images").mkdir()
    (tmp / "no images" / "readme.txt").write_text("hello")
    (tmp / "zero.mp4").write_bytes(b"")
    (tmp / "notes.mp4").write_text("this is a text file, not a video\n" * 40)
    data = video.read_bytes()
    (tmp / "cut.mp4").write_bytes(data[: len(data) // 2])  # mp4v keeps its index at the end
    codec = _avi(tmp / "codec.avi").read_bytes().replace(b"MJPG", b"XQZW")
    (tmp / "unknown codec.avi").write_bytes(codec)
    return {
        "a folder without images": tmp / "no images",
        "a zero-byte file": tmp / "zero.mp4",
        "a text file named .mp4": tmp / "notes.mp4",
        "a truncated mp4": tmp / "cut.mp4",
        "an unsupported codec": tmp / "unknown codec.avi",
        "a missing path with unicode": tmp / "ünï cödé 😀" / "nope.mp4",
    }


BAD_INPUTS = [
    "a folder without images",
    "a zero-byte file",
    "a text file named .mp4",
    "a truncated mp4",
    "an unsupported codec",
    "a missing path with unicode",
]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_a_bad_input_ends_with_one_sentence_naming_it_and_exit_code_2(
    case: str, tmp_path: Path, video_face_at_edge: SyntheticVideo, model_path: Path, capfd
) -> None:
    path = _bad_inputs(tmp_path, video_face_at_edge.path)[case]
    run = run_cli(capfd, "process", path, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert_one_sentence(run, path.name)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_name_that_is_not_utf8_is_one_sentence_and_the_other_inputs_go_on(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, image_one_face: Path, model_path: Path
) -> None:
    latin1 = os.fsdecode(b"caf\xe9")  # a name written by an old camera or archive tool
    videos, photos = tmp_path / "videos", tmp_path / "photos"
    videos.mkdir()
    photos.mkdir()
    try:
        (videos / f"b_{latin1}.mp4").write_bytes(video_face_at_edge.path.read_bytes())
        (photos / f"{latin1}.jpg").write_bytes(image_one_face.read_bytes())
    except (OSError, UnicodeError):
        pytest.skip("this file system keeps names UTF-8")
    (videos / "a.mp4").write_bytes(video_face_at_edge.path.read_bytes())
    (photos / "ok.jpg").write_bytes(image_one_face.read_bytes())
    # Before: OpenCV ended the process with a segmentation fault and no word (videos), or a
    # UnicodeEncodeError traceback left half a set (photos); the inputs after it never ran.
    run = run_emocam("process", videos, "-o", tmp_path / "v", "--model", model_path, "-q")
    assert run.returncode == 2, run.stderr
    assert "b_caf\\xe9.mp4 is not UTF-8 text" in run.stderr and "Traceback" not in run.stderr
    assert (tmp_path / "v" / "a.emocam.json").is_file()
    # A batch's progress bar counted its frames with OpenCV first: the same crash.
    run = run_emocam("process", videos, "-o", tmp_path / "j", "--jobs", "2", "--model",
                     model_path)
    assert run.returncode == 2 and "b_caf\\xe9.mp4 is not UTF-8 text" in run.stderr, run.stderr
    # An output folder so named: OpenCV read the annotated video back, and crashed.
    run = run_emocam("process", videos / "a.mp4", "-o", tmp_path / latin1, "--model",
                     model_path, "-q")
    assert run.returncode == 2 and "named in text that is not UTF-8" in run.stderr, run.stderr
    run = run_emocam("process", photos, "-o", tmp_path / "p", "--model", model_path, "-q")
    assert run.returncode == 0, run.stderr
    assert "caf\\xe9.jpg is not UTF-8 text" in run.stderr and "left out" in run.stderr
    # Said in the summary too (and so the report and the app's end), as an unreadable photo
    # is: only a name left out, its summary had no input_warning.
    summary = json.loads((tmp_path / "p" / "photos.emocam.json").read_text())
    assert summary["input_warning"] == (
        "In photos, caf\\xe9.jpg was left out for a name that is not UTF-8 text (1 of 2).")
    rows = list(csv.DictReader((tmp_path / "p" / "photos.emocam.csv").open()))
    assert {r["file"] for r in rows} == {"ok.jpg"}


def test_a_truncated_avi_keeps_the_frames_before_the_damage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _avi(tmp_path / "whole.avi", frames=20).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING), open_source(cut) as src:
        frames = list(src)
    assert 5 <= len(frames) < 20
    assert [f.index for f in frames] == list(range(len(frames)))
    assert "truncated" in caplog.text and "cut.avi" in caplog.text
    assert f"ended after {len(frames)} of 20 frames" in src.ended_early
    # A seek past the damage (the player's slider) reads nothing there: the frames that can
    # be read are not said to be 17 (the seek's target, as it was before).
    with open_source(cut) as src:
        src.seek(17)
        assert list(src) == []
    assert "could not be read from frame 17 of 20 on" in src.ended_early


def test_a_matroska_recording_whose_sound_outlasts_its_picture_is_not_called_truncated(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, caplog: pytest.LogCaptureFixture
) -> None:
    # OBS records .mkv, whose sound often runs on after the picture; OpenCV then estimates
    # more frames than there are, and every such file used to be called "truncated".
    mkv = with_sound(video_face_at_edge.path, tmp_path / "stream.mkv", "aac",
                     seconds=video_face_at_edge.frame_count / video_face_at_edge.fps + 0.5)
    with caplog.at_level(logging.WARNING), open_source(mkv) as src:
        assert src.frame_count is not None and src.frame_count > video_face_at_edge.frame_count
        frames = list(src)
    assert len(frames) == video_face_at_edge.frame_count
    assert "truncated" not in caplog.text


def test_a_matroska_recordings_progress_counts_its_picture_not_its_longer_sound(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, model_path: Path, capfd
) -> None:
    # Matroska stores no frame count; OpenCV's, from the sound that runs on, is 2.5 times
    # too many: the bar said 0/76 of its 30 frames, and 30/30 at the end.
    n = video_face_at_edge.frame_count
    mkv = with_sound(video_face_at_edge.path, tmp_path / "obs.mkv", "aac",
                     seconds=2.5 * n / video_face_at_edge.fps)
    run = run_cli(capfd, "process", mkv, "-o", tmp_path / "out", "--model", model_path,
                  "--no-video", "--no-report")
    assert run.code == 0, run.err
    bar = [ln for ln in run.lines() if ln.startswith("obs.mkv:")]
    assert bar and all(f"/{n} " in ln for ln in bar), bar
    assert f" {n}/{n} " in bar[-1], bar


class _Pipe(io.RawIOBase):
    """A stream that cannot seek back, as a pipe: a muxer can write no length into it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        return self._file.write(data)


def _piped_matroska(picture: Path, out: Path) -> Path:
    """``picture``'s frames (copied) in Matroska written through a pipe (``ffmpeg ... -f
    matroska - > out.mkv``, a recorder's stream saved): no frame count, no length."""
    with open(out, "wb") as f, av.open(_Pipe(f), "w", format="matroska") as dst:
        _remux_pictures(picture, dst)
    return out


def _remux_pictures(src: Path, dst: av.container.OutputContainer) -> None:
    """``src``'s picture track, as it is (no decoding), into the open container ``dst``."""
    with av.open(str(src)) as i:
        stream = dst.add_stream_from_template(i.streams.video[0])
        for packet in i.demux(i.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)


def test_a_video_of_unknown_length_counts_its_frames_in_words(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, model_path: Path, capfd
) -> None:
    # With no total the bar read "30frame [00:01, 25.71frame/s]".
    mkv = _piped_matroska(video_face_at_edge.path, tmp_path / "piped.mkv")
    n = video_face_at_edge.frame_count
    run = run_cli(capfd, "process", mkv, "-o", tmp_path / "out", "--model", model_path,
                  "--no-video", "--no-report")
    assert run.code == 0, run.err
    bar = [ln for ln in run.lines() if ln.startswith("piped.mkv:")]
    assert bar and all("/" not in ln.split("[")[0] for ln in bar), bar  # no total shown
    assert re.fullmatch(rf"piped\.mkv: {n} frames \[00:\d\d, +[\d.]+ frames/s\]", bar[-1]), bar
    # Where the total is known, the rate reads alike.
    run = run_cli(capfd, "process", video_face_at_edge.path, "-o", tmp_path / "out2",
                  "--model", model_path, "--no-video", "--no-report")
    bar = [ln for ln in run.lines() if ln.startswith("edge.mp4:")]
    assert re.search(rf" {n}/{n} \[00:\d\d<00:00, +[\d.]+ frames/s\]$", bar[-1]), bar


def test_a_stream_past_a_million_frames_counts_them_in_digits() -> None:
    # Nine hours of a camera or a piped stream at 30 fps: the count of unknown length read
    # "1.23457e+06 frames", its last digits rounded away.
    from emocam.progress import progress_bar

    out = io.StringIO()
    bar = progress_bar(None, "cam", True, stream=out, initial=1_234_567)
    bar.update(1)
    bar.close()
    last = out.getvalue().splitlines()[-1]
    assert re.fullmatch(r"cam: 1234568 frames \[[\d:]+, [^\]]*\]", last), last


def test_a_matroska_download_cut_short_says_where_it_ends(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, caplog: pytest.LogCaptureFixture
) -> None:
    # A browser's download cut off at 60%: Matroska stores no frame count, and the run ended
    # early without a word ("completed", the AVI of the same damage was named).
    mkv = with_sound(video_face_at_edge.path, tmp_path / "talk.mkv", "aac",
                     seconds=video_face_at_edge.frame_count / video_face_at_edge.fps)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: int(mkv.stat().st_size * 0.6)])
    with caplog.at_level(logging.WARNING), open_source(cut) as src:
        frames = list(src)
        said = src.ended_early
    assert 0 < len(frames) < video_face_at_edge.frame_count
    assert "cut.mkv ended at" in said and "the file may be truncated" in said, said
    assert "truncated" in caplog.text
    # And in its summary, where a script or a batch looks (it was said on the terminal only).
    result = run_process(ProcessOptions(input=cut, outdir=tmp_path / "out", no_video=True,
                                        progress=False))
    summary = json.loads(Path(result.outputs["json"]).read_text())
    assert "cut.mkv ended at" in summary["input_warning"], summary.get("input_warning")
    # And in its report, which said "completed: yes" and nothing more.
    assert "cut.mkv ended at" in Path(result.outputs["report"]).read_text()


class _FakeSplit(Source):
    """A real video whose reader then fails, as a file on a disconnected drive does."""

    def __init__(self, inner: Source, good: int, failure: BaseException):
        self.inner, self.good, self.failure = inner, good, failure
        self.name, self.fps, self.size = inner.name, inner.fps, inner.size
        self.frame_count = inner.frame_count
        self.path = getattr(inner, "path", inner.name)

    def __iter__(self):
        for frame in self.inner:
            if frame.index >= self.good:
                raise self.failure
            yield frame

    def close(self) -> None:
        self.inner.close()


def test_a_video_that_fails_mid_way_exits_2_and_keeps_the_results_so_far(
    tmp_path: Path, video_four_faces: SyntheticVideo, model_path: Path, capfd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import emocam.process

    failure = SourceError(f"{video_four_faces.path} stopped being readable.")
    monkeypatch.setattr(
        emocam.process, "open_source", lambda p: _FakeSplit(open_source(p), 12, failure)
    )
    out = tmp_path / "out"
    run = run_cli(capfd, "process", video_four_faces, "-o", out, "--model", model_path, "-q")
    assert_one_sentence(run, "four_faces.mp4", "12 frames", "saved")
    with open(out / "four_faces.emocam.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {int(r["frame"]) for r in rows} == set(range(12))
    summary = json.loads((out / "four_faces.emocam.json").read_text())
    assert summary["completed"] is False and summary["frames"] == 12
    cap = cv2.VideoCapture(str(out / "four_faces.emocam.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 12
    cap.release()


def _walking_face(t: int) -> np.ndarray:
    return render((320, 240), [Placement("astronaut", 80 + t * 0.05, 120, 100)])


def _vfr_video(path: Path, times_ms: list[int], scene=_walking_face,
               size: tuple[int, int] = (320, 240)) -> Path:
    """An mp4 with the given frame times (PyAV sets each frame's own timestamp) of
    ``scene(t)``: by default one real face walking left to right."""
    av = pytest.importorskip("av")
    from fractions import Fraction

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        (stream.width, stream.height), stream.pix_fmt = size, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for t in times_ms:
            image = scene(t)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_a_variable_frame_rate_video_keeps_its_own_clock(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    # A phone video: 30 fps for a second, then 5 fps when the light drops.
    times = [i * 33 for i in range(30)] + [957 + i * 200 for i in range(1, 9)]
    video = _vfr_video(tmp_path / "phone vfr.mp4", times)
    out = tmp_path / "out"
    run = run_cli(capfd, "process", video, "-o", out, "--model", model_path, "-q")
    assert run.code == 0, run.err
    with open(out / "phone vfr.emocam.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [round(float(r["time_ms"])) for r in rows] == times  # one face in every frame
    # The annotated video plays in step with the source: at each moment it shows the frame
    # the source shows then (told apart by where the walking face is).
    sources = [render((320, 240), [Placement("astronaut", 80 + t * 0.05, 120, 100)])
               for t in times]
    cap = cv2.VideoCapture(str(out / "phone vfr.emocam.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    k = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        now_ms = k * 1000 / fps
        due = max(i for i, t in enumerate(times) if t <= now_ms + 500 / fps)
        if times[due] > 1000:  # the 5 fps part, where frames are 10 pixels apart
            diffs = [np.abs(image.astype(int) - s).mean() for s in sources]
            assert int(np.argmin(diffs)) == due, (k, now_ms)
        k += 1
    cap.release()
    assert abs(k / fps - (times[-1] + 200) / 1000) <= 1.5 / fps  # and lasts as long


def test_a_pause_in_a_screen_recording_keeps_its_length_its_frames_and_its_faces(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    # A recorded call: the screen recorder sends no frame while nothing changes, here for 12
    # s between two seconds at 30 fps. Two people sit still; a bar grows frame by frame, so
    # the annotated video's frames can be told apart.
    times = [round(i * 1000 / 30) for i in range(30)]
    times += [times[-1] + 12_000 + round(i * 1000 / 30) for i in range(30)]
    faces = [Placement("astronaut", 90, 110, 90), Placement("hopper", 230, 110, 90)]

    def scene(t: int) -> np.ndarray:
        image = render((320, 240), faces)
        image[3:11, 5:5 + 5 * times.index(t) % 310] = 255
        return image

    video = _vfr_video(tmp_path / "call.mp4", times, scene)
    out = tmp_path / "out"
    run = run_cli(capfd, "process", video, "-o", out, "--model", model_path, "-q")
    assert run.code == 0, run.err
    with open(out / "call.emocam.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # Each frame at its own time, both people in every frame, and still the same two people
    # after the pause (before: frames after it stamped 11 s early, and a face lost for
    # frames and back under a new id).
    assert sorted({round(float(r["time_ms"])) for r in rows}) == times
    assert all(sum(r["frame"] == str(i) for r in rows) == 2 for i in range(len(times)))
    assert len({r["face_id"] for r in rows}) == 2
    # The annotated video lasts as long as the source, at the rate of its fast parts: every
    # frame is in it, the last before the pause held through the pause.
    cap = cv2.VideoCapture(str(out / "call.emocam.mp4"))
    fps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert fps == pytest.approx(30, abs=0.5)
    assert abs(count / fps - (times[-1] + 33) / 1000) <= 1.5 / fps
    bars = []
    for k in range(count):
        ok, image = cap.read()
        assert ok
        if k in (0, 29, 200, 388, 389, count - 1):
            bars.append(int((image[7, :, :].mean(axis=1) > 200).sum()))
    cap.release()
    assert bars == pytest.approx([0, 145, 145, 145, 150, 295], abs=3)


@pytest.mark.parametrize("kind", ["jittery 30 fps", "25 fps with a 4 fps stretch"])
def test_a_variable_rate_video_is_annotated_at_its_fast_rate_with_every_frame(
    tmp_path: Path, model_path: Path, capfd, kind: str
) -> None:
    # A phone's clock a few ms either side of 33 ms: the writer rounded two frames into one
    # slot now and then and dropped one. 25 fps with a slow stretch: FFmpeg's guess of its
    # rate is 100 fps, and each frame was written 4 times.
    rng = np.random.default_rng(0)
    if kind.startswith("jittery"):
        times = [0]
        for _ in range(89):  # each frame 33 ms after the one before, give or take 4
            times.append(times[-1] + round(1000 / 30 + rng.uniform(-4, 4)))
        rate = 30
    else:
        times = [40 * i for i in range(30)] + [1160 + 250 * i for i in range(1, 9)]
        times += [times[-1] + 40 * i for i in range(1, 31)]
        rate = 25
    times = [t - times[0] for t in times]
    faces = [Placement("astronaut", 160, 130, 100)]

    def scene(t: int) -> np.ndarray:
        image = render((320, 240), faces)
        for bit in range(7):  # each frame's index in white blocks
            if times.index(t) >> bit & 1:
                image[2:18, 4 + 24 * bit:20 + 24 * bit] = 255
        return image

    video = _vfr_video(tmp_path / "phone.mp4", times, scene)
    out = tmp_path / "out"
    run = run_cli(capfd, "process", video, "-o", out, "--model", model_path, "-q")
    assert run.code == 0, run.err
    cap = cv2.VideoCapture(str(out / "phone.emocam.mp4"))
    fps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    shown = set()
    for _ in range(count):
        ok, image = cap.read()
        assert ok
        shown.add(sum(1 << bit for bit in range(7) if image[10, 12 + 24 * bit].mean() > 200))
    cap.release()
    assert fps == pytest.approx(rate, abs=0.5)
    assert shown == set(range(len(times)))  # every frame of the source, none dropped
    assert abs(count / fps - (times[-1] + 1000 / rate) / 1000) <= 1.5 / fps


def test_one_broken_timestamp_does_not_move_the_rest_of_the_video(tmp_path: Path) -> None:
    # Frame 30 of 60 stamped 1,000 s (a muxer's glitch); FFmpeg then takes the file to be
    # 1,000 s long, so its length cannot vouch for the jump. The next frame, back at 1.03 s,
    # says it was a glitch (a pause's next frame carries on from it).
    av = pytest.importorskip("av")
    from fractions import Fraction

    real = [round(i * 1000 / 30) for i in range(60)]
    stamped = [*real[:30], 1_000_000, *real[31:]]
    path = tmp_path / "glitch.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.gop_size = 1
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        packets = []
        for i, t in enumerate(real):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 4 * i, np.uint8),
                                               format="bgr24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            packets += stream.encode(frame)
        packets += stream.encode()
        for packet, dts, pts in zip(packets, real, stamped, strict=True):
            packet.dts, packet.pts = dts, pts
            out.mux(packet)
    with open_source(path) as src:
        times = [round(f.time_ms) for f in src]
    # Before: every frame from 30 on was stamped 1,000 s and more, and the annotated video
    # held frame 29 for 600 s.
    assert times == pytest.approx(real, abs=2)


def test_share_of_time_is_of_time_when_the_frame_rate_varies(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    # One face in one place: a smile for a second at 30 fps (30 frames), then a plain face for
    # 1.6 s at 5 fps (8 frames). Counted by frames the smile would be 79% of the face's time.
    times = [round(i * 1000 / 30) for i in range(30)] + [1000 + 200 * i for i in range(8)]

    def scene(t: int) -> np.ndarray:
        # A large frame, so that the new face is not taken for a cut to another shot.
        return render((960, 720), [Placement("astronaut" if t < 1000 else "hopper", 480, 360,
                                             110)])

    video = _vfr_video(tmp_path / "vfr.mp4", times, scene, (960, 720))
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert run.code == 0, run.err
    faces = json.loads((tmp_path / "out" / "vfr.emocam.json").read_text())["faces"]
    assert len(faces) == 1
    (face,) = faces.values()
    assert face["frames"] == 38
    assert face["share_of_time"]["happiness"] == pytest.approx(1000 / 2600, abs=0.08)
    assert face["top_label"] == "neutral"
    assert sum(face["share_of_time"].values()) == pytest.approx(1.0, abs=1e-3)


def test_a_video_that_stalls_mid_way_ends_with_an_error_instead_of_hanging(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    import emocam.process
    import emocam.readahead

    released = threading.Event()

    class Stalling(_FakeSplit):
        def __iter__(self):
            for frame in self.inner:
                if frame.index >= self.good:
                    released.wait(30)  # a read that never returns
                    return
                yield frame

        def close(self) -> None:
            released.set()
            super().close()

    monkeypatch.setattr(emocam.readahead, "READ_STALL_TIMEOUT_S", 1.0)
    monkeypatch.setattr(
        emocam.process, "open_source", lambda p: Stalling(open_source(p), 5, RuntimeError())
    )
    opts = ProcessOptions(video_face_at_edge.path, outdir=tmp_path, progress=False)
    opts.pipeline.model_path = model_path
    with pytest.raises(SourceError, match=r"gave no frame for 1 s.*5 frames"):
        run_process(opts)
    assert json.loads((tmp_path / "edge.emocam.json").read_text())["frames"] == 5


# --- unusual images, all in one folder run (one model load) --------------------------------


def _exif_rotated(path: Path, upright: np.ndarray) -> None:
    """Store ``upright`` lying on its side with EXIF orientation 6, as phones do."""
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)
    img = Image.fromarray(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(path, exif=exif.tobytes(), quality=92)


def _fifty_faces() -> tuple[np.ndarray, list[TruthFace]]:
    side = 90
    places = [
        Placement("astronaut" if (i + j) % 2 else "hopper", side * (2 * i + 1),
                  side * (2 * j + 1), side)
        for i in range(10) for j in range(5)
    ]
    return render((20 * side, 10 * side), places, seed=7), [
        TruthFace(p.cx, p.cy, p.side) for p in places
    ]


def _write(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(path.suffix, image)
    assert ok
    buf.tofile(path)


@pytest.fixture(scope="module")
def odd_images_run(tmp_path_factory: pytest.TempPathFactory, model_path: Path):
    """``emocam process`` over a folder (unicode and spaces in its name) of unusual images."""
    root = tmp_path_factory.mktemp("odd")
    folder = root / "fötos mit Léerzeichen 😀"
    folder.mkdir()
    face = render((640, 480), [Placement("astronaut", 320, 230, 160)], seed=4)
    truth: dict[str, list[TruthFace]] = {}
    _write(folder / "tiny 1x1.png", face[:1, :1])
    truth["tiny 1x1.png"] = []
    _write(folder / "8k.jpg", cv2.resize(face, (7680, 5760), interpolation=cv2.INTER_CUBIC))
    truth["8k.jpg"] = [TruthFace(320 * 12, 230 * 12, 160 * 12)]
    _write(folder / "gray.png", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))
    _write(folder / "deep 16-bit.png", face.astype(np.uint16) * 257)
    _write(folder / "rgba.png", cv2.cvtColor(face, cv2.COLOR_BGR2BGRA))
    for name in ("gray.png", "deep 16-bit.png", "rgba.png"):
        truth[name] = [TruthFace(320, 230, 160)]
    portrait = render((480, 640), [Placement("hopper", 240, 300, 170)], seed=5)
    _exif_rotated(folder / "phone.jpg", portrait)
    truth["phone.jpg"] = [TruthFace(240, 300, 170)]  # in upright coordinates
    fifty, truth["fifty.jpg"] = _fifty_faces()
    _write(folder / "fifty.jpg", fifty)
    edge = render((640, 480), [Placement("hopper", 30, 240, 150)], seed=3)
    _write(folder / "edge.png", edge)  # 30% of the face is outside the frame
    truth["edge.png"] = [TruthFace(30, 240, 150)]
    _write(folder / "no face.png", render((640, 480), [], seed=6))
    truth["no face.png"] = []
    out = root / "résultats ünd so"
    opts = ProcessOptions(folder, outdir=out, progress=False)
    opts.pipeline.model_path = model_path
    result = run_process(opts)
    with open(out / f"{folder.name}.emocam.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return result, rows, truth, out / f"{folder.name}.emocam"


def _boxes(rows: list[dict[str, str]], name: str) -> list[tuple[float, ...]]:
    return [tuple(float(r[k]) for k in ("x", "y", "w", "h")) for r in rows if r["file"] == name]


def test_every_odd_image_is_processed_and_annotated(odd_images_run) -> None:
    result, _, truth, annotated = odd_images_run
    assert result.completed and result.frames == len(truth)
    assert sorted(p.name for p in annotated.iterdir()) == sorted(truth)


@pytest.mark.parametrize(
    "name", ["8k.jpg", "gray.png", "deep 16-bit.png", "rgba.png", "phone.jpg", "edge.png"]
)
def test_the_face_in_an_unusual_image_is_found_where_it_is(odd_images_run, name: str) -> None:
    _, rows, truth, _ = odd_images_run
    boxes = _boxes(rows, name)
    assert len(boxes) == 1, boxes
    assert match_faces(boxes, truth[name]) == [0]


def test_images_without_a_face_give_no_rows(odd_images_run) -> None:
    _, rows, _, _ = odd_images_run
    assert not _boxes(rows, "tiny 1x1.png") and not _boxes(rows, "no face.png")


def test_an_exif_rotated_photo_is_annotated_upright(odd_images_run) -> None:
    *_, annotated = odd_images_run
    image = cv2.imdecode(np.fromfile(annotated / "phone.jpg", np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (640, 480)  # portrait, as the phone showed it


@pytest.mark.skipif(not cv2.haveImageWriter("x.avif"), reason="this OpenCV reads no AVIF")
def test_an_avif_photo_taken_upright_is_read_and_annotated_upright(
    tmp_path: Path, model_path: Path
) -> None:
    features = pytest.importorskip("PIL.features")
    if not features.check("avif"):
        pytest.skip("this Pillow writes no AVIF")
    # Off-centre, so a mirror the wrong way round moves the face away from its truth.
    truth = TruthFace(170, 250, 170)
    upright = Image.fromarray(cv2.cvtColor(
        render((480, 640), [Placement("hopper", truth.cx, truth.cy, truth.side)], seed=5),
        cv2.COLOR_BGR2RGB))
    # EXIF orientation -> how the picture is stored; Pillow writes the orientation as the
    # AVIF's own turn and mirror (irot, imir), as a phone's camera does.
    stored_as = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                 8: Image.Transpose.ROTATE_270, 5: Image.Transpose.TRANSPOSE,
                 2: Image.Transpose.FLIP_LEFT_RIGHT}
    folder = tmp_path / "phone"
    folder.mkdir()
    for orientation, transpose in stored_as.items():
        stored = upright.transpose(transpose)
        exif = stored.getexif()
        exif[0x0112] = orientation
        stored.save(folder / f"turned {orientation}.avif", exif=exif.tobytes(), quality=90)
    opts = ProcessOptions(folder, outdir=tmp_path / "out", progress=False)
    opts.pipeline.model_path = model_path
    run_process(opts)
    with open(tmp_path / "out" / "phone.emocam.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for orientation in stored_as:
        name = f"turned {orientation}.avif"
        boxes = _boxes(rows, name)
        # Before: read on its side or upside down, the face boxed where no one sees it.
        assert len(boxes) == 1 and match_faces(boxes, [truth]) == [0], (name, boxes)
        annotated = cv2.imread(str(tmp_path / "out" / "phone.emocam" / name))
        assert annotated.shape[:2] == (640, 480), name  # portrait, as the phone showed it
    # Copied without its name's extension it is still a photo, known by its content (it was
    # FFmpeg's one-frame video, annotated into an .mp4).
    bare = tmp_path / "IMG_0003"
    bare.write_bytes((folder / "turned 6.avif").read_bytes())
    source = open_source(bare)
    assert isinstance(source, ImageSource) and source.size == (480, 640)


def test_fifty_faces_in_one_frame_are_all_classified(odd_images_run) -> None:
    _, rows, truth, _ = odd_images_run
    found = match_faces(_boxes(rows, "fifty.jpg"), truth["fifty.jpg"])
    assert sum(m is not None for m in found) >= 45
    names = [k for k in rows[0] if k not in ("file", "frame", "time_ms", "face_id", "x", "y",
                                              "w", "h", "top_label", "confidence", "uncertain",
                                              "shot")]
    for r in rows:
        if r["file"] == "fifty.jpg":
            assert sum(float(r[n]) for n in names) == pytest.approx(1.0, abs=1e-3)


def test_a_face_cut_by_the_frame_edge_keeps_its_whole_box(odd_images_run) -> None:
    _, rows, _, _ = odd_images_run
    (box,) = _boxes(rows, "edge.png")
    assert box[0] < 0  # not clipped: the aligner pads what is outside



# --- a phone video recorded upright ---------------------------------------------------------


def _boxes_of(data: bytearray, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """The ISO-BMFF boxes between ``start`` and ``end``: type -> (start, size)."""
    found = {}
    while start + 8 <= end:
        size = int.from_bytes(data[start : start + 4], "big")
        if size < 8:
            break
        found[bytes(data[start + 4 : start + 8])] = (start, size)
        start += size
    return found


def _turn_on_display(path: Path) -> None:
    """Give the video track the display matrix a phone held upright writes: the stored
    landscape picture is turned a quarter clockwise to be shown."""
    data = bytearray(path.read_bytes())
    moov, moov_size = _boxes_of(data, 0, len(data))[b"moov"]
    trak, trak_size = _boxes_of(data, moov + 8, moov + moov_size)[b"trak"]
    tkhd, _ = _boxes_of(data, trak + 8, trak + trak_size)[b"tkhd"]
    matrix = tkhd + (48 if data[tkhd + 8] == 0 else 60)  # after the version's time fields
    values = (0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
    data[matrix : matrix + 36] = b"".join(v.to_bytes(4, "big", signed=True) for v in values)
    path.write_bytes(bytes(data))


def test_a_phone_video_with_a_rotation_flag_is_processed_upright(
    tmp_path: Path, model_path: Path
) -> None:
    av = pytest.importorskip("av")
    frames, truth = 15, TruthFace(240, 300, 170)
    video = tmp_path / "phone.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (640, 480))
    upright = render((480, 640), [Placement("hopper", truth.cx, truth.cy, truth.side)], seed=5)
    for _ in range(frames):
        w.write(cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE))  # stored lying down
    w.release()
    _turn_on_display(video)
    with av.open(str(video)) as container:  # FFmpeg reads the flag as a player would
        assert next(container.decode(video=0)).rotation == -90  # quarter turn clockwise
    opts = ProcessOptions(video, outdir=tmp_path / "out", progress=False)
    opts.pipeline.model_path = model_path
    result = run_process(opts)
    with open(tmp_path / "out" / "phone.emocam.csv", newline="", encoding="utf-8") as fh:
        boxes = [tuple(float(r[k]) for k in ("x", "y", "w", "h")) for r in csv.DictReader(fh)]
    assert result.frames == frames and len(boxes) == frames
    assert all(match_faces([b], [truth]) == [0] for b in boxes)  # in upright coordinates
    cap = cv2.VideoCapture(str(tmp_path / "out" / "phone.emocam.mp4"))
    ok, shown = cap.read()
    cap.release()
    assert ok and shown.shape[:2] == (640, 480)  # portrait, as the phone showed it


@pytest.mark.parametrize("bad", ["text", "empty"])
def test_a_folder_whose_first_image_is_bad_skips_it_as_it_would_any_other(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd, bad: str
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(b"not a picture" if bad == "text" else b"")
    (photos / "b.jpg").write_bytes(Path(image_one_face).read_bytes())
    run = run_cli(capfd, "process", photos, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert len(run.lines()) == 1 and "a.png" in run.err and "Skipped" in run.err
    # An empty file is named as empty (it was "cannot be decoded; it may be corrupt").
    assert ("empty (0 bytes)" in run.err) == (bad == "empty")
    with open(tmp_path / "out" / "photos.emocam.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["file"] for r in rows} == {"b.jpg"}


def test_a_folder_with_several_unreadable_photos_counts_them_at_the_end(
    tmp_path: Path, image_one_face: Path, model_path: Path, capfd
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "c.jpg", "d.jpg"):
        (photos / name).write_bytes(b"not a picture")
    (photos / "b.jpg").write_bytes(Path(image_one_face).read_bytes())
    run = run_cli(capfd, "process", photos, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert run.code == 0, run.err
    # One line each as they come, then the count, last, where it is seen (it was not said).
    *each, last = run.lines()
    assert len(each) == 3 and all("Skipped" in line for line in each)
    assert "In photos, a.png, c.jpg, d.jpg could not be read" in last and "(3 of 4)" in last


def test_a_broken_link_in_a_folder_is_named_not_silently_left_out(
    tmp_path: Path, image_one_face: Path, video_one_face, model_path: Path, capfd
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "b.jpg").write_bytes(Path(image_one_face).read_bytes())
    (photos / "a.png").symlink_to(tmp_path / "moved-away.png")
    run = run_cli(capfd, "process", photos, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert len(run.lines()) == 1 and "a.png" in run.err and "moved-away.png" in run.err
    summary = json.loads((tmp_path / "out" / "photos.emocam.json").read_text())
    assert summary["photos_skipped"] == ["a.png"]
    # A folder of videos: the link is one of its inputs, and fails with its own sentence.
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "talk.mp4").write_bytes(video_one_face.path.read_bytes())
    (videos / "gone.mp4").symlink_to(tmp_path / "gone-for-good.mp4")
    run = run_cli(capfd, "process", videos, "-o", tmp_path / "vout", "--no-video", "--model",
                  model_path, "-q")
    assert run.code == 2 and "gone-for-good.mp4" in run.err and "1 of 2" in run.err, run.err


def test_a_folder_of_images_none_of_which_reads_is_one_sentence(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.jpg"):
        (photos / name).write_text("not a picture")
    run = run_cli(capfd, "process", photos, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert run.code == 2 and "Traceback" not in run.err
    assert "None of the 2 images" in run.lines()[-1] and str(photos) in run.lines()[-1]


def test_mistakes_in_naming_outputs_and_models_are_each_one_true_sentence(
    tmp_path: Path, video_one_face, model_path: Path, capfd
) -> None:
    video = video_one_face.path
    # A --json into a folder that does not exist: refused, and the -o folder the command
    # would have made for it is not left behind, empty.
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--json",
                  tmp_path / "nowhere" / "x.json", "--model", model_path, "-q")
    assert run.code == 2 and "nowhere" in run.err
    assert not (tmp_path / "out").exists()
    # --output-video naming a folder that exists: its true cause, not its missing extension.
    (tmp_path / "clips").mkdir()
    run = run_cli(capfd, "process", video, "--output-video", tmp_path / "clips", "--model",
                  model_path, "-q")
    assert run.code == 2 and "is a folder" in run.err and "extension" not in run.err
    # An empty --model is not quietly the float reference model.
    r = run_emocam("process", video, "-o", tmp_path / "o2", "--model", "", "-q")
    assert r.returncode == 2 and "give a model" in r.stderr
    # A phone's HEIC photo: named as a photo emocam cannot read, not as a broken video.
    heic = tmp_path / "IMG_0001.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(200))
    run = run_cli(capfd, "process", heic, "-o", tmp_path / "o3", "--model", model_path, "-q")
    assert run.code == 2 and "HEIC photo" in run.err and "JPEG" in run.err, run.err
    # --csv naming a folder by its slash: refused, not a CSV file written under its name.
    r = run_emocam("process", video, "--csv", f"{tmp_path / 'tables'}/", "-o", tmp_path / "o4",
                   "--model", model_path, "-q")
    assert r.returncode == 2 and "names a folder" in r.stderr
    assert not (tmp_path / "tables").exists() and not (tmp_path / "o4").exists()
    # A provider no onnxruntime has is a typo, not a reason to run on the CPU unasked.
    r = run_emocam("process", video, "--provider", "cdua", "-o", tmp_path / "o5", "-q")
    assert r.returncode == 2 and "'cdua' is not an onnxruntime execution provider" in r.stderr
    # Said under one short usage line; before, 13 lines of options came first, headed by the
    # app's and the command's usage run together ("... [options] process [-h] [-o DIR]").
    assert r.stderr.splitlines()[:2] == [
        "usage: emocam process INPUT... [options]",
        "emocam process: error: argument --provider: 'cdua' is not an onnxruntime execution "
        "provider; use cpu, cuda, directml, coreml, auto, or a full name such as "
        "CUDAExecutionProvider"], r.stderr
    assert len(r.stderr.splitlines()) == 2
    r = run_emocam("process", video, "--provder", "cpu", "-o", tmp_path / "o5", "-q")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "usage: emocam process INPUT... [options]",
        "emocam process: error: unrecognized arguments: --provder cpu"], r.stderr


def test_a_file_given_twice_by_overlapping_globs_is_processed_once(
    tmp_path: Path, video_one_face, model_path: Path, capfd
) -> None:
    video = video_one_face.path
    run = run_cli(capfd, "process", video, video.parent / "." / video.name, "-o", tmp_path,
                  "--no-video", "--model", model_path, "-q")
    assert run.code == 0, run.err
    assert run.lines() == [f"emocam: {video.parent / '.' / video.name} is given more than once; "
                           "processed once"]
    assert (tmp_path / f"{video.stem}.emocam.csv").is_file()
    # A link under another name is another input, with its own outputs.
    take2 = tmp_path / "take2.mp4"
    take2.symlink_to(video)
    run = run_cli(capfd, "process", video, take2, "-o", tmp_path / "both", "--no-video",
                  "--model", model_path, "-q")
    assert run.code == 0 and "more than once" not in run.err, run.err
    assert (tmp_path / "both" / "take2.emocam.csv").is_file()


def _ts_of_astronaut(path: Path, size: tuple[int, int], frames: int, drop: int = 0) -> bytes:
    """An H.264 MPEG-TS of the astronaut's face at ``size`` (a keyframe every 10 frames,
    B-frames), ``drop`` packets left out at its start, as a recording begun mid-stream: TS
    files joined end to end play on, as a conference recording whose size changes does."""
    import av
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 100:400]
    w, h = size
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": "10", "bf": "2"}
        side = int(h * 0.8)
        for i in range(frames):
            frame = np.full((h, w, 3), 60, np.uint8)
            x = 10 + i % max(1, w - side - 20)  # walking, back at the left at the edge
            frame[10:10 + side, x:x + side] = cv2.resize(face, (side, side))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                if drop:
                    drop -= 1
                    continue
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


@pytest.mark.parametrize("drop", [0, 3], ids=["whole", "begun mid-stream"])
def test_a_video_whose_picture_changes_size_keeps_its_faces_shape(
    tmp_path: Path, model_path: Path, capfd, drop: int
) -> None:
    # 4:3, then the same face in a picture twice as wide: OpenCV squeezes the second part
    # into 480x360, which halved the face's width and read the smile as surprise, unsaid.
    # Begun mid-stream, OpenCV skips the frames before the first keyframe, and so must the
    # frame numbers of the change (a review found them 7 frames late, boxing true frames).
    video = tmp_path / "call.ts"
    video.write_bytes(_ts_of_astronaut(tmp_path / "a.ts", (480, 360), 30, drop)
                      + _ts_of_astronaut(tmp_path / "b.ts", (960, 360), 30))
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path,
                  "--no-video", "--no-report", "-q")
    assert run.code == 0, run.err
    found = re.search(r"changes its picture size at frame (\d+) \(960x360", run.err)
    assert found, run.err
    change = int(found[1])
    with open(tmp_path / "out" / "call.emocam.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    before = [r for r in rows if int(r["frame"]) < change]
    after = [r for r in rows if int(r["frame"]) >= change]
    assert len({r["frame"] for r in after}) == 30  # the second part's, no more, no fewer
    assert {r["top_label"] for r in before} == {r["top_label"] for r in after} == {"happiness"}
    # Shown at its own shape, half the size: square boxes, half as wide as before.
    widths = [float(r["w"]) for r in after]
    ratio = np.median(widths) / np.median([float(r["w"]) for r in before])
    assert 0.4 < ratio < 0.6 and max(widths) < 0.7 * np.median([float(r["w"]) for r in before])


def test_an_anamorphic_videos_faces_read_as_the_same_picture_in_square_pixels(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    # A 16:9 picture stored 720x480 (DVD, DV camcorders, pixels 32:27 wide) and the same
    # picture in square pixels (854x480). Before, the face was cropped from the stored pixels:
    # the model saw Grace Hopper 16% narrower, and read her sadder (sadness 0.17 where the
    # square video's is 0.08; the probabilities 0.30 apart in all, summed over the classes).
    from fractions import Fraction

    from anamorphic_helpers import stored_video

    shown = render((854, 480), [Placement("hopper", 600, 240, 170)], seed=2)
    mean: dict[str, np.ndarray] = {}
    for name, width, aspect in (("dv", 720, Fraction(32, 27)), ("square", 854, Fraction(1))):
        src = stored_video(shown, tmp_path / f"{name}.mp4", width, aspect, 4)
        run = run_cli(capfd, "process", src, "-o", tmp_path / name, "--model", model_path,
                      "--no-video", "--no-report", "--smoothing", "0", "-q")
        assert run.code == 0, run.err
        with open(tmp_path / name / f"{name}.emocam.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        classes = list(rows[0])[list(rows[0]).index("h") + 1 : list(rows[0]).index("top_label")]
        assert len(rows) == 4, name  # one face in each frame
        # Over the frames: a frame's own answer moves by as much between H.264 frames of one
        # still picture (0.1-0.2 summed), the mean by a third of that.
        mean[name] = np.mean([[float(r[c]) for c in classes] for r in rows], axis=0)
    # The crop now differs only by resampling and by the detector's box, found on the stored
    # pixels: 0.07 apart summed (four placements of Hopper and the astronaut: 0.00-0.12).
    assert np.abs(mean["dv"] - mean["square"]).sum() < 0.15, (mean["dv"], mean["square"])


def test_a_video_of_frames_too_large_to_hold_is_refused_before_decoding(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    # A 20 MB video of 16000x16000 frames took 7-11 GB of memory; photos had a cap, videos none.
    video = tmp_path / "huge.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (9000, 8000))
    writer.write(np.full((8000, 9000, 3), 90, np.uint8))
    writer.release()
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert_one_sentence(run, str(video), "9000x8000", "70 megapixels", "scale it down")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_frame_size_the_video_codec_refuses_names_the_other_codec(
    tmp_path: Path, model_path: Path, capfd, image_one_face: Path
) -> None:
    # MPEG-4 part 2 (mp4v, the default) takes no picture wider than 8191: it was "check the
    # folder is writable".
    face = cv2.resize(cv2.imread(str(image_one_face)), (480, 480))
    frame = np.full((480, 8500, 3), 90, np.uint8)
    frame[:, :480] = face
    video = tmp_path / "wide.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (8500, 480))
    for _ in range(2):
        writer.write(frame)
    writer.release()
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert_one_sentence(run, "mp4v encoder refuses 8500x480", "--video-codec h264",
                        "--no-video")
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path, "-q",
                  "--video-codec", "h264")
    assert "Traceback" not in run.err and (tmp_path / "out" / "wide.emocam.mp4").is_file(), run.err


def test_a_multi_page_tiff_says_only_its_first_page_is_read(
    tmp_path: Path, model_path: Path, capfd, image_one_face: Path
) -> None:
    # A scanner's multi-page TIFF: pages 2 and 3 (faces) went unread without a word.
    face = Image.open(image_one_face).convert("RGB")
    blank = Image.new("RGB", face.size, (200, 200, 200))
    tiff = tmp_path / "scan.tif"
    blank.save(tiff, save_all=True, append_images=[face, face])  # uncompressed: pages far in
    run = run_cli(capfd, "process", tiff, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert "holds 3 pages; only its first is read" in run.err, run.err


@pytest.mark.skipif(not cv2.haveImageWriter("x.avif"), reason="this OpenCV writes no AVIF")
def test_a_damaged_avif_is_called_damaged_where_avif_is_read(
    tmp_path: Path, model_path: Path, capfd, image_one_face: Path
) -> None:
    whole = tmp_path / "whole.avif"
    assert cv2.imwrite(str(whole), cv2.imread(str(image_one_face)))
    cut = tmp_path / "cut.avif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    run = run_cli(capfd, "process", cut, "-o", tmp_path / "out", "--model", model_path, "-q")
    # It was "is a AVIF photo, which emocam cannot read", though a whole one reads.
    assert_one_sentence(run, str(cut), "cannot be decoded", "corrupt")


@pytest.mark.parametrize("kind", ["sound only", "no frame"])
def test_a_video_without_pictures_says_so(tmp_path: Path, model_path: Path, capfd,
                                          kind: str) -> None:
    # Both were called corrupt, or of a codec this build cannot decode.
    import av

    if kind == "sound only":  # an .m4a renamed, a recorder's sound track
        video = tmp_path / "talk.mp4"
        with av.open(str(video), "w") as out:
            stream = out.add_stream("aac", rate=16000)
            stream.layout = "mono"
            for i in range(20):
                frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts = 16000, i * 1024
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        said = "holds sound only, no pictures"
    else:  # a recording stopped before its first frame
        video = tmp_path / "stopped.avi"
        cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240)).release()
        said = "holds no frames"
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert_one_sentence(run, str(video), said)


def test_a_seek_far_ahead_after_a_pause_finds_the_picture_size_known(tmp_path: Path) -> None:
    # While frames are read the scan keeps near them (the reader then finds the bytes in
    # its cache); paused, it runs on. A review found a pause then a seek 40 s ahead showing
    # the frames after a size change squeezed, unsaid, when the scan waited for reading.
    video = tmp_path / "long call.ts"
    video.write_bytes(_ts_of_astronaut(tmp_path / "a.ts", (160, 120), 1300)
                      + _ts_of_astronaut(tmp_path / "b.ts", (320, 120), 20))
    with open_source(video) as src:
        next(iter(src))
        time.sleep(2.0)  # paused
        src.seek(1305)
        frames = [f.image for f in src]
    assert len(frames) >= 15  # (OpenCV seeks in an MPEG-TS to the keyframe before)
    # Each at its own shape: 320x120 inside 160x120, bars above and below.
    assert all((image.max(axis=(1, 2)) == 0).sum() >= 50 for image in frames)


def _progress_of_export(qtbot, source: Path, out: Path, model_path: Path
                        ) -> list[tuple[int, int]]:
    """What the app's Export window was told, frame by frame, of an export of ``source``."""
    from emocam.export_job import ExportJob
    from emocam.gui.export import ExportWorker
    from emocam.overlay import OverlayOptions
    from emocam.pipeline import PipelineConfig

    job = ExportJob(source, None, PipelineConfig(model_path=model_path), OverlayOptions())
    worker = ExportWorker(job.options(out, "mp4v"))
    told: list[tuple[int, int]] = []
    worker.progress.connect(lambda done, total: told.append((done, total)))
    worker.run()  # in this thread: each report is heard as it is made
    return told


def test_a_matroska_recording_counts_its_picture_in_a_batch_and_in_the_export_window(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, model_path: Path, capfd, qtbot
) -> None:
    # One rule for every count: a batch's bar said 0/106 of its 60 frames (the Matroska
    # recording's 76 from its sound, not its 30 pictures), and the Export window 76.
    n = video_face_at_edge.frame_count
    mkv = with_sound(video_face_at_edge.path, tmp_path / "obs.mkv", "aac",
                     seconds=2.5 * n / video_face_at_edge.fps)
    run = run_cli(capfd, "process", mkv, video_face_at_edge.path, "-o", tmp_path / "out",
                  "--jobs", "2", "--model", model_path, "--no-video", "--no-report")
    assert run.code == 0, run.err
    bar = [ln for ln in run.err.splitlines() if " inputs done" in ln and "|" in ln]
    assert bar and all(f"/{2 * n} " in ln for ln in bar), bar
    told = _progress_of_export(qtbot, mkv, tmp_path / "export.mp4", model_path)
    assert told[-1] == (n, n) and {total for _, total in told} == {n}, told


def test_a_folder_export_counts_its_photos_as_its_summary_and_bar_do(
    tmp_path: Path, image_one_face: Path, model_path: Path, qtbot
) -> None:
    # The Export window counted the photos read against every photo: it ended at 2 of 3.
    photos = photo_folder(tmp_path / "photos", image_one_face, "1.jpg", "3.jpg")
    (photos / "2.jpg").write_bytes(image_one_face.read_bytes()[:300])  # damaged
    told = _progress_of_export(qtbot, photos, tmp_path / "export", model_path)
    assert told == [(1, 3), (3, 3)], told


def test_the_export_window_opens_counting_what_its_run_counts(
    tmp_path: Path, video_face_at_edge: SyntheticVideo, make_window, qtbot
) -> None:
    # It opened at the player's count, a Matroska recording's 76 from its sound for its 30
    # pictures, and jumped to the run's at the run's first report.
    n = video_face_at_edge.frame_count
    mkv = with_sound(video_face_at_edge.path, tmp_path / "obs.mkv", "aac",
                     seconds=2.5 * n / video_face_at_edge.fps)
    window = make_window()
    window.open_file(mkv)
    qtbot.waitUntil(lambda: window.qactions["file.export"].isEnabled(), timeout=10_000)
    window.set_paused(True)
    window.exports.start(tmp_path / "export.mp4")
    assert window.exports._progress.maximum() == n  # before any report of the run's
    qtbot.waitUntil(lambda: window.exports.worker is None, timeout=60_000)


def _copy_pictures(src: Path, dst: Path, **options: str) -> Path:
    """``src``'s picture track remuxed, as it is, into ``dst`` (its container by its name)."""
    with av.open(str(dst), "w", options=options) as o:
        _remux_pictures(src, o)
    return dst


def _top_boxes(path: Path) -> list[Box]:
    with path.open("rb") as fh:
        return list(boxes(fh, 0, path.stat().st_size))


def _unfinished_recordings(tmp: Path) -> list[Path]:
    """Recordings that stopped before their index was written, as a crash, a flat battery, a
    full disk or a card pulled leaves them: ftyp, then the pictures (mdat), then nothing."""
    sample = sample_video_path()
    kinds = [b.kind for b in _top_boxes(sample)]
    assert kinds[-1] == b"moov" and b"mdat" in kinds  # its index last, as a recorder writes it
    data = sample.read_bytes()
    mdat = next(b for b in _top_boxes(sample) if b.kind == b"mdat")
    (tmp / "t.mp4").write_bytes(data[:200_000])  # the mdat runs past the file's end
    (tmp / "stopped.mp4").write_bytes(data[: mdat.end])  # every picture, no index
    # FFmpeg (OBS) writes the mdat's size only when it stops: until then it says 0.
    crashed = bytearray(data[:300_000])
    crashed[mdat.content - 8 : mdat.content - 4] = bytes(4)
    (tmp / "obs crash.mp4").write_bytes(crashed)
    mov = _copy_pictures(sample, tmp / "whole.mov").read_bytes()
    (tmp / "IMG_0001.MOV").write_bytes(mov[: len(mov) // 2])
    return [tmp / "t.mp4", tmp / "stopped.mp4", tmp / "obs crash.mp4", tmp / "IMG_0001.MOV"]


def test_a_recording_that_was_never_finished_is_named_as_such(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    # It was "cannot be opened as a video ... convert it to H.264 MP4", which no tool can.
    for video in _unfinished_recordings(tmp_path):
        run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path,
                      "-q")
        assert_one_sentence(run, f"{video} is a recording that was never finished",
                            '"moov" box', "untrunc")
        assert "convert" not in run.err
    # In a folder, it is that input's error, and the others are read.
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "t.mp4").write_bytes((tmp_path / "t.mp4").read_bytes())
    (folder / "whole.mp4").write_bytes(sample_video_path().read_bytes())
    run = run_cli(capfd, "process", folder, "-o", tmp_path / "all", "--model", model_path,
                  "-q")
    assert run.code == 2 and "t.mp4 is a recording that was never finished" in run.err, run.err
    assert (tmp_path / "all" / "whole.emocam.json").is_file()


def test_a_large_recording_never_finished_is_named_without_reading_it_into_memory(
    tmp_path: Path
) -> None:
    # A camera's crash leaves gigabytes of pictures without their index; the sentence came
    # only after the whole file was read into memory to try it as a photo (2 GB: 6 s).
    video = tmp_path / "GX010042.MP4"
    with open(video, "wb") as fh:
        fh.write(struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 512, b"isom", b"mp41"))
        fh.write(struct.pack(">I4s", 0, b"mdat"))  # its size, written at the stop, never was
    os.truncate(video, 600_000_000)  # sparse: no disk taken
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match="is a recording that was never finished"):
            open_source(video)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, f"{peak / 1e6:.0f} MB held to say so"


def test_a_cut_file_that_is_no_unfinished_recording_keeps_its_own_sentence(
    tmp_path: Path, model_path: Path, capfd
) -> None:
    sample = sample_video_path()
    # Its index first (faststart), or fragments that each index themselves (OBS's fragmented
    # MP4): cut short, the frames before the cut are read and the end is called early.
    fast = _copy_pictures(sample, tmp_path / "fast.mp4", movflags="faststart")
    assert _top_boxes(fast)[1].kind == b"moov"
    frag = _copy_pictures(sample, tmp_path / "frag.mp4", movflags="frag_keyframe+empty_moov")
    for whole in (fast, frag):
        cut = tmp_path / f"cut {whole.name}"
        cut.write_bytes(whole.read_bytes()[:800_000])
        run = run_cli(capfd, "process", cut, "-o", tmp_path / cut.stem, "--model",
                      model_path, "-q")
        assert run.code == 0 and "the file may be truncated" in run.err, run.err
    # Not a recording at all: as before.
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 40)
    run = run_cli(capfd, "process", text, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert_one_sentence(run, f"{text} cannot be opened as a video")


def _decodes(codec: str) -> bool:
    try:
        av.codec.Codec(codec, "r")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


def _avi_tagged(tmp_path: Path, tag: bytes, name: str) -> Path:
    """A real AVI of a face whose codec tag says ``tag``: a codec this build has no decoder
    for, as a camera or an old editor leaves one."""
    video = tmp_path / name
    video.write_bytes(_avi(tmp_path / "made.avi", frames=3).read_bytes().replace(b"MJPG", tag))
    return video


@pytest.mark.parametrize("case", ["text", "random bytes", "AVS2", "unknown codec",
                                  "undecodable pictures"])
def test_a_video_that_cannot_be_opened_says_why(tmp_path: Path, model_path: Path, capfd,
                                                case: str) -> None:
    # Each was "cannot be opened as a video: it may be damaged or not a video at all, or use
    # a codec this build cannot decode", whatever the cause, and -v said no more.
    if case == "text":
        video = tmp_path / "notes.mp4"
        video.write_text("meeting notes\n" * 40)
        said = "notes.mp4 cannot be opened as a video: it holds text, not a video; give the"
    elif case == "random bytes":
        video = tmp_path / "clip.mp4"
        video.write_bytes(np.random.default_rng(0).bytes(4000))
        said = "clip.mp4 cannot be opened as a video: FFmpeg reads no video format in it"
    elif case == "AVS2":
        if _decodes("avs2"):
            pytest.skip("this build of FFmpeg decodes AVS2: no codec left to be missing")
        video = _avi_tagged(tmp_path, b"AVS2", "broadcast.avi")
        said = ("broadcast.avi holds AVS2 video, which this build cannot decode; convert it "
                "to H.264 MP4")
    elif case == "undecodable pictures":  # pictures that are not what their codec says
        video = _avi_tagged(tmp_path, b"MSS2", "screen.avi")
        said = ('screen.avi holds MSS2 video whose first pictures cannot be decoded (FFmpeg: '
                '"Invalid data found when processing input"), so it is damaged')
    else:
        video = _avi_tagged(tmp_path, b"QQQQ", "odd.avi")
        said = 'odd.avi holds video in a codec FFmpeg does not know (tagged "QQQQ")'
    run = run_cli(capfd, "process", video, "-o", tmp_path / "out", "--model", model_path, "-q")
    line = assert_one_sentence(run, said)
    assert "may be damaged or not a video" not in line
    # Under -v FFmpeg's own words go to stderr with the sentence; the CSV on stdout stays clean.
    run = run_cli(capfd, "process", video, "--csv", "-", "--model", model_path, "-v")
    assert run.code == 2 and run.out == ""
    if case in ("text", "random bytes"):
        assert "Invalid data found when processing input" in run.err


def test_files_probed_at_once_leave_ffmpeg_as_quiet_as_it_was(tmp_path: Path) -> None:
    # The app may open a file while an export opens another: each probe raised FFmpeg's log
    # level and restored what it found, which could be the other's raised level, and FFmpeg's
    # words then went on for every file after (in half of 20 tries).
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(20_000))
    before = av.logging.get_level()
    for _ in range(10):
        threads = [threading.Thread(target=probe, args=(p,))
                   for p in [junk, sample_video_path()] * 3]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert av.logging.get_level() == before


def test_a_video_ffmpeg_decodes_that_opencv_cannot_open_is_said_so(
        video_one_face) -> None:
    # OpenCV brings an FFmpeg of its own: where PyAV's decodes a file OpenCV's could not open,
    # the sentence says that, not that the file is damaged or of an unknown codec. (No such
    # file can be made here, so the wording is checked on what FFmpeg finds in a good video.)
    path = video_one_face.path
    found = probe(path)
    assert found.decoded
    line = unopened_sentence(path, found, video_named=True)
    assert line.startswith(f"{path} holds ") and "FFmpeg decodes but OpenCV cannot open" in line
    assert "damaged" not in line
