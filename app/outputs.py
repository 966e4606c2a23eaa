"""A run's output set, in one place: what the outputs are called, where they go, and the
checks made before anything is written.

Every way of running the pipeline writes the same set: an annotated copy (video, image or a
folder of images), a per-frame CSV, a JSON summary, the sidecar of raw numbers that
``--reanalyse`` reads and a report to look at (HTML, named after the summary:
``NAME.emocam.json`` -> ``NAME.emocam.html``). ``emocam process`` names them after its input
(``DIR/NAME.emocam.mp4``, ``.csv``, ``.json``, ``.npz``, ``.html``); the app's Export after
the video the user names (``out.mp4`` -> ``out.csv``, ``out.json``, ``out.npz``,
``out.html``); a re-analysis after its sidecar (``NAME.reanalysed.*``); a live recording
after its start time. This module holds
those names and the checks; ``emocam.output_set`` writes a set as one, and
``emocam.run_sinks`` wires the writers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from emocam.errors import OutputError
from emocam.input_kinds import IMAGE_EXTS
from emocam.outputnames import annotated_image_suffix
from emocam.staging import check_output, put_back_moved_aside, writes_in_place
from emocam.summary import summary_completed

SUFFIX = ".emocam"  # every default output of NAME extends NAME.emocam
REANALYSED = ".reanalysed"  # a re-analysis's outputs: NAME.reanalysed.*
SIDECAR_SUFFIX = ".npz"
REPORT_SUFFIX = ".html"
KINDS = ("video", "image", "folder")


@dataclass(frozen=True)
class RunFacts:
    """What the writers must know about the input before the first frame."""

    fps: float | None  # None for photos: they have no clock
    frame_count: int | None  # None when unknown (the progress bar has no end)
    size: tuple[int, int] | None  # width, height; None when not known yet
    video_fps: float | None = None  # the annotated video's rate, where not fps (Source.video_fps)
    pixel_aspect: Fraction = Fraction(1)  # the source's pixels' shape (Source.pixel_aspect)
    # Where the first frame stands on the file's timeline; None where there is no file's
    # timeline (a camera) or it is unknown (a sidecar written before it was recorded).
    first_frame_ms: float | None = None


@dataclass(frozen=True)
class OutputRequest:
    """What the user asked for: explicit names, what to leave out, whether to replace."""

    outdir: Path | None = None
    output_video: Path | None = None  # the annotated video, image or folder of images
    csv: Path | None = None
    json: Path | None = None
    sidecar: Path | None = None
    report: Path | None = None  # the HTML report (default: beside the JSON, named after it)
    no_video: bool = False
    no_frames: bool = False
    no_sidecar: bool = False
    no_report: bool = False
    overwrite: bool = False


@dataclass
class OutputPlan:
    """Every output path of one run, decided and checked before anything is written."""

    kind: str  # "video", "image" or "folder"
    images: list[Path]  # the input photos of a folder (the annotated ones keep their names)
    annotated: Path | None
    csv: Path | None
    json: Path
    sidecar: Path | None = None  # the numbers for --reanalyse
    sound: Path | None = None  # the video whose sound the annotated video gets
    report: Path | None = None  # the HTML report of the run
    inputs: list[Path] = field(default_factory=list)  # never written over
    # The default names of the outputs this run leaves out (its sidecar under --no-sidecar):
    # an earlier set's file there is removed when an --overwrite completes, so no folder
    # holds a new CSV beside an old sidecar.
    left_out: list[Path] = field(default_factory=list)

    def files(self) -> list[Path]:
        """The set's files and folder, in a fixed order."""
        return [p for p in (self.annotated, self.csv, self.json, self.sidecar, self.report)
                if p is not None]

    def outputs(self) -> dict[str, str]:
        """What the summary and the user are told was written, by kind."""
        out = {"json": str(self.json)}
        if self.csv is not None:
            out["csv"] = str(self.csv)
        if self.sidecar is not None:
            out["sidecar"] = str(self.sidecar)
        if self.report is not None:
            out["report"] = str(self.report)
        if self.annotated is not None:
            key = {"video": "video", "image": "image", "folder": "images"}[self.kind]
            out[key] = str(self.annotated)
        return out


# --- names ------------------------------------------------------------------------------


def output_base(src: Path, outdir: Path | None, is_folder: bool) -> Path:
    """``DIR/NAME.emocam``, which every default output of ``src`` extends: beside the input
    or in ``outdir``; a folder is named whole, a file without its extension."""
    stem = src.name if is_folder else src.stem
    return (outdir if outdir is not None else src.parent) / f"{stem}{SUFFIX}"


