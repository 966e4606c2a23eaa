"""The ``emocam`` command: ``emocam process INPUT`` headless, or the desktop app.

It parses arguments, checks the inputs and outputs a command names against each other
(several inputs, folders of videos, earlier runs' outputs), turns user errors into one
sentence and an exit code, and hands the work to ``emocam.process``, ``emocam.batch_cli``,
``emocam.reanalyse`` or ``emocam.gui``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from emocam import __version__, batch_cli
from emocam.display import display_problem
from emocam.encoders import DEFAULT_VIDEO_CODEC, VIDEO_CODECS
from emocam.errors import (
    EXIT_INTERRUPTED,
    STOP_SIGNALS,
    UserError,
    frames_text,
    inputs_text,
    not_all_processed,
)
from emocam.resources import BUILTIN_MODELS, CPU_DEFAULT_MODEL, DEFAULT_MODEL, resolve_model
from emocam.stopping import ends_at_once, ours
from emocam.types import DEFAULT_MIN_SCORE

if TYPE_CHECKING:
    from emocam.process import ProcessOptions, ProcessResult

log = logging.getLogger("emocam")


def _number(what: str, lo: float, hi: float, out_of_range: str) -> Callable[[str], float]:
    """An argparse type: a float in ``[lo, hi]``, else one sentence saying what is wrong."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(out_of_range)
        return v

    return parse


_seconds = _number("a number of seconds", 0, 10, "smoothing must be between 0 and 10 seconds")
_fps = _number("a frame rate", 1, 1000, "the target frame rate must be between 1 and 1000")
_probability = _number("a probability", 0, 1, "give a probability between 0 and 1")


