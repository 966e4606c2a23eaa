"""A batch's record: what became of each input (``emocam-batch.json`` in the output folder),
and whether an input's outputs from an earlier run are complete, partial or absent.

Complete and partial follow the output-set rules of ``emocam.outputs`` and
``emocam.output_set``: a set is complete when every file its plan names is in place and its
summary says ``completed: true``; it is partial when any of them, a staged partial file
(``.NAME.partial.*``) or a lock (``.NAME.lock``) is there without that.
"""

from __future__ import annotations

import logging
import os
import time
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emocam.errors import OutputError, UserError
from emocam.fileprint import input_fingerprint
from emocam.jsonread import count, read_object
from emocam.locks import lock_path
from emocam.outputs import OutputPlan, output_base, plan_for
from emocam.staging import staging_path
from emocam.summary import summary_completed, write_json_atomic

if TYPE_CHECKING:
    from emocam.process import ProcessOptions

log = logging.getLogger(__name__)

MANIFEST_NAME = "emocam-batch.json"
MANIFEST_VERSION = 1

# What became of one input.
DONE = "done"  # its outputs are complete
REFUSED = "refused"  # the run said why in one sentence (bad input, no face, outputs exist)
FAILED = "failed"  # its worker died on every attempt, or the run broke
PARTIAL = "partial"  # stopped (Ctrl-C): the results so far are kept
NOT_STARTED = "not started"  # the batch was stopped before it began

# The states of an input's outputs before the batch.
ABSENT, COMPLETE, PARTIAL_SET = "absent", "complete", "partial"


