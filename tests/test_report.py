"""The report (``NAME.emocam.html``): its numbers are the JSON summary's, it fetches nothing,
and it shows faces only where the run keeps frames."""

from __future__ import annotations

import base64
import json
import re
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from anamorphic_helpers import stored_video
from cli_helpers import run_cli

from benchmarks.media import Placement, render


class ReportNumbers(HTMLParser):
    """Every ``data-key``/``data-value`` pair, by the face section it is in; the images."""

    def __init__(self) -> None:
        super().__init__()
        self.faces: dict[str, dict[str, float]] = {}
        self.images: dict[str, str] = {}
        self.svgs = 0
        self._face: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-face" in a:
            self._face = str(a["data-face"])
            self.faces[self._face] = {}
        if "data-key" in a and self._face is not None:
            self.faces[self._face][str(a["data-key"])] = float(str(a["data-value"]))
        if tag == "img" and self._face is not None:
            self.images[self._face] = str(a["src"])
        if tag == "svg":
            self.svgs += 1


def read_report(path: Path) -> ReportNumbers:
    parser = ReportNumbers()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def process(capfd: pytest.CaptureFixture[str], video: Path, out: Path, model: Path,
            *flags: object) -> tuple[dict, Path]:
    run = run_cli(capfd, "process", video, "-o", out, "--model", model, "-q", *flags)
    assert run.code == 0, run.err
    return json.loads((out / "interview.emocam.json").read_text()), out / "interview.emocam.html"


def thumbnail(src: str) -> np.ndarray:
    assert src.startswith("data:image/jpeg;base64,")
    data = np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert image is not None
    return image


def face_stretch(image: np.ndarray, reference: np.ndarray) -> float:
    """How many times wider for its height the face in ``image`` is than in ``reference``
    (two thumbnails of one face, framed and sized a little differently): the affine warp
    that lays one on the other, its scale across over its scale down."""
    grey = [cv2.cvtColor(i, cv2.COLOR_BGR2GRAY).astype(np.float32) for i in (reference, image)]
    warp = np.array([[1, 0, (image.shape[1] - reference.shape[1]) / 2],
                     [0, 1, (image.shape[0] - reference.shape[0]) / 2]], np.float32)
    stop = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    alike, warp = cv2.findTransformECC(*grey, warp, cv2.MOTION_AFFINE, stop, None, 5)
    assert alike > 0.9, "not the same face"
    return float(np.linalg.norm(warp[:, 0]) / np.linalg.norm(warp[:, 1]))


def test_the_reports_numbers_are_the_json_summarys(plain_run: Path) -> None:
    summary = json.loads((plain_run / "interview.emocam.json").read_text())
    assert summary["outputs"]["report"] == str(plain_run / "interview.emocam.html")
    report = read_report(plain_run / "interview.emocam.html")
    assert set(report.faces) == set(summary["faces"]) and len(report.faces) >= 2
    for fid, face in summary["faces"].items():
        got = report.faces[fid]
        assert got["frames"] == face["frames"]
        assert got["uncertain_share"] == face["uncertain_frames"] / face["frames"]
        for name in summary["class_names"]:
            assert got[f"share_of_time.{name}"] == face["share_of_time"][name]
            assert got[f"mean_probabilities.{name}"] == face["mean_probabilities"][name]
    # One chart of the shares, one timeline per face.
    assert report.svgs == 1 + len(summary["faces"])
    text = (plain_run / "interview.emocam.html").read_text()
    for fact in (summary["model"], summary["detector"], summary["provider"]):
        assert fact in text
    assert re.search(r"\d+\.\d+% \(majority, \d+ images\)", text)  # the model's accuracy


