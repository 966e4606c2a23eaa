"""Frame sources: files give every frame in order, cameras give the newest, and every bad
input is one clear SourceError naming it."""

from __future__ import annotations

import itertools
import logging
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from emocam.camera_source import CameraSource
from emocam.cameras import CameraInfo, camera_choices
from emocam.errors import SourceError
from emocam.input_kinds import input_kind
from emocam.photo_folder import photos_in
from emocam.sources import open_source
from emocam.video_source import VideoSource


def test_a_video_file_gives_every_frame_it_was_written_with(video_one_face) -> None:
    with open_source(video_one_face) as src:
        assert not src.is_live
        assert src.frame_count == video_one_face.frame_count
        assert src.fps == pytest.approx(30.0)
        assert src.size == (1280, 720)
        frames = list(src)
    assert [f.index for f in frames] == list(range(video_one_face.frame_count))
    assert all(f.image.shape == (720, 1280, 3) and f.image.dtype == np.uint8 for f in frames)
    assert len({id(f.image) for f in frames}) == len(frames)  # a new array per frame


def test_video_timestamps_increase_at_the_frame_rate(video_four_faces) -> None:
    with open_source(str(video_four_faces.path)) as src:
        times = [f.time_ms for f in src]
    assert times[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx((len(times) - 1) * 1000 / 30, abs=1.0)


def test_a_slow_reader_of_a_file_still_gets_every_frame(video_face_at_edge) -> None:
    with open_source(video_face_at_edge.path) as src:
        n = 0
        for _ in src:
            n += 1
            if n % 10 == 0:
                time.sleep(0.05)
    assert n == video_face_at_edge.frame_count


def test_seek_continues_from_the_requested_frame(video_face_at_edge) -> None:
    with open_source(video_face_at_edge) as src:
        first = next(iter(src))
        src.seek(20)
        rest = list(src)
    assert first.index == 0
    assert [f.index for f in rest] == list(range(20, video_face_at_edge.frame_count))
    assert rest[0].time_ms == pytest.approx(20 * 1000 / 30, abs=1.0)


def test_a_video_without_a_frame_rate_is_read_at_30_fps(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"f_{i:03d}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    cap = cv2.VideoCapture(str(tmp_path / "f_%03d.png"), cv2.CAP_IMAGES)  # reports fps -1
    ok, first = cap.read()
    assert ok
    with caplog.at_level(logging.WARNING), VideoSource(tmp_path, cap, first) as src:
        assert src.fps == 30.0
        times = [f.time_ms for f in src]
    assert "assuming 30 fps" in caplog.text
    assert times == pytest.approx([0.0, 1000 / 30, 2000 / 30, 3000 / 30])


def test_an_image_file_is_one_bgr_frame(image_one_face: Path) -> None:
    with open_source(image_one_face) as src:
        frames = list(src)
        assert src.frame_count == 1 and src.size == (640, 480)
    assert len(frames) == 1
    assert frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8


def _write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix, image)
    assert ok
    buf.tofile(path)  # np.tofile: any characters in the path
    return path


@pytest.mark.parametrize(
    "name, image",
    [
        ("gray.png", np.full((30, 40), 90, np.uint8)),
        ("rgba.png", np.dstack([np.full((30, 40, 3), 90, np.uint8), np.zeros((30, 40), np.uint8)])),
        ("deep.png", np.full((30, 40, 3), 90 * 257, np.uint16)),
        ("gray16.tif", np.full((30, 40), 90 * 257, np.uint16)),
        ("ünïcode dir 😀/fäce ímage 1.jpg", np.full((30, 40, 3), 90, np.uint8)),
    ],
)
def test_any_image_kind_loads_as_bgr_uint8(tmp_path: Path, name: str, image: np.ndarray) -> None:
    path = _write(tmp_path / name, image)
    with open_source(str(path)) as src:
        (frame,) = list(src)
    assert frame.image.shape == (30, 40, 3) and frame.image.dtype == np.uint8
    assert abs(int(frame.image.mean()) - 90) <= 2


def test_exif_rotation_of_a_photo_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # white on the left as stored
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif.tobytes())
    (frame,) = list(open_source(path))
    assert frame.image.shape[:2] == (40, 20)  # shown upright: portrait
    assert frame.image[:10].mean() > 200  # the white band is now on top
    # The same photo as a browser saves it (.jfif), or with no extension at all: before,
    # FFmpeg opened it as a one-frame video, lying on its side.
    for name in ("phone.jfif", "phone"):
        (tmp_path / name).write_bytes(path.read_bytes())
        source = open_source(tmp_path / name)
        (frame,) = list(source)
        assert source.frame_count == 1 and type(source).__name__ == "ImageSource"
        assert frame.image.shape[:2] == (40, 20) and frame.image[:10].mean() > 200