@dataclass
class Outcome:
    """One input's line in the manifest."""

    input: str
    status: str = NOT_STARTED
    message: str = ""  # the sentence of a refusal or failure; of a done input, what of it
    # could not be read (a video that ended short, a folder's unreadable photos)
    frames: int = 0
    frames_with_faces: int = 0
    faces: int = 0  # distinct faces (tracks) in its summary
    wall_s: float = 0.0
    worker: str = ""  # which worker ran it (process, or Dask worker address)
    attempts: int = 0
    skipped: bool = False  # --resume: complete from an earlier run, not run again
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    engine: str  # "local, N workers" or "dask tcp://..."
    outcomes: list[Outcome]
    started: float = field(default_factory=time.time)
    stopped: bool = False  # Ctrl-C, SIGTERM or SIGHUP ended it early
    # Lines an earlier batch into the same folder wrote for inputs this one does not run,
    # whose outputs are still there (chosen at each write): the folder's record stays whole,
    # and the counts and ``completed`` speak of this batch only.
    earlier: list[dict[str, Any]] = field(default_factory=list)
    # This batch's inputs, and the outputs it may write over (full paths): what ``earlier``
    # is chosen by, again at each write, so that a batch writing into the same folder
    # meanwhile keeps its lines too.
    inputs: list[Path] = field(default_factory=list)
    replaced: set[str] = field(default_factory=set)
    # Inputs refused as done (a rerun without --resume): their earlier lines are kept.
    untouched: set[str] = field(default_factory=set)

    @property
    def all_done(self) -> bool:
        return not self.stopped and all(o.status == DONE for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return {
            "emocam_batch": MANIFEST_VERSION, "engine": self.engine,
            "started": _iso(self.started), "finished": _iso(time.time()),
            "completed": self.all_done, "stopped": self.stopped, "counts": counts,
            "inputs": [_absolute(asdict(o)) for o in self.outcomes],
            **({"earlier_inputs": self.earlier} if self.earlier else {}),
        }

    def write(self, path: Path) -> None:
        if self.inputs:
            try:
                written = path.stat().st_mtime
            except OSError:
                written = None
            # Quiet: prepare() said already if the earlier manifest is damaged.
            self.earlier = still_standing(read_earlier(path, quiet=True), self.inputs,
                                          self.replaced, written, self.untouched)
        # Atomic: a reader (or a --resume after a power cut) never sees half a manifest.
        write_json_atomic(path, self.as_dict(), what="batch manifest")


def full_path(path: str | Path) -> str:
    """``path`` from the root, ``..`` resolved (links kept), as the summary writes paths: the
    same file named two ways by two batches is one name here."""
    return os.path.abspath(path)


def _absolute(line: dict[str, Any]) -> dict[str, Any]:
    """A line whose paths still lead to their files when read from elsewhere, or by a batch
    started in another folder."""
    line["input"] = full_path(line["input"])
    line["outputs"] = {k: full_path(v) for k, v in line["outputs"].items()}
    return line


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def manifest_path(outdir: Path | None, inputs: list[Path]) -> Path:
    """In the output folder; without one, beside the first input's outputs."""
    folder = outdir if outdir is not None else inputs[0].parent
    return folder / MANIFEST_NAME


def read_earlier(path: Path, quiet: bool = False) -> dict[str, dict[str, Any]]:
    """The earlier manifest's lines by input, those it kept from batches before it included
    (empty when there is none or it is damaged, which is said unless ``quiet``)."""
    data = read_object(path)
    if data is None:
        if path.is_file() and not quiet:  # a folder in its place is said when written
            # Replaced by this batch's: the earlier batches' lines go, which is said.
            log.warning("%s cannot be read (it is damaged); this batch writes a new one, "
                        "without the earlier batches' lines.", path)
        return {}
    by_input: dict[str, dict[str, Any]] = {}
    try:
        for line in [*data.get("earlier_inputs", []), *data["inputs"]]:
            if not isinstance(line, dict):
                continue
            name = full_path(line["input"])
            kept = by_input.get(name)
            # A refusal that left an input's outputs alone (a rerun without --resume) does
            # not hide the earlier line that describes them.
            if kept and kept.get("outputs") and line.get("status") == REFUSED and not (
                    line.get("outputs")):
                continue
            by_input[name] = line
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
    return by_input


def still_standing(earlier: dict[str, dict[str, Any]], inputs: list[Path],
                   replaced: set[str], written: float | None = None,
                   untouched: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The earlier lines a new batch keeps: of inputs it does not run, whose outputs it may
    not replace (``replaced``: full paths) and are on disk as the line describes them: all
    there, none changed since the earlier manifest was ``written`` (its time). A line without
    outputs (an input never started, or that failed) describes nothing and goes; so does one
    whose set another run has since replaced or removed in part."""
    ours = {full_path(p) for p in inputs} - untouched  # ``untouched``: refused as done
    kept = []
    for name, line in earlier.items():
        outputs = line.get("outputs")
        if name in ours or not isinstance(outputs, dict) or not outputs:
            continue
        files = [full_path(str(f)) for f in outputs.values()]
        if any(f in replaced for f in files) or not all(
                _unchanged_since(Path(f), written) for f in files):
            continue
        try:
            kept.append(_absolute(dict(line)))
        except (KeyError, TypeError, AttributeError):
            continue  # a damaged line: nothing to keep
    return kept


def _unchanged_since(path: Path, written: float | None) -> bool:
    try:
        changed = path.stat().st_mtime
    except OSError:
        return False  # gone
    return written is None or changed <= written + 1.0  # a coarse clock's second


# --- the state of an input's outputs ------------------------------------------------------


def _kind(src: Path) -> str:
    from emocam.input_kinds import input_kind

    return input_kind(src)


def planned_set(src: Path, request: Any) -> OutputPlan | None:
    """The outputs a run of ``src`` with ``request`` (an ``OutputRequest``) writes, or None
    when the run would refuse them anyway (it then says why itself)."""
    kind = _kind(src)
    base = output_base(src, request.outdir, kind == "folder")
    try:
        # overwrite: the plan only, without refusing outputs that exist (they are the point).
        return plan_for(replace(request, overwrite=True), kind, [], base, src)
    except OutputError:
        return None


def output_state(plan: OutputPlan | None) -> str:
    """ABSENT, COMPLETE or PARTIAL_SET for the outputs of one input."""
    if plan is None:
        return ABSENT
    files = plan.files()
    traces = [*files, *(staging_path(p) for p in files), *(lock_path(p) for p in files)]
    if not any(p.exists() for p in traces):
        return ABSENT
    held = any(lock_path(p).exists() for p in files)
    if (not held and all(p.exists() for p in files) and summary_completed(plan.json) is True
            and (plan.sidecar is None or zipfile.is_zipfile(plan.sidecar))
            and not changed_since(plan)):
        # The sidecar is checked too (cheaply: an .npz is a zip): a damaged one was taken
        # for part of a complete set, and --resume skipped the input.
        return COMPLETE
    return PARTIAL_SET


def changed_since(plan: OutputPlan) -> list[str]:
    """The files of a finished set whose size is not the one its summary recorded (emptied,
    cut short, written over), as "NAME (N bytes, not M)". A summary from before sizes were
    recorded vouches for none, so nothing is said of them."""
    recorded = (read_object(plan.json) or {}).get("output_bytes")
    if not isinstance(recorded, dict):
        return []
    changed = []
    for kind, path in plan.outputs().items():
        want = recorded.get(kind)
        if not isinstance(want, int) or isinstance(want, bool):
            continue
        try:
            size = os.stat(path).st_size
        except OSError:
            continue  # a missing file is found missing
        if size != want:
            changed.append(f"{Path(path).name} ({size} bytes, not {want})")
    return changed


def complete_set(src: Path, request: Any) -> OutputPlan | None:
    """The outputs of ``src`` when a run of it with ``request`` left them complete."""
    plan = planned_set(src, request)
    return plan if output_state(plan) == COMPLETE else None


def done_already(src: Path, plan: OutputPlan) -> str:
    """The sentence for an input whose outputs are complete, given again without --resume or
    --overwrite: "pass --overwrite" alone led a user to redo a whole batch."""
    return (f"{src} was processed already (its outputs in {plan.json.parent} are complete); "
            "pass --resume to skip the inputs already done, or --overwrite to redo them.")


_SETTING_NAMES = {"model_path": "model", "detector": "detector",
                  "smoothing_tau_s": "smoothing (s)", "target_fps": "target fps",
                  "min_score": "detection threshold", "uncertain_below": "uncertain below"}


def _recorded_summary(plan: OutputPlan) -> dict[str, Any] | None:
    """The summary of the complete set of ``plan``; None when it cannot be read."""
    return read_object(plan.json)


def made_otherwise(plan: OutputPlan, options: ProcessOptions) -> str | None:
    """How the complete set of ``plan`` was made differently from what ``options`` would make
    (another model, detector, smoothing, threshold or privacy), in words; None when it was
    not. A setting the summary does not record (an older emocam's) is not compared."""
    from emocam.classify import default_model_for
    from emocam.modelinfo import read_model_info
    from emocam.quality import resolve_uncertain_below

    recorded = _recorded_summary(plan)
    if recorded is None:
        return None
    pipe, overlay = options.pipeline, options.overlay
    model = Path(pipe.model_path or default_model_for(pipe.provider)).resolve()
    wanted: dict[str, Any] = {
        "model_path": str(model), "detector": pipe.detector,
        "smoothing_tau_s": pipe.smoothing_tau_s, "target_fps": pipe.target_fps,
        "min_score": pipe.min_score,
    }
    if "uncertain_below" in recorded:
        try:  # as the run resolves it: the option, else the model's own threshold
            own = read_model_info(model).uncertain_below
            wanted["uncertain_below"] = resolve_uncertain_below(pipe.quality, own)
        except UserError:
            # The run itself will say what is wrong with the model; only a threshold given
            # as an option is compared meanwhile.
            if pipe.quality.uncertain_below is not None:
                wanted["uncertain_below"] = pipe.quality.uncertain_below
    privacy = recorded.get("privacy") if isinstance(recorded.get("privacy"), dict) else {}
    differ = []
    for key, value in wanted.items():
        then = recorded.get(key)
        if key == "model_path" and isinstance(then, str):
            then = str(Path(then).resolve())
        if key in recorded and then != value:
            if key == "model_path":  # the file names say which models
                then, value = Path(str(then)).name, Path(value).name
            differ.append(f"{_SETTING_NAMES[key]} {then}, not {value}")
    for key, value in (("blur_faces", overlay.blur_faces), ("boxes_only", overlay.boxes_only),
                       ("no_frames", options.no_frames)):
        if key in privacy and bool(privacy[key]) != value:
            differ.append(f"{key.replace('_', ' ')} {'on' if privacy[key] else 'off'}, not "
                          f"{'on' if value else 'off'}")
    return "; ".join(differ) or None


def made_from_another(plan: OutputPlan, src: Path) -> str | None:
    """What the complete set of ``plan`` holds the results of, in words, when that is not
    ``src`` as it is now: another input of the same name (``interview.mp4`` of another
    folder), or this one before it was replaced (a re-export). None when it is ``src``, or
    when the summary does not say (an older emocam's records no fingerprint)."""
    recorded = _recorded_summary(plan)
    if recorded is None:
        return None
    then, then_print = recorded.get("input"), recorded.get("input_print")
    # Read once: the fingerprint reads up to 8 MB of the input.
    now = input_fingerprint(src) if isinstance(then_print, str) and then_print else ""
    if now and now == then_print:
        return None  # the same bytes, by whatever path they were reached
    # An older summary's relative path says nothing from another working folder.
    if isinstance(then, str) and os.path.isabs(then) and not _same_path(then, src):
        return f"the results of {then}"
    if now:  # the same path, other bytes (a folder: other photos)
        what = "its photos differ now" if src.is_dir() else "its size or bytes differ now"
        return f"the results of {src} as it was before it changed ({what})"
    return None


def _same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them is gone: their names decide
        return full_path(a) == full_path(b)


def from_summary(src: Path, plan: OutputPlan) -> Outcome:
    """An input skipped by --resume, described from its complete outputs."""
    data = read_object(plan.json) or {}
    warning = data.get("input_warning")  # a video cut short: kept when the manifest was lost
    out = Outcome(str(src), DONE, skipped=True, outputs=plan.outputs(),
                  message=warning if isinstance(warning, str) else "")
    take_counts(out, data)
    return out


def take_counts(out: Outcome, summary: dict[str, Any]) -> None:
    """``out``'s frames and faces from its run's summary (0 where it does not say)."""
    faces = summary.get("faces")
    out.frames = count(summary, "frames")
    out.frames_with_faces = count(summary, "frames_with_faces")
    out.faces = len(faces) if isinstance(faces, dict | list) else 0