def default_output(src: Path, outdir: Path | None, what: str) -> Path:
    """The default path of one output of a file input: ``what`` is "csv", "json", "npz"
    or "mp4" (benchmarks and scripts read a run's results through this)."""
    base = output_base(src, outdir, is_folder=False)
    return base.with_name(f"{base.name}.{what}")


def default_outputs(src: Path, outdir: Path | None, is_folder: bool) -> list[Path]:
    """Every file a run of ``src`` writes by default (for the checks across inputs)."""
    base = output_base(src, outdir, is_folder)
    exts = [".csv", ".json", SIDECAR_SUFFIX, REPORT_SUFFIX, ".mp4", src.suffix.lower()]
    return [base, *(base.with_name(base.name + e) for e in dict.fromkeys(exts) if e)]


def is_output_name(path: Path) -> bool:
    """Whether ``path`` is named like an earlier run's output (``NAME.emocam.mp4``,
    ``NAME.reanalysed.mp4``), and so is not an input."""
    return Path(path).stem.endswith((SUFFIX, REANALYSED))


def export_names(video: Path) -> tuple[Path, Path, Path, Path]:
    """The app's Export and a live recording: the annotated video the user named, and the
    CSV, JSON and sidecar beside it, named after it (never after the source)."""
    video = video if video.suffix else video.with_suffix(".mp4")
    csv = video.with_suffix(".csv")
    return (video, csv, video.with_suffix(".json"), sidecar_beside(csv))


def recording_names(folder: Path, started: time.struct_time | None = None
                    ) -> tuple[Path, Path, Path, Path]:
    """A live recording's set, named after the time it started (``emocam-20260101-120000``):
    video, CSV, JSON and sidecar."""
    stamp = time.strftime("emocam-%Y%m%d-%H%M%S", started or time.localtime())
    return export_names(folder / f"{stamp}.mp4")


def report_name(json_path: Path) -> Path:
    """The report beside a summary, named after it: ``NAME.emocam.json`` ->
    ``NAME.emocam.html`` (so an Export's ``out.json`` has ``out.html``)."""
    return json_path.with_suffix(REPORT_SUFFIX)