def test_an_animated_webp_png_or_gif_plays_every_picture_and_a_folder_says_it_reads_one(
    tmp_path: Path, image_one_face: Path, caplog: pytest.LogCaptureFixture
) -> None:
    face = np.asarray(Image.open(image_one_face).convert("RGB"))
    pictures = [Image.fromarray(np.roll(face, 12 * i, axis=1)) for i in range(6)]
    folder = tmp_path / "saved"
    folder.mkdir()
    for name in ("wave.webp", "wave.png", "wave.gif"):
        pictures[0].save(folder / name, save_all=True, append_images=pictures[1:],
                         duration=100, loop=0)
        # Before: read as a photo, the face's five other pictures went unseen, unsaid.
        with open_source(folder / name) as source:
            frames = list(source)
        assert len(frames) == 6 and not source.is_live
        assert [f.time_ms for f in frames] == pytest.approx([0, 100, 200, 300, 400, 500])
        assert np.abs(frames[3].image.astype(int) - frames[0].image).mean() > 5
        # Its length is known and it seeks, as a video does. FFmpeg counts no pictures in
        # it and cannot seek it: the app showed it as "live", and a seek gave the next
        # picture in order.
        with open_source(folder / name) as source:
            assert source.frame_count == 6
            for index in (4, 1):
                source.seek(index)
                frame = next(iter(source))
                assert frame.index == index and frame.time_ms == pytest.approx(100 * index)
                assert np.abs(frame.image.astype(int) - frames[index].image).mean() < 1
    pictures[0].save(folder / "still.webp")  # one picture stays a photo
    assert type(open_source(folder / "still.webp")).__name__ == "ImageSource"
    # A still GIF is a photo (it was a one-frame video, annotated into an .mp4), with its
    # colours.
    pictures[0].save(folder / "still.gif")
    with open_source(folder / "still.gif") as source:
        assert type(source).__name__ == "ImageSource"
        assert input_kind(folder / "still.gif") == "image"
        (still,) = list(source)
    assert np.abs(still.image.astype(int) - frames[0].image).mean() < 3
    # In a folder of photos each file is one picture (GIFs were not listed at all); the
    # animations are named.
    with caplog.at_level(logging.WARNING), open_source(folder) as source:
        assert len(list(source)) == 5
    said = [r.getMessage() for r in caplog.records if "animation" in r.getMessage()]
    assert len(said) == 3 and all("on its own" in s for s in said)
    assert ({Path(s.split(" is an animation")[0]).name for s in said}
            == {"wave.png", "wave.webp", "wave.gif"})


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def test_an_animation_is_known_by_its_picture_count_wherever_its_chunk_sits(
    tmp_path: Path, image_one_face: Path
) -> None:
    face = Image.open(image_one_face).convert("RGB")
    moved = Image.fromarray(np.roll(np.asarray(face), 20, axis=1))
    face.save(tmp_path / "anim.png", save_all=True, append_images=[moved], duration=100)
    data = (tmp_path / "anim.png").read_bytes()
    ihdr_end = 8 + 25
    # An APNG whose animation chunk follows 70 KB of metadata (the file's own order): read
    # as a photo before, its second picture unseen.
    text = _png_chunk(b"tEXt", b"Comment\0" + b"x" * 70_000)
    (tmp_path / "late.png").write_bytes(data[:ihdr_end] + text + data[ihdr_end:])
    assert input_kind(tmp_path / "late.png") == "video"
    # An APNG of one picture is a photo, annotated as one (it was made a one-frame .mp4).
    face.save(tmp_path / "plain.png")
    plain = (tmp_path / "plain.png").read_bytes()
    one = _png_chunk(b"acTL", struct.pack(">II", 1, 0))
    (tmp_path / "one.png").write_bytes(plain[:ihdr_end] + one + plain[ihdr_end:])
    assert input_kind(tmp_path / "one.png") == "image"
    assert type(open_source(tmp_path / "one.png")).__name__ == "ImageSource"


