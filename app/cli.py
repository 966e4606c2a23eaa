"""The ``emocam`` command: ``emocam process INPUT`` headless, or the desktop app.

It parses arguments, sets up the terminal (``emocam.console``) and the stop signals, turns
user errors into one sentence and an exit code, and hands the work to
``emocam.process_command`` or ``emocam.gui``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from emocam import __version__, batch_cli
from emocam.console import AboveProgressBar, native_stderr_to_devnull, quiet_native_logs
from emocam.display import display_problem
from emocam.encoders import DEFAULT_VIDEO_CODEC, VIDEO_CODECS
from emocam.errors import (
    EXIT_INTERRUPTED,
    EXIT_READER_GONE,
    STOP_SIGNALS,
    UserError,
    quiet_closed_stdout,
)
from emocam.process_command import run_process_command
from emocam.resources import BUILTIN_MODELS, CPU_DEFAULT_MODEL, DEFAULT_MODEL, resolve_model
from emocam.stopping import ours
from emocam.types import DEFAULT_MIN_SCORE

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
                    help="onnxruntime execution provider: cpu, cuda, directml, coreml, auto "
                    "(the fastest available, the default) or a full name")
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
                       help="re-render CSV, JSON, report and (if the source still reads) "
                       "video from a NAME.emocam.npz, with new --smoothing, --threshold, "
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


    # Another extension is opened by content (a video, else an image): the writer checks.


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


def app_argv(argv: list[str]) -> list[str]:
    """``emocam PATH`` (what a file manager's "Open With" runs) opens the app on the video,
    photo or folder, as ``--video PATH`` does; it was "invalid choice". The app's own
    options may come first (``emocam -v PATH``, ``emocam --model ferplus PATH``)."""
    i = _first_word(argv)
    first = argv[i] if i < len(argv) else ""
    # A path that does not exist still opens the app, which names it; a word that is no
    # path (a mistyped command) is left for argparse to list the commands.
    pathlike = Path(first).exists() or bool(Path(first).suffix) or "/" in first
    if first and first != "process" and pathlike:
        return [*argv[:i], "--video", first, *argv[i + 1:]]
    return argv


_SOURCES = ("--video", "--camera", "--image")


def _first_word(argv: list[str]) -> int:
    """Where the first word that is neither an app option nor an option's value stands;
    past the end where a source is named already (``--video a.mp4 b.mp4`` stays an error)
    or ``--`` ends the options."""
    taking = {s for a in build_parser()._actions if a.option_strings and a.nargs != 0
              for s in a.option_strings}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        if argv[i] == "--" or argv[i].split("=")[0] in _SOURCES:
            return len(argv)
        i += 2 if argv[i] in taking else 1
    return i


def main(argv: Sequence[str] | None = None) -> int:
    argv = app_argv(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    quiet_native_logs()
    # SIGTERM and SIGHUP (the terminal closed, an ssh session dropped) end a run the way
    # Ctrl-C does: outputs closed, summary marked incomplete.
    for signum in ours(STOP_SIGNALS):
        signal.signal(signum, _raise_interrupt)
    with native_stderr_to_devnull(not verbose):
        logging.basicConfig(
            level=logging.INFO if verbose else logging.WARNING,
            format="emocam: %(message)s",
            handlers=[AboveProgressBar(sys.stderr)],
            force=True,
        )
        # Other libraries' own notices (matplotlib's about its cache folder when the home
        # folder is read-only) are not ours to say; -v shows them.
        logging.getLogger("matplotlib").setLevel(logging.INFO if verbose else logging.ERROR)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "process":
            return run_process_command(args)
        return _gui(args)
    except UserError as e:
        print(f"emocam: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("emocam: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        quiet_closed_stdout()
        return EXIT_READER_GONE
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
