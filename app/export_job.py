"""The app's File > Export as a run of ``emocam process``: the options it asks for and what
the user is told when it ends.

Qt-free, so the rules are tested without a window: ``emocam.gui.export`` runs the job on a
thread and ``emocam.gui.export_control`` asks for a name and shows the outcome.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emocam.audio import has_sound
from emocam.encoders import known_codec
from emocam.errors import frames_text
from emocam.input_kinds import IMAGE_EXTS, input_kind
from emocam.outputnames import annotated_image_suffix
from emocam.outputs import (
    SUFFIX,
    default_output,
    export_names,
    folder_for_plan,
    output_base,
    plan_for,
    removed_by,
    report_name,
    sidecar_beside,
)
from emocam.overlay import OverlayOptions
from emocam.photo_folder import photos_in
from emocam.pipeline import PipelineConfig
from emocam.process import ProcessOptions, ProcessResult, sound_wanted
from emocam.resources import sample_video_path
from emocam.staging import is_staged


def _package_folder() -> Path:
    return sample_video_path().resolve().parent


def _may_write_in(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


def _may_export_to(folder: Path) -> bool:
    """A folder an export may be suggested in: there, writable, not inside the package."""
    return _may_write_in(folder) and folder.resolve() != _package_folder()


def _may_write_beside(source: Path) -> bool:
    if source.resolve() == sample_video_path().resolve():
        return False
    return _may_write_in(source.resolve().parent)


@dataclass(frozen=True)
class ExportJob:
    """The open file and the choices in force when the user asks for an export."""

    source: Path
    frame_count: int | None  # for the progress bar; None or 0 when not known
    pipeline: PipelineConfig
    overlay: OverlayOptions

    @property
    def is_photo(self) -> bool:
        return input_kind(self.source) == "image"

    @property
    def is_folder(self) -> bool:
        """A folder of photos: its annotated copy is a folder of annotated photos."""
        return self.source.is_dir()

    def suggested_output(self, elsewhere: Sequence[Path] = (),
                         last_export: Path | None = None) -> Path:
        """Where the save dialog starts, named as ``emocam process`` would name the
        annotated copy: in ``last_export``, the folder the user exported to last (see
        ``folder_to_remember``), while it is there to write in; else beside the source; in
        the first of ``elsewhere`` (the last folder opened from, the user's Videos folder,
        ...) that may be written to when the source is the bundled sample, whose folder is
        inside the installed package, or its folder may not be written to (a camera's card,
        a shared drive)."""
        if self.is_folder:
            beside = output_base(self.source, None, is_folder=True)  # photos.emocam/
        else:
            ext = annotated_image_suffix(self.source).lstrip(".") if self.is_photo else "mp4"
            beside = default_output(self.source, None, ext)
        if last_export is not None and _may_export_to(last_export):
            beside = last_export / beside.name
        elif not _may_write_beside(self.source):
            usable = [d for d in elsewhere if _may_export_to(d)]
            beside = usable[0] / beside.name if usable else beside
        return self._unused_folder(beside) if self.is_folder else beside

    def folder_to_remember(self, output: Path) -> Path | None:
        """The folder the next export starts in after one to ``output``: its folder, or None
        when that is the source's own (the next export then starts beside its own source,
        as this one did: exporting beside each video is a habit too)."""
        folder = output.parent
        return None if folder.resolve() == self.source.resolve().parent else folder

    def _unused_folder(self, folder: Path) -> Path:
        """``photos.emocam`` or, once an export is there, ``photos-2.emocam`` (-3, ...): a
        save dialog cannot pick a folder that exists (it opens it instead, with Save greyed
        out), so suggesting the last export's folder left the user inside it, where the name
        typed next made a set within that set."""
        stem = folder.name.removesuffix(SUFFIX)
        n, free = 1, folder
        while free.exists() or self.replaced_by(free):
            n += 1
            free = folder.with_name(f"{stem}-{n}{SUFFIX}")
        return free

    def options(self, output: Path, codec: str) -> ProcessOptions:
        """The run that writes ``output`` plus its .csv, .json, .npz and .html beside it; a
        video in ``codec``."""
        video, csv, json_path, sidecar = export_names(output)
        if self.is_folder:  # the folder as named, its CSV, JSON and sidecar beside it
            video = output
            csv, json_path = (output.with_name(output.name + ext) for ext in (".csv", ".json"))
            sidecar = sidecar_beside(csv)
        elif self.is_photo and output.suffix.lower() not in IMAGE_EXTS:
            video = video.with_suffix(annotated_image_suffix(self.source))  # a photo's type
        # The whole set is named after the file the user chose, the sidecar too: beside the
        # source it would replace the sidecar of a command-line run of the same video.
        return ProcessOptions(input=self.source, output_video=video, csv=csv, json=json_path,
                              sidecar=sidecar, sidecar_optional=False, overwrite=True,
                              progress=False,
                              pipeline=self.pipeline, overlay=self.overlay,
                              video_codec=known_codec(codec))

    def replaced_by(self, output: Path) -> list[Path]:
        """The files an export to ``output`` would replace besides ``output`` itself (which
        the save dialog asked about): its CSV, JSON, sidecar and report beside it, and the
        annotated copy when its name is not the one typed."""
        opts = self.options(output, "mp4v")  # the codec changes no name
        written = [opts.output_video, opts.csv, opts.json, opts.sidecar]
        if opts.json is not None:
            written.append(report_name(opts.json))
        replaced = [p for p in written if p is not None and p != output and p.exists()]
        # An export named as `emocam process` names its set replaces that set whole: its
        # files this export does not write again (an annotated copy of another type) go.
        base = output_base(self.source, None, is_folder=self.is_folder)
        gone = removed_by(opts.request(), self.kind, base, self.source)
        return replaced + [p for p in gone if p not in replaced and p != output]

    def check(self, output: Path) -> None:
        """Raise the OutputError the run would raise for ``output`` before writing anything
        (the source itself, a file another run is writing), so that it is said before the
        user is asked whether to replace files: the app had asked to replace the source
        video, and said only after a Yes that it would not.

        A folder typed in the save dialog that is not there yet is made, as ``emocam process
        -o`` makes its folder (and removed again when the export is refused); before, the
        export was refused, telling the user to create it first and naming the CSV."""
        photos = photos_in(self.source) if self.is_folder else []
        with folder_for_plan(output.parent):
            plan_for(self.options(output, "mp4v").request(), self.kind, photos,
                     output_base(self.source, None, is_folder=self.is_folder), self.source)

    @property
    def kind(self) -> str:
        """``emocam.outputs``' kind of input: "folder", "image" or "video"."""
        return "folder" if self.is_folder else "image" if self.is_photo else "video"