def test_the_report_says_its_shares_are_of_time_not_of_frames(plain_run: Path) -> None:
    # The shares weigh each frame by how long it is shown (a variable-rate video's still
    # part: one frame for seconds); the note said "how often", which a reader takes for a
    # count of frames (on a VFR file: 45.9% of the time, 14.3% of the frames).
    text = (plain_run / "interview.emocam.html").read_text()
    note = re.search(r'<p class="note">Share of time:(.*?)</p>', text, re.S)
    assert note is not None
    assert "how often" not in note.group(1)
    assert "as long as it is shown" in note.group(1)


def test_the_report_fetches_nothing(plain_run: Path) -> None:
    text = (plain_run / "interview.emocam.html").read_text()
    for src in re.findall(r'\bsrc="([^"]*)"', text):
        assert src.startswith("data:image/jpeg;base64,")
    text = re.sub(r'src="data:[^"]*"', "", text)  # base64 may hold any "//x"
    assert not re.search(r"https?:|//[a-z]", text, re.I)  # no address of any kind
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text, re.I)
    assert not re.search(r"@import|url\((?!#)", text, re.I)  # url(#id): an SVG clip path


def test_each_face_has_a_thumbnail_at_its_most_confident_moment(plain_run: Path) -> None:
    report = read_report(plain_run / "interview.emocam.html")
    assert set(report.images) == set(report.faces)
    for src in report.images.values():
        h, w = thumbnail(src).shape[:2]
        assert 40 <= max(h, w) <= 112


@pytest.mark.parametrize("flag", ["--no-frames", "--boxes-only"])
def test_no_thumbnail_when_the_run_keeps_no_camera_pixels(
    capfd: pytest.CaptureFixture[str], video_two_shots: Path, model_path: Path,
    tmp_path: Path, flag: str,
) -> None:
    summary, path = process(capfd, video_two_shots, tmp_path, model_path, flag, "--no-sidecar")
    report = read_report(path)
    assert report.images == {}
    assert set(report.faces) == set(summary["faces"])  # the numbers are all still there


def test_blurred_faces_get_blurred_thumbnails(
    capfd: pytest.CaptureFixture[str], video_two_shots: Path, model_path: Path,
    tmp_path: Path, plain_run: Path,
) -> None:
    _, path = process(capfd, video_two_shots, tmp_path, model_path, "--blur-faces",
                      "--no-sidecar")
    blurred = read_report(path).images
    plain = read_report(plain_run / "interview.emocam.html").images
    assert set(blurred) == set(plain)
    for fid, src in blurred.items():
        def sharpness(image: np.ndarray) -> float:
            return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),
                                       cv2.CV_64F).var())
        assert sharpness(thumbnail(src)) < 0.3 * sharpness(thumbnail(plain[fid])), fid


def test_an_anamorphic_videos_thumbnail_shows_the_face_as_the_player_does(
    capfd: pytest.CaptureFixture[str], model_path: Path, tmp_path: Path,
) -> None:
    # A 16:9 picture stored 720x480 (DVD, DV camcorders, pixels 32:27 wide) and the same
    # picture in square pixels. Before, the thumbnail was cut from the stored pixels: Grace
    # Hopper's face was 16% narrower than in the player, the app and the annotated video.
    shown = render((854, 480), [Placement("hopper", 600, 240, 170)], seed=2)
    sources = {"dv": stored_video(shown, tmp_path / "dv.mp4", 720, Fraction(32, 27), 4),
               "square": stored_video(shown, tmp_path / "square.mp4", 854, Fraction(1), 4)}
    thumbs: dict[str, np.ndarray] = {}
    for name, src in sources.items():
        run = run_cli(capfd, "process", src, "-o", tmp_path / name, "--model", model_path,
                      "-q")
        assert run.code == 0, run.err
        [thumbs[name]] = [thumbnail(s) for s in
                          read_report(tmp_path / name / f"{name}.emocam.html").images.values()]
    # A re-analysis rebuilds the report from the sidecar, which knows the pixels' shape.
    run = run_cli(capfd, "process", "--reanalyse", tmp_path / "dv" / "dv.emocam.npz", "-o",
                  tmp_path / "again", "-q")
    assert run.code == 0, run.err
    [thumbs["again"]] = [thumbnail(s) for s in
                         read_report(tmp_path / "again" / "dv.reanalysed.html").images.values()]

    # The face as wide for its height as in the square video's thumbnail (the thumbnail
    # itself is a little wider: the detector's box is square in the stored pixels).
    for name in ("dv", "again"):
        assert face_stretch(thumbs[name], thumbs["square"]) == pytest.approx(1, abs=0.03), name


