"""The app's File > Export as a run of ``emocam process``: the names of its set, the codec and
what the user is told, without a window."""

from __future__ import annotations

from pathlib import Path

from emocam.export_job import ExportJob, ExportOutcome
from emocam.overlay import OverlayOptions
from emocam.pipeline import PipelineConfig


def _job(source: str) -> ExportJob:
    return ExportJob(Path("/videos") / source, 90, PipelineConfig(), OverlayOptions())


def test_an_export_is_named_after_the_file_the_user_chose_sidecar_included():
    opts = _job("talk.mp4").options(Path("/out/clip.mp4"), "h264")
    assert (opts.output_video, opts.csv, opts.json, opts.sidecar) == (
        Path("/out/clip.mp4"), Path("/out/clip.csv"), Path("/out/clip.json"),
        Path("/out/clip.emocam.npz"))
    assert opts.input == Path("/videos/talk.mp4") and opts.overwrite and not opts.progress
    assert opts.video_codec == "h264"


def test_a_photos_annotated_copy_keeps_the_photos_type():
    job = _job("face.JPG")
    assert job.is_photo
    assert job.suggested_output() == Path("/videos/face.emocam.jpg")
    assert job.options(Path("/out/copy"), "mp4v").output_video == Path("/out/copy.jpg")
    # A type the user typed is kept: annotated.png is what they asked for.
    assert job.options(Path("/out/copy.png"), "mp4v").output_video == Path("/out/copy.png")


def test_a_browser_photo_or_one_without_an_extension_is_exported_as_a_photo(
    tmp_path: Path, image_one_face: Path
):
    # Before: .jfif was suggested as face.emocam.jfif, which OpenCV cannot write (a cv2
    # traceback), and a photo without an extension as an .mp4.
    for name in ("face.jfif", "face"):
        (tmp_path / name).write_bytes(image_one_face.read_bytes())
        job = ExportJob(tmp_path / name, 1, PipelineConfig(), OverlayOptions())
        assert job.is_photo, name
        assert job.suggested_output() == tmp_path / "face.emocam.jpg", name


def test_files_of_the_user_beside_the_chosen_name_are_named_before_an_export_replaces_them(
    tmp_path: Path,
):
    job = ExportJob(tmp_path / "talk.mp4", 90, PipelineConfig(), OverlayOptions())
    assert job.replaced_by(tmp_path / "data.mp4") == []
    for name in ("data.csv", "data.json", "data.mp4", "notes.txt"):
        (tmp_path / name).write_text("the user's own\n")
    # data.mp4 itself was the dialog's question; its CSV and JSON are not the user's choice.
    assert job.replaced_by(tmp_path / "data.mp4") == [tmp_path / "data.csv",
                                                      tmp_path / "data.json"]
    # Named as `emocam process` names its set, the export replaces that set whole: the
    # earlier annotated copy of another type goes too, and the dialog names it.
    for name in ("talk.emocam.mp4", "talk.emocam.csv", "talk.emocam.json", "talk.emocam.npz"):
        (tmp_path / name).write_text("an earlier run's\n")
    assert job.replaced_by(tmp_path / "talk.emocam.mkv") == [
        tmp_path / "talk.emocam.csv", tmp_path / "talk.emocam.json",
        tmp_path / "talk.emocam.npz", tmp_path / "talk.emocam.mp4"]
    photo = ExportJob(tmp_path / "face.jpg", 1, PipelineConfig(), OverlayOptions())
    (tmp_path / "copy.jpg").write_text("the user's own\n")
    assert photo.replaced_by(tmp_path / "copy") == [tmp_path / "copy.jpg"]


def test_a_codec_emocam_does_not_write_falls_back_to_the_default():
    assert _job("talk.mp4").options(Path("/out/a.mp4"), "vp9").video_codec == "mp4v"
    assert _job("talk.mp4").suggested_output() == Path("/videos/talk.emocam.mp4")


def test_the_outcome_says_how_many_frames_and_whether_it_was_cancelled():
    files = {"video": "a.mp4", "csv": "a.csv"}
    assert ExportOutcome(True, 1, files).message() == ("Exported 1 frame: a.mp4, a.csv.", "info")
    text, level = ExportOutcome(False, 3, files).message()
    assert text.startswith("Export cancelled after 3 frames;") and level == "info"
    # Cancelled while replacing an earlier export: its results so far are hidden files.
    staged = {"csv": "/v/.a.emocam.partial.csv", "json": "/v/.a.emocam.partial.json"}
    text, _ = ExportOutcome(False, 3, staged).message()
    assert "unchanged" in text and "hidden" in text and "usable" not in text
    assert ExportOutcome(True, -1, files, "No face was found.").message() == (
        "No face was found.", "warning")


def test_a_folder_of_photos_is_exported_to_a_folder_with_its_csv_and_json_beside_it(
    tmp_path: Path,
):
    photos = tmp_path / "photos"
    photos.mkdir()
    job = ExportJob(photos, 3, PipelineConfig(), OverlayOptions())
    assert job.is_folder and job.suggested_output() == tmp_path / "photos.emocam"
    opts = job.options(tmp_path / "out" / "annotated", "mp4v")
    out = tmp_path / "out"
    assert (opts.output_video, opts.csv, opts.json, opts.sidecar) == (
        out / "annotated", out / "annotated.csv", out / "annotated.json",
        out / "annotated.emocam.npz")


def test_the_bundled_sample_is_exported_to_the_users_folder_not_into_the_package(tmp_path):
    # The save dialog started in the installed package's assets folder (site-packages).
    from emocam.resources import sample_video_path

    sample = ExportJob(sample_video_path(), 180, PipelineConfig(), OverlayOptions())
    # The last folder used is the package's own (the sample was opened): the next one.
    elsewhere = [sample_video_path().parent, tmp_path / "gone", tmp_path]
    assert sample.suggested_output(elsewhere) == tmp_path / "sample.emocam.mp4"
    own = ExportJob(tmp_path / "talk.mp4", 1, PipelineConfig(), OverlayOptions())
    assert own.suggested_output([Path.home()]) == tmp_path / "talk.emocam.mp4"


def test_a_folder_of_annotated_photos_is_named_as_a_folder_in_the_outcome(tmp_path):
    folder = tmp_path / "my photos.emocam"
    folder.mkdir()
    text, _ = ExportOutcome(True, 3, {"video": str(folder), "csv": f"{folder}.csv"}).message()
    assert f"{folder}/, {folder}.csv." in text