def test_a_folder_gives_its_images_in_natural_order(tmp_path: Path) -> None:
    for i in (10, 2, 1):
        _write(tmp_path / f"img{i}.png", np.full((8, 8, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    _write(tmp_path / "img3.png", np.zeros((8, 8, 3), np.uint8)).write_bytes(b"broken")
    with open_source(tmp_path) as src:
        assert src.frame_count == 4
        frames = list(src)
    assert [f.image[0, 0, 0] for f in frames] == [1, 2, 10]  # img3 is broken: skipped
    assert [Path(f.source).name for f in frames] == ["img1.png", "img2.png", "img10.png"]
    assert [f.index for f in frames] == [0, 1, 3]


def test_a_folder_of_photos_without_suffixes_is_read_by_their_content(tmp_path: Path) -> None:
    # A camera's or a scanner's dump (0001, 0002, 0010): "contains no images", though each
    # file given alone was read.
    for i in (10, 2, 1):
        path = tmp_path / f"{i:04d}"
        _write(tmp_path / "x.jpg", np.full((8, 8, 3), i * 20, np.uint8)).rename(path)
    (tmp_path / "README").write_text("not an image")
    (tmp_path / "NOTES").write_text("BMW service notes: a text file that starts like a BMP")
    with open_source(tmp_path) as src:
        assert [Path(f.source).name for f in src] == ["0001", "0002", "0010"]
    # Only in a folder of such files: one beside videos (or photos with suffixes) leaves the
    # folder what it was (a review found a folder of videos turned into one of photos).
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "talk.mp4").write_bytes(b"")
    (tmp_path / "0001").rename(videos / "cover")
    assert photos_in(videos) == []


def _bad_inputs(tmp: Path, video: Path) -> dict[str, Path | str | int]:
    (tmp / "empty dir").mkdir()
    (tmp / "only text").mkdir()
    (tmp / "only text" / "a.txt").write_text("hello")
    (tmp / "zero.mp4").write_bytes(b"")
    (tmp / "notes.mp4").write_text("this is not a video\n" * 50)
    data = video.read_bytes()
    (tmp / "cut.mp4").write_bytes(data[: len(data) // 2])
    (tmp / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 500)
    (tmp / "talks").mkdir()
    (tmp / "talks" / "talk.mp4").write_bytes(data)
    (tmp / "clip.jpg").write_bytes(data)
    # An iPhone's HEIC saved as .jpg, or copied without a name's extension: its ftyp box.
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(2000)
    (tmp / "IMG_0001.jpg").write_bytes(heic)
    (tmp / "IMG_0002").write_bytes(heic)
    return {
        "missing": tmp / "nope.mp4",
        "empty folder": tmp / "empty dir",
        "folder without images": tmp / "only text",
        "zero bytes": tmp / "zero.mp4",
        "not a video": tmp / "notes.mp4",
        "truncated video": tmp / "cut.mp4",
        "corrupt image": tmp / "broken.jpg",
        "folder of videos": tmp / "talks",
        "video named as a photo": tmp / "clip.jpg",
        "HEIC named as a JPEG": tmp / "IMG_0001.jpg",
        "HEIC without an extension": tmp / "IMG_0002",
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty folder",
        "folder without images",
        "zero bytes",
        "not a video",
        "truncated video",
        "corrupt image",
        "folder of videos",
        "video named as a photo",
        "HEIC named as a JPEG",
        "HEIC without an extension",
    ],
)
def test_every_bad_input_is_one_sentence_naming_it(
    tmp_path: Path, video_face_at_edge, case: str
) -> None:
    spec = _bad_inputs(tmp_path, video_face_at_edge.path)[case]
    with pytest.raises(SourceError) as err:
        open_source(spec)
    msg = str(err.value)
    assert str(spec) in msg and msg.endswith(".") and "\n" not in msg
    if case == "folder of videos":  # says what to do with them
        assert "1 video(s)" in msg and "emocam process" in msg
    if case == "video named as a photo":  # it said "may be corrupt", of a good video
        assert "is a video under a photo's name" in msg and "clip.mp4" in msg
    if case == "corrupt image":  # a broken JPEG is still called one
        assert "cannot be decoded" in msg
    if case.startswith("HEIC"):  # it was "cannot be decoded", or "cannot be opened as a video"
        assert "is a HEIC photo (whatever its name says)" in msg and "convert it to JPEG" in msg


def test_a_camera_that_does_not_open_is_named() -> None:
    with pytest.raises(SourceError, match="Camera 9"):
        open_source("9")


def _file_camera(video: Path, fps: float, stall_s: float = 2.0) -> CameraSource:
    """A real capture of a video file standing in for a webcam, paced like one."""
    return CameraSource(
        cv2.VideoCapture(str(video)), "Test camera", stall_timeout_s=stall_s, pace_fps=fps
    )


def test_a_slow_reader_of_a_camera_gets_the_newest_frame_not_a_queue(video_four_faces) -> None:
    with _file_camera(video_four_faces.path, fps=60) as cam:
        assert cam.is_live and cam.frame_count is None
        got = []
        for frame in cam:
            got.append((frame, cam.captured))
            if len(got) == 4:
                break
            time.sleep(0.15)  # a slow pipeline: ~9 frames arrive meanwhile
    indices = [f.index for f, _ in got]
    assert all(b - a >= 3 for a, b in itertools.pairwise(indices))  # older dropped
    for frame, captured in got[1:]:
        # What we got was (nearly) the newest: a queue would be ~9 frames behind by the second
        # read and more after. 5 frames (83 ms) leaves room for a loaded machine's scheduler.
        assert frame.index >= captured - 5
    times = [f.time_ms for f, _ in got]
    assert all(b > a for a, b in itertools.pairwise(times))


def test_a_camera_that_stops_delivering_frames_is_reported(video_face_at_edge) -> None:
    with _file_camera(video_face_at_edge.path, fps=200, stall_s=0.5) as cam:  # 30 frames
        t = time.monotonic()
        with pytest.raises(SourceError, match="Test camera stopped delivering frames"):
            for _ in cam:
                pass
        assert time.monotonic() - t < 3.0


def test_a_video_damaged_in_the_middle_skips_only_the_damaged_frames(
    tmp_path: Path, video_face_at_edge, caplog: pytest.LogCaptureFixture
) -> None:
    n = video_face_at_edge.frame_count
    path = tmp_path / "damaged.mp4"
    for frac in np.linspace(0.15, 0.6, 10):  # decoders hide some damage; find some they don't
        data = bytearray(video_face_at_edge.path.read_bytes())
        at = int(len(data) * frac)
        data[at : at + 8000] = bytes(8000)
        path.write_bytes(bytes(data))
        cap = cv2.VideoCapture(str(path))
        plain = [cap.read()[0] for _ in range(n)]
        cap.release()
        if n // 2 < sum(plain) < n:
            break
    else:
        pytest.skip("no damage this decoder cannot hide")
    with caplog.at_level(logging.WARNING), open_source(path) as src:
        frames = list(src)
    assert len(frames) == sum(plain)  # every decodable frame, nothing stops early
    assert [f.index for f in frames] == [i for i, ok in enumerate(plain) if ok]
    assert "could not be decoded" in caplog.text and str(path) in caplog.text


def test_the_camera_menu_lists_the_cameras_found_and_the_chosen_one_even_if_missing():
    found = [CameraInfo(0, "Laptop (0)"), CameraInfo(2, "USB (2)")]
    assert camera_choices(found, 2) == [("Laptop (0)", 0), ("USB (2)", 2)]
    assert camera_choices(found, 1)[-1] == ("Camera 1 (not found)", 1)
    assert camera_choices(None, 1) == [("Searching... (camera 1)", 1)]


def test_a_jpeg_cut_short_gives_the_part_there_is_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A copy that stopped half-way: photo viewers show its upper part; emocam refused it.
    import matplotlib

    hopper = next(Path(matplotlib.get_data_path()).rglob("grace_hopper.jpg"))
    whole = hopper.read_bytes()
    cut = tmp_path / "copied.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING), open_source(cut) as source:
        (frame,) = list(source)
    full = np.asarray(Image.open(hopper).convert("RGB"))[:, :, ::-1]
    assert frame.image.shape == full.shape
    top = frame.image[: full.shape[0] // 4].astype(int)
    assert np.abs(top - full[: full.shape[0] // 4]).mean() < 3  # her hat and face are there
    assert "copied.jpg is damaged or cut short" in caplog.text


def test_a_folder_whose_photos_are_in_subfolders_says_so(tmp_path: Path,
                                                         image_one_face: Path) -> None:
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / image_one_face.name).write_bytes(image_one_face.read_bytes())
    with pytest.raises(SourceError) as err:
        open_source(tmp_path)
    # Before: "contains no images", as if the photos were not there at all.
    assert "subfolders are not searched" in str(err.value)
    assert "day1, day2 hold photos" in str(err.value) and str(tmp_path / "*") in str(err.value)


def test_a_folder_whose_photos_are_two_levels_down_names_them_and_the_glob(
        tmp_path: Path, image_one_face: Path) -> None:
    # It was "choose a folder of photos", as if there were none.
    for trip in ("2024/spain", "2024/italy", "2025/norway"):
        (tmp_path / trip).mkdir(parents=True)
        (tmp_path / trip / image_one_face.name).write_bytes(image_one_face.read_bytes())
    with pytest.raises(SourceError) as err:
        open_source(tmp_path)
    said = str(err.value)
    assert "2024/italy, 2024/spain, 2025/norway hold photos" in said, said
    assert str(tmp_path / "*" / "*") in said


def test_a_photo_deleted_while_its_folder_plays_is_said_to_be_gone(
    tmp_path: Path, image_one_face: Path
) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}{image_one_face.suffix}").write_bytes(image_one_face.read_bytes())
    (tmp_path / "d.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 500)  # damaged
    with open_source(tmp_path) as source:
        frames = iter(source)
        next(frames)
        (tmp_path / f"c{image_one_face.suffix}").unlink()  # deleted while it plays
        assert len(list(frames)) == 1
    # Before: "could not be read as photos" of both, sending the user to look for damage.
    said = source.ended_early
    assert f"c{image_one_face.suffix} was gone (deleted or moved)" in said
    assert "d.jpg could not be read as a photo" in said and "(2 of 4)" in said


def test_the_camera_in_use_is_listed_without_being_opened_a_second_time(monkeypatch):
    # Windows' and macOS's capture APIs let one user hold a webcam: a search that opened
    # the app's own camera took it from the app (or failed to list it).
    from types import SimpleNamespace

    from emocam import cameras

    opened: list[int] = []
    real = cv2.VideoCapture

    def capture(index: int, *args: object) -> cv2.VideoCapture:
        opened.append(index)
        return real()  # opens nothing, as for a missing device

    monkeypatch.setattr(cameras, "sys", SimpleNamespace(platform="win32"))  # no /dev to read
    monkeypatch.setattr(cameras.cv2, "VideoCapture", capture)
    found = cameras.probe_cameras(range(3), in_use=1)
    assert opened == [0, 2]
    assert [c.index for c in found] == [1]


def test_a_camera_that_does_not_open_on_a_mac_names_the_camera_permission():
    # OpenCV says "not authorized to capture video" on stderr only: the user heard
    # "connected and not in use" and looked in the wrong place.
    from emocam.camera_source import _what_to_check

    assert "Privacy & Security > Camera" in _what_to_check("darwin")
    assert "Privacy" not in _what_to_check("linux")
