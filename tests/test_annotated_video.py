"""The annotated video as a file: the source's sound in step with the picture, and its codec
(mp4v, or H.264 for files that are smaller and play in web browsers)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from anamorphic_helpers import first_picture_as_shown, stored_video
from cli_helpers import read_csv, run_cli, run_emocam
from sound_helpers import BEEP_AT_S, RATE, onset_s, sound_of, with_sound

from benchmarks.media import Placement, SyntheticVideo, four_faces_plan, render, scaled, write_video
from emocam.encoders import open_encoder
from emocam.process import ProcessOptions, run_process

pytestmark = pytest.mark.timeout(120)

@pytest.fixture(scope="module")
def picture(media_dir: Path) -> SyntheticVideo:
    """Four real faces, 640x360, 60 frames at 30 fps (2 s), no sound."""
    plan = scaled(four_faces_plan(60), 0.5)
    return write_video(media_dir / "sound_picture.mp4", (640, 360), plan, seed=3)


def frames_in(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


@pytest.mark.parametrize(
    ("codec", "suffix", "picture_starts_s", "kept_as"),
    [("aac", ".mp4", 0.0, "aac"), ("libmp3lame", ".mp4", 0.0, "mp3"),
     ("pcm_s16le", ".mkv", 0.0, "aac"), ("aac", ".mp4", 0.5, "aac")],
    ids=["aac copied", "mp3 copied", "pcm re-encoded", "picture starts late"],
)
def test_the_annotated_video_plays_the_sources_sound_in_step(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path, codec: str, suffix: str, picture_starts_s: float, kept_as: str,
) -> None:
    src = with_sound(picture.path, tmp_path / f"talk{suffix}", codec, picture_starts_s)
    run = run_cli(capfd, "process", src, "-o", tmp_path / "out", "--model", model_path, "-q")
    assert run.code == 0, run.err
    annotated = tmp_path / "out" / "talk.emocam.mp4"
    found = sound_of(annotated)
    assert found is not None, "the annotated video has no sound"
    summary = json.loads((tmp_path / "out" / "talk.emocam.json").read_text())
    assert summary["privacy"]["source_sound_kept"] is True
    # The rows' times count from the first frame; where it stands on the file's own clock
    # (a player's, a transcript's) is said, or a late picture's offset is lost for good.
    assert summary["first_frame_ms"] == pytest.approx(1000 * picture_starts_s, abs=1)
    name, samples = found
    assert name == kept_as
    # Frame 0 of the annotated video is the source's first picture: the beep moves with it.
    assert onset_s(samples) == pytest.approx(BEEP_AT_S - picture_starts_s, abs=0.025)
    # The picture is untouched: every frame is there and the sound ends with it.
    assert frames_in(annotated) == 60
    assert len(samples) / RATE == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("suffix", [".avi", ".mov"])
def test_sound_the_chosen_container_refuses_to_copy_is_re_encoded(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path, suffix: str,
) -> None:
    # Opus copies into MP4, not into AVI or MOV. Before, the video was kept silent with a
    # warning naming a hidden temporary file ("'.talk.sound.mov' returned 22").
    src = with_sound(picture.path, tmp_path / "talk.mkv", "libopus")
    out = tmp_path / f"talk{suffix}"
    run = run_cli(capfd, "process", src, "--output-video", out, "--json", tmp_path / "t.json",
                  "--csv", tmp_path / "t.csv", "--no-sidecar", "--no-report", "--model",
                  model_path, "-q")
    assert run.code == 0 and not run.err, run.err
    found = sound_of(out)
    assert found is not None and found[0] == "aac", found
    assert onset_s(found[1]) == pytest.approx(BEEP_AT_S, abs=0.03)
    assert json.loads((tmp_path / "t.json").read_text())["privacy"]["source_sound_kept"]


def test_a_silent_source_is_not_said_to_have_its_sound_kept(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path,
) -> None:
    run = run_cli(capfd, "process", picture.path, "-o", tmp_path, "--model", model_path, "-q",
                  "--no-sidecar", "--no-report")
    assert run.code == 0, run.err
    summary = json.loads((tmp_path / f"{picture.path.stem}.emocam.json").read_text())
    assert summary["privacy"]["source_sound_kept"] is False


def test_every_sound_track_is_kept_whole(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path,
) -> None:
    # Two languages, say: one copied, one re-encoded, read from the source in one pass.
    both = with_sound(picture.path, tmp_path / "both.mkv", "aac", more=("pcm_s16le",))
    run = run_cli(capfd, "process", both, "-o", tmp_path / "out", "--model", model_path,
                  "-q", "--no-sidecar")
    assert run.code == 0, run.err
    for track in (0, 1):
        found = sound_of(tmp_path / "out" / "both.emocam.mp4", track)
        assert found is not None, f"track {track} is missing"
        assert onset_s(found[1]) == pytest.approx(BEEP_AT_S, abs=0.025)
        assert len(found[1]) / RATE == pytest.approx(2.0, abs=0.05)


def test_a_run_stopped_early_has_sound_only_as_long_as_its_video(
    tmp_path: Path, picture: SyntheticVideo, model_path: Path
) -> None:
    src = with_sound(picture.path, tmp_path / "talk.mp4", "aac")
    opts = ProcessOptions(input=src, outdir=tmp_path / "out", progress=False,
                          on_frame=lambda done, _total: done >= 40)  # Cancel after 40 frames
    opts.pipeline.model_path = model_path
    result = run_process(opts)
    assert not result.completed
    annotated = tmp_path / "out" / "talk.emocam.mp4"
    found = sound_of(annotated)
    assert found is not None
    assert frames_in(annotated) == 40
    assert len(found[1]) / RATE == pytest.approx(40 / 30, abs=0.05)


@pytest.mark.parametrize("flag", ["--no-audio", "--blur-faces", "--boxes-only"])
def test_no_audio_and_the_privacy_modes_leave_the_sound_out(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path, flag: str,
) -> None:
    src = with_sound(picture.path, tmp_path / "talk.mp4", "aac")
    run = run_cli(capfd, "process", src, "-o", tmp_path / "out", "--model", model_path, "-q",
                  flag)
    assert run.code == 0, run.err
    assert sound_of(tmp_path / "out" / "talk.emocam.mp4") is None
    summary = json.loads((tmp_path / "out" / "talk.emocam.json").read_text())
    assert summary["privacy"]["source_sound_kept"] is False


def test_a_disk_that_fills_while_the_sound_is_added_keeps_the_silent_video(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path,
) -> None:
    src = with_sound(picture.path, tmp_path / "talk.mp4", "aac")
    args = [src, "--model", model_path, "-q", "--no-sidecar"]
    silent = run_cli(capfd, "process", *args, "-o", tmp_path / "silent", "--no-audio")
    assert silent.code == 0, silent.err
    size = (tmp_path / "silent" / "talk.emocam.mp4").stat().st_size

    # Room for the silent video, not for it with its sound.
    proc = run_emocam("process", *args, "-o", tmp_path / "out", limit_bytes=size + 2_000,
                      timeout=90)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "without sound" in lines[0] and "talk.emocam.mp4" in lines[0]
    annotated = tmp_path / "out" / "talk.emocam.mp4"
    assert frames_in(annotated) == 60 and sound_of(annotated) is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "talk.emocam.csv", "talk.emocam.html", "talk.emocam.json", "talk.emocam.mp4"
    ]
    # The summary says what the file holds, not what was planned.
    summary = json.loads((tmp_path / "out" / "talk.emocam.json").read_text())
    assert summary["privacy"]["source_sound_kept"] is False


def test_a_re_analysis_keeps_the_sound(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path,
) -> None:
    src = with_sound(picture.path, tmp_path / "talk.mp4", "aac", picture_starts_s=0.5)
    out = tmp_path / "out"
    assert run_cli(capfd, "process", src, "-o", out, "--model", model_path, "-q").code == 0
    run = run_cli(capfd, "process", "--reanalyse", out / "talk.emocam.npz", "-o", out, "-q",
                  "--smoothing", "0")
    assert run.code == 0, run.err
    found = sound_of(out / "talk.reanalysed.mp4")
    assert found is not None and onset_s(found[1]) == pytest.approx(BEEP_AT_S - 0.5, abs=0.025)
    # Where the picture starts on the file's clock, as the run recorded it.
    summary = json.loads((out / "talk.reanalysed.json").read_text())
    assert summary["first_frame_ms"] == pytest.approx(500, abs=1)


def test_an_h264_video_is_smaller_and_keeps_every_frame_the_overlay_and_the_sound(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], picture: SyntheticVideo,
    model_path: Path,
) -> None:
    src = with_sound(picture.path, tmp_path / "talk.mp4", "aac")
    outs = {}
    for codec in ("mp4v", "h264"):
        out = tmp_path / codec
        run = run_cli(capfd, "process", src, "-o", out, "--model", model_path, "-q",
                      "--no-sidecar", "--video-codec", codec)
        assert run.code == 0, run.err
        outs[codec] = out / "talk.emocam.mp4"
    with av.open(str(outs["h264"])) as c:
        video = c.streams.video[0].codec_context
        # What web browsers play: H.264 in 4:2:0, tagged with the colours it was made with.
        assert (video.name, video.pix_fmt) == ("h264", "yuv420p")
        assert video.colorspace == 6 and video.color_range == 1  # BT.601, video range
        # Frame 0 at 0 s, with the sound: B-frames put every picture 2 frames late (a
        # fragmented MP4 has no edit list to take their delay back).
        stream = c.streams.video[0]
        assert float(stream.start_time * stream.time_base) == pytest.approx(0.0, abs=1e-3)
    assert frames_in(outs["h264"]) == 60
    summary = json.loads((tmp_path / "h264" / "talk.emocam.json").read_text())
    assert summary["video_codec"] == "h264"
    assert outs["h264"].stat().st_size < 0.6 * outs["mp4v"].stat().st_size
    found = sound_of(outs["h264"])
    assert found is not None and onset_s(found[1]) == pytest.approx(BEEP_AT_S, abs=0.025)
    # The same overlay on the same frames: the two files differ only by their coding.
    a, b = cv2.VideoCapture(str(outs["mp4v"])), cv2.VideoCapture(str(outs["h264"]))
    for _ in range(30):
        assert cv2.PSNR(a.read()[1], b.read()[1]) > 30
    # Matroska keeps H.264's first packets without a decode time: they must survive the
    # sound being added, or no frame decodes.
    mkv = tmp_path / "talk.mkv"
    run = run_cli(capfd, "process", src, "--output-video", mkv, "--json", tmp_path / "k.json",
                  "--model", model_path, "-q", "--no-sidecar", "--video-codec", "h264")
    assert run.code == 0, run.err
    assert frames_in(mkv) == 60 and sound_of(mkv) is not None


def _panel_size(picture: np.ndarray) -> tuple[int, int]:
    """The width and height of the bar panel (the darkened box of the emotions' bars) on an
    annotated picture drawn on the plain grey of --boxes-only."""
    dark = np.all(picture < 35, axis=2).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(dark)
    assert n > 1, "no bar panel in the picture"
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return int(stats[biggest, cv2.CC_STAT_WIDTH]), int(stats[biggest, cv2.CC_STAT_HEIGHT])


def test_an_anamorphic_videos_annotated_copy_plays_as_its_source_with_its_bars_undistorted(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], model_path: Path,
) -> None:
    # A 16:9 picture stored 720x480 (DVD, DV camcorders), Grace Hopper at 600 of 854 across.
    # Before, the overlay was drawn on the stored pixels and the file declared them 32:27
    # wide: a player widened the bars and the labels' letters with the picture, 1.19 times
    # those of the same picture in square pixels.
    shown = render((854, 480), [Placement("hopper", 600, 240, 170)], seed=2)
    sources = {"dv": stored_video(shown, tmp_path / "dv.mp4", 720, Fraction(32, 27), 6),
               "square": stored_video(shown, tmp_path / "square.mp4", 854, Fraction(1), 6)}
    drawn: dict[str, np.ndarray] = {}
    for name, src, codec in (("dv", "dv", "mp4v"), ("dv-h264", "dv", "h264"),
                             ("square", "square", "mp4v")):
        out = tmp_path / name
        run = run_cli(capfd, "process", sources[src], "-o", out, "--model", model_path, "-q",
                      "--no-report", "--boxes-only", "--video-codec", codec)
        assert run.code == 0, run.err
        drawn[name] = picture = first_picture_as_shown(out / f"{src}.emocam.mp4")
        # It plays as its source is shown, in every codec: 16:9, not the stored 3:2.
        assert picture.shape[1] / picture.shape[0] == pytest.approx(16 / 9, rel=0.005), name
    # The bars as wide as the square video's, so their letters are too.
    assert _panel_size(drawn["dv"]) == pytest.approx(_panel_size(drawn["square"]), abs=3)
    assert _panel_size(drawn["dv-h264"]) == pytest.approx(_panel_size(drawn["square"]), abs=3)
    # The CSV's boxes stay in the stored pixels, and the JSON says so and how to place them on
    # the annotated video, which is in square pixels.
    summary = json.loads((tmp_path / "dv" / "dv.emocam.json").read_text())
    assert Fraction(summary["pixel_aspect"]) == Fraction(32, 27)
    assert (summary["frame_size"], summary["video_size"]) == ([720, 480], [854, 480])
    row = read_csv(tmp_path / "dv" / "dv.emocam.csv")[0]
    x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
    aspect = float(Fraction(summary["pixel_aspect"]))
    assert (x + w / 2) * aspect == pytest.approx(600, abs=0.03 * 854)  # on the face
    # The box drawn where the CSV's box is shown: its right side, the overlay's rightmost
    # bright pixels over the box's height (its chip and the bars are to its left).
    band = drawn["dv"][round(y) + 5 : round(y + h) - 5]
    bright = np.flatnonzero(np.any(band.max(axis=2) > 150, axis=0))
    assert bright.max() == pytest.approx((x + w) * aspect, abs=3)
    # A re-analysis writes its video the same way (one writer for every run).
    run = run_cli(capfd, "process", "--reanalyse", tmp_path / "dv" / "dv.emocam.npz", "-o",
                  tmp_path / "again", "-q", "--no-report")
    assert run.code == 0, run.err
    again = first_picture_as_shown(tmp_path / "again" / "dv.reanalysed.mp4")
    assert again.shape[:2] == (480, 854)
    assert _panel_size(again) == pytest.approx(_panel_size(drawn["square"]), abs=3)


def test_an_odd_sized_video_is_written_in_h264_with_every_pixel(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], model_path: Path,
    face_images: dict[str, np.ndarray],
) -> None:
    image = np.full((361, 641, 3), 90, np.uint8)
    image[30:330, 170:470] = cv2.resize(face_images["astronaut"], (300, 300))
    src = tmp_path / "odd.avi"
    with av.open(str(src), "w") as out:  # raw frames: OpenCV's writers round odd sizes down
        stream = out.add_stream("rawvideo", rate=30)
        stream.width, stream.height, stream.pix_fmt = 641, 361, "bgr24"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
    run = run_cli(capfd, "process", src, "-o", tmp_path / "out", "--model", model_path,
                  "-q", "--video-codec", "h264")
    assert run.code == 0, run.err
    cap = cv2.VideoCapture(str(tmp_path / "out" / "odd.emocam.mp4"))
    ok, first = cap.read()
    # 4:2:0 needs even sizes: the last column and row are repeated, none is cut.
    assert ok and first.shape == (362, 642, 3)
    summary = json.loads((tmp_path / "out" / "odd.emocam.json").read_text())
    assert (summary["frame_size"], summary["video_size"]) == ([641, 361], [642, 362])
    assert frames_in(tmp_path / "out" / "odd.emocam.mp4") == 10


def test_an_h264_video_cut_off_by_a_crash_keeps_all_but_its_last_second(
    tmp_path: Path, image_one_face: Path
) -> None:
    face = cv2.resize(cv2.imread(str(image_one_face)), (320, 320))
    path = tmp_path / "run.emocam.mp4"
    encoder = open_encoder(path, "h264", 30.0, (320, 320))
    for i in range(150):  # 5 s of a face moving slowly: no scene cut, so no early keyframe
        encoder.write(np.roll(face, i, axis=1))
    crashed = tmp_path / "crashed.mp4"
    crashed.write_bytes(path.read_bytes())  # what a SIGKILL here would leave
    encoder.release()
    # Before: fragments ended at keyframes only, and x264 puts them up to 250 frames apart:
    # the crashed file held no frame at all.
    assert frames_in(crashed) >= 150 - 30 - 15  # the last second, and the encoder's delay
    assert frames_in(path) == 150