class _CommandParser(argparse.ArgumentParser):
    """A command's parser: it names an option it does not know itself, under its own usage
    line; left to the main parser, that came under the app's two-line usage."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emocam",
        usage="emocam [PATH | --video PATH | --camera N] [options]\n"
              "       emocam process INPUT... [options]",
        description="Read emotions on every face in a webcam, video or image. Without a "
        "command, opens the desktop app: on PATH (a video, photo or folder) when given, "
        "else on the webcam.",
    )
    p.add_argument("--version", action="version", version=f"emocam {__version__}")
    gui = p.add_argument_group("desktop app")
    src = gui.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH",
                     help="open the app on this video (or photo, or folder); a PATH alone "
                     "does the same")
    src.add_argument("--camera", metavar="N", type=int, help="open the app on camera N")
    src.add_argument("--image", metavar="FILE", help="open the app on this image")
    gui.add_argument("--model", dest="gui_model", metavar="MODEL",
                     help="emotion model for this session of the app: an .onnx file or a "
                     f"built-in one ({', '.join(BUILTIN_MODELS)}; default: the one chosen in "
                     f"View > Built-in Model, automatically {CPU_DEFAULT_MODEL} on the CPU and "
                     f"{DEFAULT_MODEL} on a GPU)")
    gui.add_argument("-v", "--verbose", action="store_true",
                     help="log details, the native libraries' own lines included")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    _add_process(sub)
    return p


def _add_process(sub: argparse._SubParsersAction) -> None:
    from emocam.track import DEFAULT_TAU_S

    pp = sub.add_parser(
        "process",
        # Named here: argparse would build it from the main parser's two-line usage, and
        # every error and the help began with both lines run together.
        prog="emocam process",
        usage="%(prog)s INPUT... [options]",  # a mistake's sentence, not 13 lines above it
        help="annotate a video, an image or a folder of images and write CSV/JSON results",
        description="Write an annotated copy (NAME.emocam.mp4 or the image's type), a "
        "per-frame CSV (NAME.emocam.csv; for a single photo only with --csv, its JSON holds "
        "every face), a JSON summary (NAME.emocam.json), a report (NAME.emocam.html) and a "
        "sidecar of the raw numbers for --reanalyse (NAME.emocam.npz) next to the input, or "
        "into -o DIR. Several inputs are processed one after the other (or side by side, "
        "with --jobs or --dask).",
    )
    pp.add_argument("input", type=Path, nargs="*",
                    help="video file, image file, folder of images or folder of videos (one "
                    "or more)")
    pp.add_argument("-o", "--outdir", type=Path, metavar="DIR", help="folder for all outputs")
    pp.add_argument("--output-video", type=Path, metavar="PATH",
                    help="annotated video (or image, or folder for a folder of images)")
    pp.add_argument("--csv", type=_file_argument, metavar="PATH", help="per-frame CSV")
    pp.add_argument("--json", type=_file_argument, metavar="PATH", help="JSON summary")
    pp.add_argument("--no-video", action="store_true", help="write no annotated copy")
    pp.add_argument("--no-audio", action="store_true",
                    help="leave the source's sound out of the annotated video")
    pp.add_argument("--video-codec", choices=VIDEO_CODECS, default=DEFAULT_VIDEO_CODEC,
                    help="the annotated video's codec: mp4v is the fastest to write; h264 "
                    "gives files about a third the size that also play in web browsers "
                    f"(default: {DEFAULT_VIDEO_CODEC})")
    pp.add_argument("--no-sidecar", action="store_true",
                    help="write no sidecar (NAME.emocam.npz beside the CSV: the numbers "
                    "--reanalyse needs)")
    pp.add_argument("--no-report", action="store_true",
                    help="write no NAME.emocam.html (the report: what ran, each face's "
                    "timeline and shares of time)")
    pp.add_argument("--detector", choices=("mediapipe", "opencv"),
                    help="face detector (default: mediapipe)")
    pp.add_argument("--model", type=_model_argument, metavar="MODEL",
                    help="emotion model: an .onnx file, or a built-in one: "
                    f"{', '.join(BUILTIN_MODELS)} (default: {CPU_DEFAULT_MODEL} on the CPU, "
                    f"{DEFAULT_MODEL} on a GPU)")
    pp.add_argument("--provider", metavar="P", type=_provider_argument,
                    help="onnxruntime execution provider: cpu, cuda, directml, coreml or a "
                    "full name (default: the fastest available)")
    pp.add_argument("--min-score", "--threshold", type=_probability, metavar="S",
                    help=f"minimum face detection score (default: {DEFAULT_MIN_SCORE}; when "
                    "re-analysing: "
                    "the recorded one)")
    pp.add_argument("--smoothing", "--smoothing-tau", type=_seconds, metavar="SECONDS",
                    help=f"time constant of the probability smoothing, 0 = off "
                    f"(default: {DEFAULT_TAU_S}; when re-analysing: the recorded one)")
    pp.add_argument("--uncertain-below", type=_probability, metavar="P",
                    help="show a face as uncertain when its top calibrated probability is "
                    "below P (default: the model's value, else 0.4)")
    pp.add_argument("--target-fps", type=_fps, metavar="FPS",
                    help="hold this frame rate on a slow machine: detect faces every 2nd to "
                    "4th frame and look for new ones less often, moving known faces' boxes "
                    "on in between (every face is still classified in every frame)")
    _add_beyond(pp)
    live = pp.add_argument_group("live feed (the only way results leave this machine)")
    live.add_argument("--stream", action="append", default=[], metavar="URL",
                      help="send each frame's results as the run goes: osc://HOST:PORT (OSC "
                      "messages over UDP) or ws://HOST:PORT (a WebSocket server, with a page "
                      "to watch it in a browser at http://HOST:PORT/); without a host, "
                      "127.0.0.1 (this machine only). May be given twice. Formats: "
                      "docs/STREAMING.md")
    batch_cli.add_arguments(pp)
    pp.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    pp.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    pp.add_argument("-v", "--verbose", action="store_true", help="log details")


def _add_beyond(pp: argparse.ArgumentParser) -> None:
    again = pp.add_argument_group("re-analysis (no detector or classifier is run)")
    again.add_argument("--reanalyse", "--reanalyze", type=Path, metavar="SIDECAR",
                       help="re-render CSV, JSON and (if the source still reads) video from "
                       "a NAME.emocam.npz, with new --smoothing, --threshold, "
                       "--uncertain-below or --label-map")
    again.add_argument("--label-map", metavar="OLD=NEW,...", default="",
                       help="rename classes; classes given one name are merged, e.g. "
                       "anger=negative,disgust=negative")
    privacy = pp.add_argument_group("privacy")
    privacy.add_argument("--no-frames", action="store_true",
                         help="keep no frames at all: only numbers (CSV, JSON, sidecar, and the "
                              "report without pictures)")
    # A voice identifies a person as a face does: both modes below also drop the sound.
    hide = privacy.add_mutually_exclusive_group()
    hide.add_argument("--blur-faces", action="store_true",
                      help="smear every face in the annotated output (no sound)")
    hide.add_argument("--boxes-only", action="store_true",
                      help="draw boxes and bars on a plain background, no camera pixels "
                      "(no sound)")




def _model_argument(spec: str) -> Path:
    # An empty name would quietly be the float reference model, not the CPU default.
    if not spec.strip():
        raise argparse.ArgumentTypeError(
            f"give a model: an .onnx file or one of {', '.join(BUILTIN_MODELS)}; leave "
            "--model out for the default")
    return resolve_model(spec)


def _file_argument(value: str) -> Path:
    # Path() drops a trailing slash, and the file would be written under the folder's name.
    if value.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(
            f"{value} names a folder; give a file name, or put the outputs in that folder "
            "with -o")
    if value == "-":  # the usual name of standard output (it wrote a file named "-")
        if not Path("/dev/stdout").exists():
            raise argparse.ArgumentTypeError(
                "- (standard output) cannot be written on this system; give a file name")
        return Path("/dev/stdout")
    return Path(value)


def _provider_argument(value: str) -> str:
    # A provider this build lacks (cuda on a laptop) falls back to the CPU with a warning;
    # a name no onnxruntime knows is a typo, said now rather than run on the CPU unasked.
    from emocam.classify import known_provider

    if not known_provider(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an onnxruntime execution provider; use cpu, cuda, directml, "
            "coreml, auto, or a full name such as CUDAExecutionProvider")
    return value


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _quiet_native_logs() -> None:
    # MediaPipe's and TensorFlow Lite's C++ cores log to stderr at start-up; a user sees
    # only our own messages unless they ask for more.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # FFmpeg's own complaints about a broken file would print before our one-sentence error.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


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
    from emocam.outputnames import annotated_image_suffix, check_image_name, check_video_name
    from emocam.sources import VIDEO_EXTS, input_kind

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
    # Another extension is opened by content (a video, else an image): the writer checks.


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
    from emocam.sources import photo_files, videos_in

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


def _process(args: argparse.Namespace) -> int:
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
        log.warning("stopped %sbefore the first frame; nothing was written (earlier outputs "
                    "are as they were)", f"in {name} " if name else "")
        return EXIT_INTERRUPTED
    if not result.completed:
        log.warning("stopped %safter %s; the results so far were saved: %s",
                    f"in {name} " if name else "", frames_text(result.frames), written)
        return EXIT_INTERRUPTED
    if not quiet:
        from emocam.staging import writes_in_place

        # An output sent to /dev/stdout owns it: the summary then goes where messages go.
        to = sys.stderr if any(writes_in_place(Path(p)) for p in result.outputs.values()) \
            else sys.stdout
        prefix = f"{name}: " if name else ""
        # A rate means nothing for a single photo.
        rate = f" at {result.fps:.1f} fps" if result.frames > 1 else ""
        print(f"{prefix}{frames_text(result.frames)}{rate}; wrote {written}", file=to)
        for feed in result.streams:
            unheard = feed.get("unheard")
            # Without it the counts did not add up to the frames of a late receiver's run.
            nobody = (f", {frames_text(unheard)} offered while no receiver was connected"
                      if unheard else "")
            print(f"{prefix}live feed {feed['url']}: {feed['sent']} message(s) sent, "
                  f"{frames_text(feed['dropped'])} dropped for receivers that were behind"
                  f"{nobody}", file=to)
    if result.photos_skipped > 1:
        # Each unreadable photo was a line as it came, among the progress; the end counts
        # them where they are seen. (One was said already, and so is a video's early end.)
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

    seen: dict[Path, Path] = {}
    inputs = {p.resolve(): p for p in args.input}
    for path in args.input:
        base = output_base(path, args.outdir, path.is_dir())
        if base.resolve() in seen:
            raise UserError(f"{seen[base.resolve()]} and {path} would write the same outputs "
                            f"({base}.*); process them into separate folders.")
        seen[base.resolve()] = path
        # An earlier run's output given again (a shell glob over a folder): the run of
        # ``path`` would replace it before it is read.
        for out in default_outputs(path, args.outdir, path.is_dir()):
            other = inputs.get(out.resolve())
            if other is not None and other != path:
                raise UserError(f"{other} is an output of {path} in this run and would be "
                                "replaced before it is read; leave earlier outputs out of the "
                                "inputs, or write into another folder with -o DIR.")


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
    from emocam.batch_manifest import complete_set, done_already
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
    for path in args.input:
        done = None if opts.overwrite else complete_set(path, replace(opts, input=path).request())
        if done is not None:
            # As a batch says it: the flag that skips it, not only --overwrite.
            print(f"emocam: {done_already(path, done)}", file=sys.stderr)
            failed.append(path)
            continue
        try:
            result = run_process(replace(opts, input=path))
        except NoFacesFound as e:
            # Its outputs are complete: among several inputs it is done, and said (alone,
            # a run without a face still ends with status 2).
            print(f"emocam: {e}", file=sys.stderr)
            continue
        except UserError as e:
            print(f"emocam: {e}", file=sys.stderr)
            failed.append(path)
            continue
        more = path != args.input[-1]
        if _report(result, args.quiet, str(path), more_to_come=more) == EXIT_INTERRUPTED:
            later = args.input[args.input.index(path) + 1:]  # left alone
            if later:
                print(f"emocam: stopped before {', '.join(map(str, later))}; run emocam "
                      "process on them to process them.", file=sys.stderr)
            return EXIT_INTERRUPTED
    if failed:
        print(f"emocam: {not_all_processed(len(args.input), list(map(shown_name, failed)))}",
              file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"{inputs_text(len(args.input))} processed.")
    return 0


def _process_batch(args: argparse.Namespace) -> int:
    """INPUTS at once on workers (--jobs, --dask), with a manifest (emocam.batch_cli)."""
    batch_cli.check(args)
    if not args.input:
        raise UserError("Give the INPUTs to process.")
    given = len(args.input)
    args.input = _leave_out_earlier_outputs(args.input)
    _check_several(args, given)
    return batch_cli.run(args, args.input, _process_options(args))


def _gui(args: argparse.Namespace) -> int:
    problem = display_problem()
    if problem is not None:
        print(f"emocam: {problem}", file=sys.stderr)
        return 2
    try:
        from emocam.gui.app import run
    except ImportError as e:
        if e.name and e.name.startswith("PySide6"):
            msg = "The desktop app needs PySide6; install it with `pip install PySide6-Essentials`."
        elif e.name == "emocam.gui.app":
            msg = (
                "The desktop app is not available in this build of emocam; use "
                "`emocam process VIDEO` instead."
            )
        else:
            raise  # a real bug in the app, not something the user can fix
        print(f"emocam: {msg}", file=sys.stderr)
        return 2
    return int(run(args) or 0)


@contextmanager
def _native_stderr_to_devnull(enabled: bool) -> Iterator[None]:
    """Native libraries (LiteRT, TensorFlow, FFmpeg) write straight to file descriptor 2,
    bypassing every Python setting. Point descriptor 2 at /dev/null and give Python's
    ``sys.stderr`` a private copy of the real one, so the user sees only emocam's lines."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no usable descriptor 2 (pythonw)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = sys.stderr
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)
        sys.stderr.close()
        sys.stderr = saved


