"""``emocam process``: the inputs a command names, checked against each other (several
inputs, folders of videos, an earlier run's outputs among them), run one after another, in a
batch or as a re-analysis, and what each run wrote told on the terminal."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from emocam import batch_cli
from emocam.console import say
from emocam.errors import (
    EXIT_INTERRUPTED,
    UserError,
    count_text,
    frames_text,
    inputs_text,
    not_all_processed,
)
from emocam.stopping import ends_at_once
from emocam.types import DEFAULT_MIN_SCORE

if TYPE_CHECKING:
    from emocam.process import ProcessOptions, ProcessResult

log = logging.getLogger("emocam")


def _process_options(args: argparse.Namespace) -> ProcessOptions:
    from emocam.overlay import OverlayOptions
    from emocam.pipeline import PipelineConfig
    from emocam.process import ProcessOptions
    from emocam.quality import QualityConfig
    from emocam.stream import parse_stream_url
    from emocam.track import DEFAULT_TAU_S

    streams = tuple(parse_stream_url(u) for u in args.stream)
    # Two WebSocket servers on one port clash whatever hosts they name (0.0.0.0 takes all);
    # port 0 gives each a free one of its own.
    twice = [t.url for i, t in enumerate(streams) if any(
        (o == t and t.port != 0) or (o.scheme == t.scheme == "ws" and o.port == t.port != 0)
        for o in streams[:i])]
    if twice:
        # Given twice, an OSC feed sent every frame twice, and a WebSocket one was refused
        # as "already in use (by another program)".
        raise UserError(f"--stream {twice[0]} is given twice; give each feed once.")
    return ProcessOptions(
        input=args.input[0] if args.input else args.reanalyse,
        outdir=args.outdir,
        output_video=args.output_video,
        csv=args.csv,
        json=args.json,
        no_video=args.no_video,
        no_audio=args.no_audio,
        video_codec=args.video_codec,
        no_frames=args.no_frames,
        no_sidecar=args.no_sidecar,
        no_report=args.no_report,
        overwrite=args.overwrite,
        progress=not args.quiet,
        pipeline=PipelineConfig(
            model_path=args.model,
            detector=args.detector or "mediapipe",
            provider=args.provider,
            min_score=DEFAULT_MIN_SCORE if args.min_score is None else args.min_score,
            smoothing_tau_s=DEFAULT_TAU_S if args.smoothing is None else args.smoothing,
            quality=QualityConfig(uncertain_below=args.uncertain_below),
            target_fps=args.target_fps,
        ),
        overlay=OverlayOptions(blur_faces=args.blur_faces, boxes_only=args.boxes_only),
        stream=streams,
        on_stream_open=None if args.quiet else _tell,
    )


def _tell(line: str) -> None:
    """A line the user needs while the run goes on (where a live feed is served)."""
    print(f"emocam: {line}", file=sys.stderr, flush=True)


def _load_ahead(opts: ProcessOptions, inputs: Sequence[Path]) -> None:
    """Load what the run needs while a Ctrl-C can still end the command at once; not for an
    input that is not there, whose sentence should come without that wait."""
    from emocam.process import load_for

    if any(Path(p).exists() for p in inputs):
        with ends_at_once():
            load_for(opts)


def _run_chosen(args: argparse.Namespace) -> ProcessResult:
    """A fresh run of INPUT, or a re-analysis of a sidecar."""
    from emocam.process import run_process

    if not args.input and args.reanalyse is None:
        raise UserError("Give a video, image or folder to process (emocam process INPUT), or "
                        "--reanalyse SIDECAR to re-analyse an earlier run.")
    if args.input and args.reanalyse is not None:
        raise UserError("Give either an INPUT to process or --reanalyse SIDECAR, not both.")
    opts = _process_options(args)
    if args.reanalyse is None:
        if args.label_map:
            raise UserError("--label-map applies to --reanalyse; re-analyse the sidecar of "
                            "this run to rename classes.")
        if args.output_video is not None:
            _check_annotated_name(args.input[0], args.output_video)
        _load_ahead(opts, args.input)
        return run_process(opts)
    from emocam.reanalyse import ReanalyseSettings, parse_label_map, run_reanalyse

    # A re-analysis replays the recorded numbers: these would change nothing it writes.
    unused = [flag for flag, value in (("--model", args.model), ("--provider", args.provider),
                                       ("--detector", args.detector),
                                       ("--target-fps", args.target_fps)) if value is not None]
    if unused:
        raise UserError(f"{' and '.join(unused)} cannot change a re-analysis, which replays the "
                        "recorded numbers without running a detector or model; process the "
                        "video again to use other ones.")
    settings = ReanalyseSettings(
        smoothing_tau_s=args.smoothing, min_score=args.min_score,
        uncertain_below=args.uncertain_below, label_map=parse_label_map(args.label_map),
    )
    return run_reanalyse(args.reanalyse, opts, settings)


def _check_annotated_name(src: Path, out: Path) -> None:
    """Refuse, before any work, an annotated-output name whose type cannot be written (the
    writer would fail at the first frame, OpenCV's image encoder with a traceback)."""
    from emocam.input_kinds import VIDEO_EXTS, input_kind
    from emocam.outputnames import annotated_image_suffix, check_image_name, check_video_name

    kind = input_kind(src)
    if kind == "folder":
        return  # a folder's annotated images keep their own names
    suffix = annotated_image_suffix(src) if kind == "image" else ".mp4"
    if out.is_dir():
        raise UserError(f"--output-video {out} is a folder; give the annotated file's name, "
                        f"e.g. {out / (src.stem + '.emocam' + suffix)}, or put the outputs in "
                        "that folder with -o.")
    if kind == "image":
        check_image_name(out)
    elif src.suffix.lower() in VIDEO_EXTS:
        check_video_name(out)


def _once_each(inputs: list[Path]) -> list[Path]:
    """Each input once: overlapping globs (``*.mp4 a*.mp4``) name a file twice, which would
    otherwise be refused as two inputs writing the same outputs."""
    kept: dict[str, Path] = {}
    for path in inputs:
        key = os.path.abspath(path)  # as a batch names inputs: two links are two inputs
        if key in kept:
            log.warning("%s is given more than once; processed once", path)
        else:
            kept[key] = path
    return list(kept.values())


def _videos_of_folders(inputs: list[Path]) -> list[Path]:
    """A folder without photos but with videos stands for its videos, each processed in turn
    (a folder of photos is one input: its photos are the frames)."""
    from emocam.outputs import is_output_name
    from emocam.photo_folder import photo_files, videos_in

    out: list[Path] = []
    for path in inputs:
        try:
            # What a folder run would read (or name as left out for their names).
            photos = path.is_dir() and bool(photo_files(path))
            videos = videos_in(path) if path.is_dir() else []
        except OSError:  # unreadable: opening it as the input names the cause
            photos, videos = False, []
        # Annotated copies from an earlier run in the same folder are outputs, not inputs.
        videos = [v for v in videos if not is_output_name(v)]
        if photos:
            videos = []  # a folder of photos is one input, its photos the frames (the
            # videos beside them are said as left out when it is opened)
        out.extend(videos or [path])
    return out


def run_process_command(args: argparse.Namespace) -> int:
    args.input = _once_each(_videos_of_folders(args.input))
    if batch_cli.wanted(args):
        return _process_batch(args)
    if len(args.input) > 1:
        return _process_several(args)
    return _report(_run_chosen(args), args.quiet, more_to_come=False)


def _report(result: ProcessResult, quiet: bool, name: str = "",
            more_to_come: bool = True) -> int:
    """Tell what one run wrote; its exit status (130 when it was stopped early, or a stop
    came as it ended and ``more_to_come``)."""
    written = ", ".join(result.outputs.values())
    if not result.completed and result.frames == 0:
        log.warning("stopped %sbefore the first %s; nothing was written (earlier outputs "
                    "are as they were)", f"in {name} " if name else "", result.unit)
        return EXIT_INTERRUPTED
    if not result.completed:
        log.warning("stopped %safter %s; the results so far were saved: %s",
                    f"in {name} " if name else "", count_text(result.frames, result.unit),
                    written)
        return EXIT_INTERRUPTED
    if not quiet:
        from emocam.staging import writes_in_place

        # An output sent to /dev/stdout owns it: the summary then goes where messages go.
        to = sys.stderr if any(writes_in_place(Path(p)) for p in result.outputs.values()) \
            else sys.stdout
        prefix = f"{name}: " if name else ""
        # A rate means nothing for a single photo; a folder's is photos a second, as its bar's.
        per_s = "fps" if result.unit == "frame" else f"{result.unit}s/s"
        rate = f" at {result.fps:.1f} {per_s}" if result.frames > 1 else ""
        say(f"{prefix}{count_text(result.frames, result.unit)}{rate}; wrote {written}", to)
        for feed in result.streams:
            unheard = feed.get("unheard")
            # Without it the counts did not add up to the frames of a late receiver's run.
            nobody = (f", {frames_text(unheard)} offered while no receiver was connected"
                      if unheard else "")
            say(f"{prefix}live feed {feed['url']}: {feed['sent']} message(s) sent, "
                f"{frames_text(feed['dropped'])} dropped for receivers that were behind"
                f"{nobody}", to)
    if result.ended_early and result.photos_skipped > (1 if quiet else 0):
        # Each photo not read was a line as it came, among the progress; the end counts
        # them where they are seen, in the bar's count of the folder's photos ("1 of 8"
        # beside 8/8), as a batch does beside each input's line. Without a bar (-q), one
        # was said already. (A video's early end was said already, as it came.)
        log.warning("%s", result.ended_early)
    if result.stopped_after:
        log.warning("%s came while the outputs %swere being closed; they are complete",
                    _stop_name(result.stopped_after), f"of {name} " if name else "")
        return EXIT_INTERRUPTED if more_to_come else 0
    return 0


def _stop_name(signal_name: str) -> str:
    return "Ctrl-C" if signal_name == "SIGINT" else signal_name


def _check_several(args: argparse.Namespace, given: int) -> None:
    """Refuse, before any work, what cannot hold for several inputs (``given``: how many
    the command named, before earlier outputs were left out)."""
    if args.reanalyse is not None:
        raise UserError("Give either INPUTs to process or --reanalyse SIDECAR, not both.")
    if args.output_video or args.csv or args.json:
        several = "several inputs" if given > 1 else "a batch (--jobs, --dask, --resume)"
        raise UserError(f"--output-video, --csv and --json name one file each; for {several}, "
                        "give a folder with -o DIR instead.")
    from emocam.outputs import default_outputs, output_base

    seen: dict[str, Path] = {}
    inputs = {_file_key(p): p for p in args.input}
    for path in args.input:
        base = output_base(path, args.outdir, path.is_dir())
        if _file_key(base) in seen:
            raise UserError(f"{seen[_file_key(base)]} and {path} would write the same outputs "
                            f"({base}.*); process them into separate folders.")
        seen[_file_key(base)] = path
        # An earlier run's output given again (a shell glob over a folder): the run of
        # ``path`` would replace it before it is read.
        for out in default_outputs(path, args.outdir, path.is_dir()):
            other = inputs.get(_file_key(out))
            if other is not None and other != path:
                raise UserError(f"{other} is an output of {path} in this run and would be "
                                "replaced before it is read; leave earlier outputs out of the "
                                "inputs, or write into another folder with -o DIR.")


# macOS's and Windows' disks ignore the case of names (as a rule: a volume may be made
# otherwise, where refusing two names alike but for case costs a second folder).
CASE_BLIND_DISKS = sys.platform in ("darwin", "win32")


def _file_key(path: Path) -> str:
    """One key per file the system would open for ``path``: on a disk that ignores case,
    day1/Interview.mp4 and day2/interview.mp4 into one -o folder wrote one set of outputs
    (the second refused as done already, or, with --overwrite, replacing the first's)."""
    key = os.path.normcase(str(path.resolve()))
    return key.casefold() if CASE_BLIND_DISKS else key


def _leave_out_earlier_outputs(inputs: list[Path]) -> list[Path]:
    """Among several inputs, files named like an earlier run's outputs (``NAME.emocam.mp4``)
    are left out, as a folder run leaves them out, and the user is told."""
    from emocam.outputs import is_output_name

    earlier = [p for p in inputs if p.is_file() and is_output_name(p)]
    if earlier and len(earlier) < len(inputs):
        log.warning("left out %s: named like an earlier run's output (process it on its own "
                    "to analyse it)", ", ".join(map(str, earlier)))
        return [p for p in inputs if p not in earlier]
    return inputs


def _process_several(args: argparse.Namespace) -> int:
    """Each input in turn; one that fails is reported in its sentence and the rest go on."""
    from emocam.batch_manifest import DONE, PARTIAL, REFUSED, complete_set, done_already
    from emocam.batch_progress import Tally, going_text
    from emocam.inputs import shown_name
    from emocam.process import NoFacesFound, run_process

    # Left out first: a glob beside an earlier run's outputs takes them in, and the check
    # below would refuse them as outputs of this run.
    given = len(args.input)
    args.input = _leave_out_earlier_outputs(args.input)
    _check_several(args, given)
    opts = _process_options(args)
    _load_ahead(opts, args.input)
    failed: list[Path] = []
    tally = Tally(len(args.input))  # as a batch's bar counts them: refused ones not done
    for path in args.input:
        done = None if opts.overwrite else complete_set(path, replace(opts, input=path).request())
        if done is not None:
            # As a batch says it: the flag that skips it, not only --overwrite.
            print(f"emocam: {done_already(path, done)}", file=sys.stderr)
            failed.append(path)
            tally.add(REFUSED)
            continue
        try:
            # As a batch's bar says it: how many are done, and which is going.
            said = going_text(tally, [shown_name(Path(path.name))])
            result = run_process(replace(opts, input=path, progress_text=said))
        except NoFacesFound as e:
            # Its outputs are complete: among several inputs it is done, and said (alone,
            # a run without a face still ends with status 2).
            tally.add(DONE)
            print(f"emocam: {e}", file=sys.stderr)
            if e.stopped_after and path != args.input[-1]:
                log.warning("%s came as its outputs were closed", _stop_name(e.stopped_after))
                return _stopped_before(args.input, path)
            continue
        except UserError as e:
            print(f"emocam: {e}", file=sys.stderr)
            failed.append(path)
            tally.add(REFUSED)
            continue
        tally.add(DONE if result.completed else PARTIAL)
        more = path != args.input[-1]
        if _report(result, args.quiet, str(path), more_to_come=more) == EXIT_INTERRUPTED:
            return _stopped_before(args.input, path)
    if failed:
        print(f"emocam: {not_all_processed(len(args.input), list(map(shown_name, failed)))}",
              file=sys.stderr)
        return 2
    if not args.quiet:
        say(f"{inputs_text(len(args.input))} processed.")
    return 0


def _stopped_before(inputs: list[Path], path: Path) -> int:
    """Say which inputs after ``path`` were left alone by a stop; the status to end with."""
    later = inputs[inputs.index(path) + 1:]
    if later:
        print(f"emocam: stopped before {', '.join(map(str, later))}; run emocam process on "
              "them to process them.", file=sys.stderr)
    return EXIT_INTERRUPTED


def _process_batch(args: argparse.Namespace) -> int:
    """INPUTS at once on workers (--jobs, --dask), with a manifest (emocam.batch_cli)."""
    batch_cli.check(args)
    if not args.input:
        raise UserError("Give the INPUTs to process.")
    given = len(args.input)
    args.input = _leave_out_earlier_outputs(args.input)
    _check_several(args, given)
    return batch_cli.run(args, args.input, _process_options(args))