def test_no_report_writes_none_and_reanalyse_rewrites_it(
    capfd: pytest.CaptureFixture[str], video_two_shots: Path, model_path: Path,
    tmp_path: Path,
) -> None:
    process(capfd, video_two_shots, tmp_path, model_path, "--no-report", "--no-video")
    assert not (tmp_path / "interview.emocam.html").exists()
    run = run_cli(capfd, "process", "--reanalyse", tmp_path / "interview.emocam.npz",
                  "--smoothing", "0", "--label-map", "anger=negative,disgust=negative", "-q")
    assert run.code == 0, run.err
    summary = json.loads((tmp_path / "interview.reanalysed.json").read_text())
    report = read_report(tmp_path / "interview.reanalysed.html")
    assert "negative" in summary["class_names"]
    for fid, face in summary["faces"].items():
        for name in summary["class_names"]:
            assert report.faces[fid][f"share_of_time.{name}"] == face["share_of_time"][name]
    assert "re-analysed from" in (tmp_path / "interview.reanalysed.html").read_text()


def test_each_emotion_has_the_colour_it_has_on_the_video_and_in_the_app(plain_run: Path) -> None:
    # The report took matplotlib's palette: anger was blue there, red on the video. Its
    # page is white, so a colour that would fade into it (neutral's light grey) is darker.
    import colorsys

    from emocam.contrast import MIN_CONTRAST, WHITE, contrast
    from emocam.overlay import class_color

    page = (plain_run / "interview.emocam.html").read_text(encoding="utf-8")
    swatches = dict((name, colour) for colour, name in re.findall(
        r'class="swatch" style="background:(#[0-9a-f]{6})"></span>([a-z]+)', page))
    assert set(swatches) >= {"happiness", "anger", "neutral"}
    for name, colour in swatches.items():
        drawn = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        video = class_color(name, 0)[::-1]
        assert contrast(drawn, WHITE) >= MIN_CONTRAST, name
        if drawn != video:  # darkened, not another colour
            assert all(d <= v for d, v in zip(drawn, video, strict=True)), name
            h1, _, s1 = colorsys.rgb_to_hls(*(v / 255 for v in video))
            h2, _, _ = colorsys.rgb_to_hls(*(d / 255 for d in drawn))
            assert s1 < 0.05 or abs(h1 - h2) < 0.03, name
    assert swatches["anger"] == "#{:02x}{:02x}{:02x}".format(*class_color("anger", 0)[::-1])


def test_a_run_of_many_faces_gives_sections_to_those_seen_longest_and_lists_the_rest(
    video_two_shots: Path, model_path: Path, tmp_path: Path,
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 20-minute run whose tracker started 3,438 faces wrote one section (thumbnail and a
    # matplotlib timeline) each: 168 s after the progress bar's end, 1.2 GB, a 59 MB page.
    # Here the limit is one section, and the interview has more faces than that.
    from emocam import report

    monkeypatch.setattr(report, "MAX_SECTIONS", 1)
    summary, page = process(capfd, video_two_shots, tmp_path, model_path)
    faces = summary["faces"]
    assert len(faces) >= 2
    longest = max(faces, key=lambda f: faces[f]["frames"])
    shown = read_report(page)
    assert set(shown.faces) == {longest} and shown.svgs == 2  # the shares and its timeline
    text = page.read_text(encoding="utf-8")
    assert f"Other faces ({len(faces) - 1})" in text
    for fid in set(faces) - {longest}:
        assert f'<tr id="face-{fid}">' in text
