"""``emocam process --reanalyse NAME.emocam.npz``: new smoothing, thresholds or label names
for a finished run, from its sidecar, without running the face detector or the classifier.

The replay stands in for the pipeline: for each recorded frame it gives back the recorded
faces, smoothed again with the requested time constant (the same exponential filter as
``emocam.track``, per recorded face id), filtered by detection score, renamed or merged by
a label map, and judged again for uncertainty. The CSV and JSON are always rewritten; the
annotated video only when the source video can still be read (and frames are wanted).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emocam import columns
from emocam.errors import OutputError, SourceError, UserError, some_of
from emocam.face_trail import FaceTrail
from emocam.fileprint import changed
from emocam.jsonread import read_object
from emocam.output_set import OutputSet
from emocam.outputs import (
    REANALYSED,
    SUFFIX,
    RunFacts,
    check_request,
    folder_for_plan,
    plan_for,
    sidecar_stem,
)
from emocam.process import (
    ProcessOptions,
    ProcessResult,
    check_result,
    recorded_count,
    run_frames,
    sound_wanted,
)
from emocam.quality import QualityConfig, judge, resolve_uncertain_below
from emocam.read_notes import ReadNotes
from emocam.run_sinks import RunDescription
from emocam.sidecar import Sidecar, load_sidecar
from emocam.source_base import plausible_pixel_aspect
from emocam.sources import open_source
from emocam.staging import writes_in_place
from emocam.stopping import HeldSignals
from emocam.track import TrackerConfig, smoothed
from emocam.types import Box, FaceQuality, FaceResult, Frame, FrameResult

log = logging.getLogger(__name__)


class LabelMapError(UserError):
    """A --label-map entry names no class of the model or is malformed."""


@dataclass
class ReanalyseSettings:
    """What to change; None keeps what the original run used."""

    smoothing_tau_s: float | None = None
    min_score: float | None = None
    uncertain_below: float | None = None
    label_map: dict[str, str] = field(default_factory=dict)


def parse_label_map(text: str) -> dict[str, str]:
    """``"neutral=calm,anger=negative,disgust=negative"`` -> a dict (old name -> new name)."""
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise LabelMapError(
                f"The label map entry {item!r} is not OLD=NEW; write e.g. "
                "--label-map neutral=calm,anger=negative"
            )
        if out.get(old.strip(), new.strip()) != new.strip():
            raise LabelMapError(f"The label map renames {old.strip()} twice, to "
                                f"{out[old.strip()]} and {new.strip()}; give each class one "
                                "new name.")
        out[old.strip()] = new.strip()
    return out


def label_matrix(
    names: Sequence[str], mapping: dict[str, str]
) -> tuple[tuple[str, ...], np.ndarray | None]:
    """The renamed classes and the (old x new) 0/1 matrix that sums merged probabilities
    (None when nothing changes). Classes mapped to one name are merged: their probabilities
    add up, so the result still sums to 1."""
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise LabelMapError(
            f"The label map names {', '.join(unknown)}, which the model does not have "
            f"(its classes: {', '.join(names)})."
        )
    taken = columns.taken_names(mapping.values())
    if taken:
        raise LabelMapError(
            f"The label map's new name {', '.join(taken)} is already a column of the CSV; "
            "give the class another name."
        )
    formulas = columns.formula_like(mapping.values())
    if formulas:
        raise LabelMapError(
            f"The label map's new name {', '.join(formulas)} starts with a sign a spreadsheet "
            "would run as a formula; give the class another name."
        )
    new = [mapping.get(n, n) for n in names]
    out = tuple(dict.fromkeys(new))  # first appearance order, duplicates merged
    folded: dict[str, str] = {}
    for name in out:
        other = folded.setdefault(name.casefold(), name)
        if other == name:
            continue
        # "contempt=Neutral" beside neutral made two columns, one class to a reader.
        if other in names or name in names:
            cls, new_name = (other, name) if other in names else (name, other)
            raise LabelMapError(
                f"The label map's new name {new_name} differs from the class {cls} only in "
                "case; write it as that class to merge them, or give another name.")
        raise LabelMapError(
            f"The label map's new names {other} and {name} differ only in case; spell them "
            "alike to merge the classes, or give other names.")
    if out == tuple(names):
        return out, None
    m = np.zeros((len(names), len(out)), np.float32)
    for i, n in enumerate(new):
        m[i, out.index(n)] = 1.0
    return out, m


class Replay:
    """Plays a sidecar back as if it were the pipeline (same ``process``/``reset``/``info``)."""

    def __init__(self, sidecar: Sidecar, settings: ReanalyseSettings):
        self.sidecar = sidecar
        h = sidecar.header
        self.tau_s = _pick(settings.smoothing_tau_s, h.get("smoothing_tau_s"), 0.0)
        recorded_min = float(h.get("min_score") or 0.0)
        self.min_score = _pick(settings.min_score, recorded_min, 0.0)
        if self.min_score < recorded_min:
            log.warning("faces below the recorded detection score %.2f were never kept; "
                        "--threshold %.2f keeps the same faces", recorded_min, self.min_score)
            self.min_score = recorded_min  # the threshold the results hold, as the JSON says
        self.quality = QualityConfig(**{**h.get("quality", {}),
                                        "uncertain_below": settings.uncertain_below})
        model_default = h.get("uncertain_below")
        self.uncertain_below = resolve_uncertain_below(self.quality, model_default)
        self.label_map = dict(settings.label_map)
        self._names, self._matrix = label_matrix(sidecar.class_names, self.label_map)
        frames = sidecar["frame"]
        order = np.argsort(frames, kind="stable")  # rows of one frame stay in detector order
        bounds = np.searchsorted(frames[order], sidecar["frame_index"])
        ends = np.searchsorted(frames[order], sidecar["frame_index"], side="right")
        self._rows = {int(i): order[b:e] for i, b, e in
                      zip(sidecar["frame_index"], bounds, ends, strict=True)}
        self._tracks: dict[int, tuple[np.ndarray, float]] = {}
        self._shots = dict(zip(sidecar["frame_index"].tolist(), sidecar["frame_shot"].tolist(),
                               strict=True))
        self._shot = 0
        self._trail = FaceTrail(TrackerConfig())  # the recorded ids are the tracker's
        self._source: str | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def info(self) -> dict[str, Any]:
        h = self.sidecar.header
        return {
            "reanalysed_from": os.path.abspath(self.sidecar.path),
            # What the run re-analysed was made with; a sidecar from before model_accuracy
            # and target_fps were recorded leaves them out, and the report says "not
            # recorded" instead of a value they never had.
            **{k: h.get(k) for k in ("model", "model_path", "provider", "detector")},
            **{k: h[k] for k in ("model_accuracy", "target_fps") if k in h},
            # False: the run stopped before the end of its input, so this re-analysis
            # covers only part of it, and its summary is not "completed" (JsonSummary).
            "recorded_completed": h.get("completed") is not False,
            "class_names": list(self._names),
            "label_map": self.label_map,
            "smoothing_tau_s": self.tau_s,
            "min_score": self.min_score,
            "uncertain_below": self.uncertain_below,
        }

    def frames(self) -> Iterator[Frame]:
        """The recorded frames without pixels (for outputs that need only numbers)."""
        empty = np.zeros((0, 0, 3), np.uint8)
        s = self.sidecar
        for i, t, name in zip(s["frame_index"], s["frame_time_ms"], s["frame_file"],
                              strict=True):
            yield Frame(empty, int(i), float(t), str(name))

    def _smooth(self, face_id: int, raw: np.ndarray, time_ms: float) -> np.ndarray:
        # The tracker's own filter step, so equal settings give equal numbers.
        prev = self._tracks.get(face_id)
        if prev is None:
            probs = smoothed(None, raw, 0.0, self.tau_s)
        else:
            probs = smoothed(prev[0], raw, (time_ms - prev[1]) / 1000.0, self.tau_s)
        self._tracks[face_id] = (probs, time_ms)
        return probs

    def _face(self, r: int) -> FaceResult:
        s = self.sidecar
        raw = s["raw_probs"][r]
        if self._matrix is not None:
            raw = raw @ self._matrix
        face_id, t = int(s["face_id"][r]), float(s["time_ms"][r])
        kps = tuple((float(x), float(y)) for x, y in s["keypoints"][r] if not np.isnan(x))
        return FaceResult(
            face_id=face_id,
            box=_box(s["box"][r]),
            score=float(s["score"][r]),
            probs=self._smooth(face_id, raw, t),
            raw_probs=raw,
            keypoints=kps,
        )

    def _quality(self, r: int) -> FaceQuality:
        s = self.sidecar
        return FaceQuality(float(s["size_px"][r]), float(s["sharpness"][r]), float(s["turn"][r]))

    def process(self, frame: Frame) -> FrameResult:
        t0 = time.perf_counter()
        if frame.source != self._source:  # separate photos share nothing, as in a run
            if self._source is not None:
                self.reset()
            self._source = frame.source
        s = self.sidecar
        recorded = [int(r) for r in self._rows.get(frame.index, ())]
        rows = [r for r in recorded if s["score"][r] >= self.min_score]
        faces = [self._face(r) for r in rows]
        judge(faces, [self._quality(r) for r in rows], self.quality, self.uncertain_below)
        faces.sort(key=lambda f: f.face_id)  # as the run lists them (runs before: as found)
        shot = self._shots.get(frame.index, 0)
        if shot != self._shot:
            self._trail.reset()
            self._shot = shot
        # Every recorded face stays hidden, those the new threshold leaves out included: a
        # re-analysis may hide more than its run did, never less.
        hidden = [_box(s["box"][r]) for r in recorded if r not in rows]
        hidden += self._trail.update(
            frame.time_ms, [(int(s["face_id"][r]), _box(s["box"][r])) for r in recorded])
        timings = {"replay": (time.perf_counter() - t0) * 1e3}
        return FrameResult(frame, faces, self._names, timings, shot=shot, hidden=hidden)

    def reset(self) -> None:
        self._tracks.clear()
        self._trail.reset()

    def close(self) -> None:
        self._tracks.clear()

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _box(row: np.ndarray) -> Box:
    x, y, w, h = (float(v) for v in row)
    return (x, y, w, h)


def _pick(value: float | None, recorded: Any, default: float) -> float:
    if value is not None:
        return float(value)
    return float(recorded) if recorded is not None else default


def _recorded_frames(source_frames: Iterator[Frame], replay: Replay) -> Iterator[Frame]:
    """The decoded frames the original run saw, with its timestamps; stops after the last
    recorded one (a run stopped half-way)."""
    s = replay.sidecar
    times = dict(zip(s["frame_index"].tolist(), s["frame_time_ms"].tolist(), strict=True))
    last = max(times, default=-1)
    for f in source_frames:
        if f.index > last:
            return
        if f.index in times:
            yield replace(f, time_ms=times[f.index])


def _recorded_photos(source_frames: Iterator[Frame], replay: Replay) -> Iterator[Frame]:
    """The photos of a folder the run saw, each paired with its record by file name (the
    folder may have gained or lost photos since, which moves every position after them)."""
    s = replay.sidecar
    recorded = {str(name): (int(i), float(t)) for i, t, name in
                zip(s["frame_index"], s["frame_time_ms"], s["frame_file"], strict=True)}
    for f in source_frames:
        index_time = recorded.get(Path(f.source).name)
        if index_time is not None:
            yield replace(f, index=index_time[0], time_ms=index_time[1])


@dataclass
class _Input:
    kind: str  # as recorded: "video", "image" or "folder"
    frames: Iterator[Frame]
    size: tuple[int, int]
    pixels: bool  # False: frames without images, so no annotated output


def _refuse_the_recorded_runs_files(outputs: Iterable[Path], recorded: Sidecar) -> None:
    """A re-analysis writing over a file of the run it replays (its CSV beside its JSON and
    sidecar) would leave that run's set half old, half new: refused, even with --overwrite,
    as no output set is ever mixed."""
    sidecar = Path(recorded.path)
    listed = recorded.header.get("outputs")
    if isinstance(listed, dict):
        paths = [Path(v) for v in listed.values() if isinstance(v, str)]
        theirs = {os.path.realpath(p) for p in paths}
        # A folder moved whole keeps its files beside the sidecar, under the same names.
        was_beside = Path(str(listed.get("sidecar", ""))).parent
        theirs |= {os.path.realpath(sidecar.parent / p.name) for p in paths
                   if p.parent == was_beside}
    else:
        theirs = _recorded_outputs(sidecar)
    stem = sidecar_stem(sidecar)
    folder = sidecar.parent.resolve()
    for path in outputs:
        if writes_in_place(path):
            continue  # a pipe or terminal (--csv -): no file of the run is replaced there
        # NAME.emocam.* beside the sidecar are the run's by their names, summary or not.
        named = path.name.startswith(f"{stem}{SUFFIX}.") and path.parent.resolve() == folder
        if path.exists() and (named or os.path.realpath(path) in theirs):
            raise OutputError(
                f"The output {path} belongs to the run {sidecar} recorded; replacing it would "
                "mix that run's files with this re-analysis's. Choose another name, or leave "
                f"it out for the default ({stem}{REANALYSED}.*).")


def _recorded_outputs(sidecar: Path) -> set[str]:
    """For a sidecar whose header does not list them (emocam before 2026-12-06): the files
    the recorded run's summary lists (an app export's NAME.csv, a --csv name), from the
    summary beside the sidecar that names this sidecar; empty when there is none. A summary
    named after the input (``--csv out/a.csv`` beside ``video.emocam.json``) is not found."""
    stem = sidecar_stem(sidecar)
    for name in (f"{stem}{SUFFIX}.json", f"{stem}.json"):
        listed = (read_object(sidecar.parent / name) or {}).get("outputs")
        if isinstance(listed, dict) and any(
                isinstance(v, str) and os.path.realpath(v) == os.path.realpath(sidecar)
                for v in listed.values()):
            return {os.path.realpath(v) for v in listed.values() if isinstance(v, str)}
    return set()


def _open_frames(replay: Replay, opts: ProcessOptions, stack: ExitStack) -> _Input:
    """From the source when annotated output is wanted and the source still reads as the
    run saw it, else numbers only."""
    h = replay.sidecar.header
    kind = str(h.get("input_kind", "video"))
    size = (int(h["frame_size"][0]), int(h["frame_size"][1])) if h.get("frame_size") else (0, 0)
    live = kind == "camera"  # a live recording: the camera's frames were never kept
    numbers_only = _Input("video" if live else kind, replay.frames(), size, pixels=False)
    if opts.no_video or opts.no_frames or live:
        return numbers_only
    if not Path(replay.sidecar.source).exists():
        log.warning("%s, which the run analysed, is no longer there; writing the numbers, no "
                    "annotated copy (put the file back at that path for one)",
                    replay.sidecar.source)
        return numbers_only
    try:
        source = stack.enter_context(open_source(replay.sidecar.source, tell_left_out=False))
    except UserError as e:
        log.warning("%s; writing the numbers, no annotated copy", str(e).rstrip("."))
        return numbers_only
    if tuple(source.size) != size and kind == "video":
        log.warning("%s is now %dx%d, not the %dx%d that was analysed; writing the numbers, "
                    "no annotated copy", replay.sidecar.source, *source.size, *size)
        return numbers_only
    if kind != "folder" and changed(replay.sidecar.source, h.get("source_print")):
        log.warning("%s is not the file that was analysed (it was replaced or edited since); "
                    "writing the numbers, no annotated copy", replay.sidecar.source)
        return numbers_only
    if kind == "folder":
        there = {p.name: p for p in getattr(source, "files", ())}
        recorded = dict(zip(replay.sidecar["frame_file"].tolist(),
                            replay.sidecar["frame_print"].tolist(), strict=True))
        gone = [n for n in recorded if n not in there]
        if gone:
            log.warning("%s, analysed then, %s no longer in %s; writing the numbers, no "
                        "annotated copy", some_of(gone), "is" if len(gone) == 1 else "are",
                        replay.sidecar.source)
            return numbers_only
        # Every photo's boxes land on that photo, or none is drawn: no output set mixes
        # pictures drawn with their own faces and with another picture's.
        other = [n for n, p in recorded.items() if changed(there[n], p)]
        if other:
            log.warning("%s in %s %s not the photo%s analysed (replaced or edited since); "
                        "writing the numbers, no annotated copy", some_of(other),
                        replay.sidecar.source, "is" if len(other) == 1 else "are",
                        "" if len(other) == 1 else "s")
            return numbers_only
        return _Input(kind, _recorded_photos(iter(source), replay), size, pixels=True)
    return _Input(kind, _recorded_frames(iter(source), replay), size, pixels=True)


def with_recorded_privacy(opts: ProcessOptions, sidecar: Sidecar) -> ProcessOptions:
    """The options with the recorded run's privacy settings added: a re-analysis may keep out
    more than the run did, never less (no frames, blurred faces stay so; ``sound_wanted``
    keeps the sound of a blurred run out)."""
    privacy = sidecar.header.get("privacy")
    if not isinstance(privacy, dict):
        return opts  # a sidecar written before privacy was recorded
    overlay = replace(opts.overlay,
                      blur_faces=opts.overlay.blur_faces or bool(privacy.get("blur_faces")),
                      boxes_only=opts.overlay.boxes_only or bool(privacy.get("boxes_only")))
    kept_out = [what for what, on in (
        ("no frames", bool(privacy.get("no_frames")) and not opts.no_frames),
        ("faces blurred", overlay.blur_faces and not opts.overlay.blur_faces),
        ("boxes only", overlay.boxes_only and not opts.overlay.boxes_only),
    ) if on]
    if kept_out:
        log.info("keeping the recorded run's privacy settings: %s", ", ".join(kept_out))
    return replace(
        opts, overlay=overlay,
        no_frames=opts.no_frames or bool(privacy.get("no_frames")))


def run_reanalyse(sidecar_path: Path, opts: ProcessOptions,
                  settings: ReanalyseSettings) -> ProcessResult:
    """Re-render the CSV, JSON and (when possible) annotated output of a recorded run."""
    sidecar = load_sidecar(sidecar_path)
    if len(sidecar["frame_index"]) == 0:
        raise SourceError(f"The sidecar {sidecar_path} records no frame; nothing to re-analyse.")
    # Outputs and messages name the video; what the run kept private stays so.
    opts = replace(with_recorded_privacy(opts, sidecar), input=sidecar.source)
    check_request(opts.request())
    label_matrix(sidecar.class_names, settings.label_map)  # refused before any folder is made
    with ExitStack() as stack:
        held = stack.enter_context(HeldSignals())  # first in, last out: see run_frames
        # The -o folder, made for the checks and removed again if they refuse the run.
        stack.enter_context(folder_for_plan(opts.outdir))
        replay = stack.enter_context(Replay(sidecar, settings))
        inp = _open_frames(replay, opts, stack)
        files = [Path(n) for n in dict.fromkeys(sidecar["frame_file"].tolist()) if n]
        base_dir = opts.outdir if opts.outdir is not None else sidecar.path.parent
        base = base_dir / f"{sidecar_stem(sidecar.path)}{REANALYSED}"
        plan = plan_for(opts.request(), inp.kind, files, base, sidecar.source,
                        annotate=inp.pixels, sidecar=False, sound=sound_wanted(opts),
                        inputs=[sidecar.path])
        _refuse_the_recorded_runs_files(plan.files(), sidecar)
        outset = stack.enter_context(OutputSet(plan, opts.overwrite))
        facts = RunFacts(sidecar.header.get("fps"), len(sidecar["frame_index"]), inp.size,
                         sidecar.header.get("video_fps"),
                         plausible_pixel_aspect(sidecar.header.get("pixel_aspect")),
                         sidecar.header.get("first_frame_ms"))
        desc = RunDescription(str(opts.input), opts.pipeline, opts.overlay, opts.video_codec,
                              no_frames=opts.no_frames)
        # What the run could not read, as it recorded it: the numbers do not show it.
        notes = ReadNotes.from_header(sidecar.header)
        result = run_frames(opts, outset, inp.frames, facts, replay, desc, stack, held=held,
                            said_of_input=lambda: notes,
                            count=recorded_count(inp.kind, sidecar["frame_file"].tolist(),
                                                 notes))
    result.stopped_after = result.stopped_after or held.late
    return check_result(result, opts.input,
                        "the sidecar records none that passes the detection threshold; give "
                        "a lower --threshold (as low as the recorded run's), or process the "
                        "source again, perhaps with the other detector")