class _AboveProgressBar(logging.StreamHandler):
    """A message goes on its own line above the progress bar, not onto the bar's line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def app_argv(argv: list[str]) -> list[str]:
    """``emocam PATH`` (what a file manager's "Open With" runs) opens the app on the video,
    photo or folder, as ``--video PATH`` does; it was "invalid choice"."""
    first = argv[0] if argv else ""
    # A path that does not exist still opens the app, which names it; a word that is no
    # path (a mistyped command) is left for argparse to list the commands.
    pathlike = Path(first).exists() or bool(Path(first).suffix) or "/" in first
    if first and not first.startswith("-") and first != "process" and pathlike:
        return ["--video", first, *argv[1:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = app_argv(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    _quiet_native_logs()
    # SIGTERM and SIGHUP (the terminal closed, an ssh session dropped) end a run the way
    # Ctrl-C does: outputs closed, summary marked incomplete.
    for signum in ours(STOP_SIGNALS):
        signal.signal(signum, _raise_interrupt)
    with _native_stderr_to_devnull(not verbose):
        logging.basicConfig(
            level=logging.INFO if verbose else logging.WARNING,
            format="emocam: %(message)s",
            handlers=[_AboveProgressBar(sys.stderr)],
            force=True,
        )
        # Other libraries' own notices (matplotlib's about its cache folder when the home
        # folder is read-only) are not ours to say; -v shows them.
        logging.getLogger("matplotlib").setLevel(logging.INFO if verbose else logging.ERROR)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "process":
            return _process(args)
        return _gui(args)
    except UserError as e:
        print(f"emocam: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("emocam: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        # Disk full, permission denied and the like: the user's environment, not a bug.
        where = f"{e.filename}: " if e.filename else ""
        print(f"emocam: {where}{e.strerror or e}{_os_error_hint(e)}.", file=sys.stderr)
        return 2


def _os_error_hint(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "; check its permissions, or choose a folder you may write to"
    if e.errno == errno.ENOSPC:
        return "; free some disk space or choose another folder"
    return ""