@dataclass(frozen=True)
class ExportOutcome:
    completed: bool
    frames: int
    outputs: dict[str, str]
    warning: str = ""  # e.g. no face was found (the outputs were still written)
    note: str = ""  # said after the frame count, e.g. why the video has no sound
    ended_early: str = ""  # what of the input could not be read: photos, a video's end
    kind: str = "video"  # "video", "image" or "folder" (emocam.outputs' kinds)

    @classmethod
    def of(cls, result: ProcessResult, options: ProcessOptions) -> ExportOutcome:
        kind = ("folder" if "images" in result.outputs else
                "image" if "image" in result.outputs else "video")
        return cls(result.completed, result.frames, result.outputs,
                   note=_sound_note(result, options), ended_early=result.ended_early,
                   kind=kind)

    def _what(self) -> str:
        # A folder's frames are its photos; a photo is one.
        if self.kind == "folder":
            return f"{self.frames} photo" + ("" if self.frames == 1 else "s")
        return "the photo" if self.kind == "image" else frames_text(self.frames)

    def message(self) -> tuple[str, str]:
        """What the banner says, and its level ("info" or "warning")."""
        # A folder's annotated photos: "photos.emocam/" (with the sentence's full stop,
        # "photos.emocam." read as a file's name).
        files = ", ".join(p + os.sep if Path(p).is_dir() else p for p in self.outputs.values())
        if self.warning:
            return self.warning, "warning"
        if self.completed:
            done = f"Exported {self._what()}{self.note}: {files}."
            return (f"{done} {self.ended_early}", "warning") if self.ended_early else (done, "info")
        if self.frames == 0:
            return "Export cancelled before the first frame; nothing was written.", "info"
        if any(is_staged(Path(p)) for p in self.outputs.values()):
            # Staged beside an earlier export it was replacing: the earlier set is kept as it
            # was, and these names are hidden in a file manager (OutputSet).
            return (f"Export cancelled after {self._what()}{self.note}; the files it replaced "
                    "are unchanged, and what it wrote so far is kept beside them under hidden "
                    f"names (rename them to keep them): {files}.", "info")
        return (f"Export cancelled after {self._what()}{self.note}; the files written so far "
                f"are complete and usable: {files}.", "info")


def _sound_note(result: ProcessResult, options: ProcessOptions) -> str:
    # The privacy views drop the sound on purpose; say so, or it looks like a fault (but not
    # of a source that had none to drop).
    if ("video" not in result.outputs or sound_wanted(options)
            or not has_sound(Path(options.input))):
        return ""
    view = "Blur Faces" if options.overlay.blur_faces else "Boxes Only"
    return f" (without sound, as {view} is on)"