def sidecar_beside(numbers: Path) -> Path:
    """The sidecar named after a CSV or summary: ``NAME.emocam.csv`` -> ``NAME.emocam.npz``,
    ``results.csv`` -> ``results.emocam.npz`` (plainly emocam's, never a user's own .npz)."""
    name = numbers.name
    for ext in (".csv", ".json"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    if not name.endswith(SUFFIX):
        name += SUFFIX
    return numbers.with_name(name + SIDECAR_SUFFIX)


def sidecar_stem(path: Path) -> str:
    """``NAME`` of ``NAME.emocam.npz`` (or ``NAME.npz``): what a re-analysis is named after."""
    name = Path(path).name
    for suffix in (SUFFIX + SIDECAR_SUFFIX, SIDECAR_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


# --- folders ----------------------------------------------------------------------------


def make_folder(folder: Path) -> None:
    """Create an output folder, or say in one sentence why it cannot be."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"The output folder {folder} is a file; give a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a parent is a file, read-only media, no permission
        raise OutputError(f"The output folder {folder} cannot be created ({e.strerror or e}); "
                          "choose a folder you can write to.") from e


@contextmanager
def folder_for_plan(folder: Path | None) -> Iterator[None]:
    """The -o folder made for the checks inside; removed again if they refuse the run and
    this made it (and it is still empty), so a refused command leaves nothing behind."""
    made = folder is not None and not folder.exists()
    if folder is not None:
        make_folder(folder)
    try:
        yield
    except BaseException:
        if made:
            with suppress(OSError):  # not empty, or gone: left as it is
                folder.rmdir()  # type: ignore[union-attr]
        raise


# --- the plan ---------------------------------------------------------------------------


def check_request(req: OutputRequest) -> None:
    """Refuse options that contradict each other, before anything (an -o folder) is made."""
    if req.no_frames and req.output_video is not None:
        raise OutputError("--no-frames writes no image or video; drop --output-video.")
    if req.no_video and req.output_video is not None:
        raise OutputError("--no-video writes no annotated copy; drop --output-video, or "
                          "--no-video.")


def plan_for(
    req: OutputRequest, kind: str, images: list[Path], base: Path, src: Path,
    annotate: bool = True, sidecar: bool = True, sound: bool = True,
    inputs: Iterable[Path] = (), resumable: bool = False,
) -> OutputPlan:
    """Every output path from a base name (``DIR/NAME.emocam``), checked before anything is
    written. ``annotate=False``: no pixels to draw on (a re-analysis without its video);
    ``sound``: the annotated video gets the source's sound; ``inputs``: other files the run
    reads, which no output may replace; ``resumable``: --resume can redo an unfinished set
    here (a run of inputs, not a re-analysis or a recording)."""
    if kind not in KINDS:
        raise ValueError(f"unknown input kind {kind!r}")
    check_request(req)
    req = replace(req, **{k: _through_link(getattr(req, k)) for k in
                          ("output_video", "csv", "json", "sidecar", "report")})
    defaults, planned = _paths(req, kind, base, src, annotate, sidecar)
    annotated, csv_path, sidecar_path, report_path = (
        planned[k] for k in ("annotated", "csv", "sidecar", "report"))
    json_path = planned["json"] or defaults["json"]  # always planned: a run has its summary
    all_inputs = [src, *images, *inputs]
    left_out = _left_out(defaults, planned, kind, all_inputs)
    plan = OutputPlan(kind, images, annotated, csv_path, json_path, sidecar_path,
                      inputs=all_inputs, left_out=left_out, report=report_path)
    if kind == "video" and annotated is not None and sound:
        plan.sound = src
    # --resume takes only the names a run gives its outputs (refused with --csv, --json or
    # --output-video): a stopped set named by hand is redone with --overwrite.
    named = any(p is not None for p in (req.output_video, req.csv, req.json))
    check_plan(plan, req.overwrite, resumable, resume=not named)
    return plan


def _paths(req: OutputRequest, kind: str, base: Path, src: Path, annotate: bool = True,
           sidecar: bool = True) -> tuple[dict[str, Path], dict[str, Path | None]]:
    """The default path of each output kind at ``base``, and the path this request writes
    it at (None: not written)."""
    default_annotated = {
        "video": base.with_name(base.name + ".mp4"),
        "image": base.with_name(base.name + annotated_image_suffix(src)),
        "folder": base,
    }[kind]
    frames_wanted = annotate and not (req.no_video or req.no_frames)
    annotated = (req.output_video or default_annotated) if frames_wanted else None
    _check_named_as_its_kind("--csv", req.csv, ".csv", src)
    _check_named_as_its_kind("--json", req.json, ".json", src)
    csv_path = req.csv or (base.with_name(base.name + ".csv") if kind != "image" else None)
    json_path = req.json or base.with_name(base.name + ".json")
    keep_numbers = sidecar and not req.no_sidecar
    # The sidecar goes with the numbers it holds, as the report goes with its summary: beside
    # the CSV (a photo's: the summary), named after it; not beside the source when the user
    # named the CSV elsewhere.
    beside = next((p for p in (csv_path, json_path) if p is not None and _regular(p)), None)
    default_sidecar = (sidecar_beside(beside) if beside is not None
                       else base.with_name(base.name + SIDECAR_SUFFIX))
    sidecar_path = (req.sidecar or default_sidecar) if keep_numbers else None
    default_json = base.with_name(base.name + ".json")
    # A summary sent to a device (/dev/stdout) has no folder for a report beside it: with
    # -o the report goes where it would have been (it was left out unsaid); without, none is
    # written beside the input (`--json /dev/null` is how some leave the summary out).
    beside_json = (report_name(json_path) if _regular(json_path)
                   else report_name(default_json) if req.outdir is not None else None)
    report_path = None if req.no_report else (req.report or beside_json)
    defaults = {"annotated": default_annotated, "csv": base.with_name(base.name + ".csv"),
                "json": default_json, "sidecar": base.with_name(base.name + SIDECAR_SUFFIX),
                "report": report_name(default_json)}
    planned = {"annotated": annotated, "csv": csv_path, "json": json_path,
               "sidecar": sidecar_path, "report": report_path}
    return defaults, planned


# Names that say another kind of file: a summary in results.csv would be opened as a table.
_OTHER_KINDS = (".csv", ".json", ".html", SIDECAR_SUFFIX, ".mp4", ".mkv", ".avi",
                ".mov", ".png", ".jpg", ".jpeg")


def _check_named_as_its_kind(flag: str, path: Path | None, own: str, src: Path) -> None:
    if path is None or not _regular(path) or path.resolve() == src.resolve():
        return  # the input itself: the graver fault, said by check_output
    said = next((k for k in _OTHER_KINDS if path.name.lower().endswith(k) and k != own), None)
    if said is not None:
        raise OutputError(f"{flag} {path} would write {own[1:].upper()} under a {said} name; "
                          f"give {flag} a name ending in {own}.")


def removed_by(req: OutputRequest, kind: str, base: Path, src: Path) -> list[Path]:
    """The files of an earlier set at ``base`` that a completed run of ``req`` with
    ``--overwrite`` removes, as not its own (what the app's Export asks about first)."""
    defaults, planned = _paths(req, kind, base, src)
    return [p for p in _left_out(defaults, planned, kind, [src]) if p.exists()]


def _left_out(defaults: dict[str, Path], planned: dict[str, Path | None], kind: str,
              inputs: list[Path]) -> list[Path]:
    """The earlier set's files at the default names that this run does not write again.

    A run that writes any output at its default name replaces the set there: the earlier
    set's other files (its summary and report when ``--json`` sends this run's elsewhere, its
    sidecar under ``--no-sidecar``) would describe another run beside this one's. Outputs all
    sent elsewhere leave the default set alone."""
    def same(a: Path | None, b: Path) -> bool:
        return a is not None and a.resolve() == b.resolve()

    if not any(same(p, defaults[k]) for k, p in planned.items()):
        return []
    return [d for k, d in defaults.items()
            if not same(planned[k], d)
            and not (k == "csv" and kind == "image")  # a photo has no CSV
            # A folder of annotated photos goes only when no photo is drawn at all: one
            # drawn elsewhere leaves it be, as it may hold photos that are not emocam's.
            and not (k == "annotated" and kind == "folder" and planned[k] is not None)
            and not any(same(d, i) for i in inputs)]


def _regular(path: Path) -> bool:
    """A path a file can be written at: not a device or a pipe (``/dev/stdout``)."""
    return not writes_in_place(path)


def _through_link(path: Path | None) -> Path | None:
    """An output given as a symbolic link is its target: the link stays, and an overwrite
    replaces the file it points at (a device's link, /dev/stdout, is written in place)."""
    if path is None or not path.is_symlink() or writes_in_place(path):
        return path
    return path.resolve()


def check_plan(plan: OutputPlan, overwrite: bool, resumable: bool = False,
               resume: bool = True) -> None:
    """Refuse an output that is an input, two outputs with one name, and an existing output
    without ``overwrite`` (saying so of an unfinished set, where ``resumable``, and naming
    --resume for it where ``resume`` takes its names)."""
    files = [p for p in (plan.csv, plan.json, plan.sidecar, plan.report) if p is not None]
    if plan.annotated is not None:
        if plan.kind == "folder":
            if any(plan.annotated.resolve() == p.resolve() for p in plan.inputs):
                raise OutputError(
                    f"The output folder {plan.annotated} is the input folder; annotated images "
                    "would replace the originals, so choose another folder."
                )
            if plan.annotated.exists() and not plan.annotated.is_dir():
                raise OutputError(f"The output folder {plan.annotated} is a file.")
            others = [p for p in (plan.csv, plan.json, plan.sidecar, plan.report)
                      if p is not None]
            _check_images_folder(plan.annotated, plan.images, [*plan.inputs, *others])
            files += [plan.annotated / p.name for p in plan.images]
        else:
            files.append(plan.annotated)
    resolved = [p.resolve() for p in files]
    twice = next((p for i, p in enumerate(files) if resolved[i] in resolved[:i]), None)
    if twice is not None:
        raise OutputError(f"Two outputs are both named {twice}; give each output its own name.")
    # Before anything is judged there: a commit killed half-way hid the earlier set.
    put_back_moved_aside(files)
    # A stopped run's set is the usual reason its outputs are there: --resume redoes it.
    unfinished = (resumable and plan.json is not None and not overwrite
                  and summary_completed(plan.json) is False)
    for p in files:
        if plan.kind == "folder" and p.parent == plan.annotated and not p.parent.exists():
            continue  # the annotated-images folder is created when the run starts
        check_output(p, plan.inputs, overwrite, unfinished, resume)


def _check_images_folder(folder: Path, images: list[Path], outside: list[Path]) -> None:
    """The annotated photos' folder is replaced whole when a run overwrites it, so it may hold
    only what such a run wrote: no input, no other output, nobody else's files."""
    here = folder.resolve()
    for path in outside:
        if here in path.resolve().parents:
            raise OutputError(
                f"The output folder {folder} holds {path}, which this run reads or writes; "
                "give the annotated images a folder of their own."
            )
    if folder.name in ("", ".", ".."):
        raise OutputError(f"The output folder {folder} is not named; give the annotated images "
                          "a folder of their own by name, such as out/annotated.")
    if not folder.is_dir():
        return
    ours = {p.name for p in images}
    # A folder named like a run's output (photos.emocam) holds an earlier set's annotated
    # images, whichever photos that run had; any other folder only the ones this run writes.
    named_ours = folder.name.endswith((SUFFIX, REANALYSED))
    for entry in folder.iterdir():
        written_by_a_run = entry.is_file() and not entry.is_symlink() and (
            entry.name in ours or (named_ours and entry.suffix.lower() in IMAGE_EXTS))
        if not written_by_a_run:
            raise OutputError(
                f"The output folder {folder} already holds {entry.name}, which emocam did not "
                "write there; choose a new or empty folder for the annotated images."
            )
