"""The command line of a batch: ``emocam process INPUTS... --jobs N`` (or ``--dask ADDRESS``,
``--resume``). ``emocam.cli`` parses the arguments; this tells the user what became of each
input, once, and turns the manifest into the exit status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from emocam.console import say
from emocam.errors import (
    EXIT_INTERRUPTED,
    UserError,
    count_text,
    inputs_text,
    not_all_processed,
)
from emocam.inputs import shown_name

if TYPE_CHECKING:
    from emocam.batch_manifest import Manifest, Outcome
    from emocam.process import ProcessOptions

DASK_LOCAL = "local"


def add_arguments(pp: argparse.ArgumentParser) -> None:
    batch = pp.add_argument_group("batches (several inputs at once; a manifest "
                                  "emocam-batch.json in the output folder)")
    batch.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                       help="process N inputs at once in separate worker processes, each "
                       "with its share of the cores (default: one input at a time with "
                       "every core)")
    batch.add_argument("--dask", metavar="ADDRESS",
                       help="send the inputs to the Dask cluster at tcp://HOST:PORT, or "
                       "'local' for a cluster on this machine (needs emocam[cluster]; "
                       "inputs and outputs on a filesystem every worker shares)")
    batch.add_argument("--resume", action="store_true",
                       help="skip inputs whose outputs are complete; redo partial ones")
    batch.add_argument("--retries", type=_retries, metavar="N", default=None,
                       help="times an input is tried again when its worker dies (default: 2)")


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs") from None
    if not 1 <= n <= 1024:
        raise argparse.ArgumentTypeError("give between 1 and 1024 jobs")
    return n


def _retries(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of retries") from None
    if not 0 <= n <= 100:
        raise argparse.ArgumentTypeError("give between 0 and 100 retries")
    return n


def wanted(args: argparse.Namespace) -> bool:
    """Whether this run is a batch (a manifest, workers), not inputs one after another."""
    return bool(args.jobs or args.dask or args.resume or args.retries is not None)


def check(args: argparse.Namespace) -> None:
    if args.reanalyse is not None:
        raise UserError("--jobs, --dask and --resume process INPUTs; a re-analysis is one "
                        "sidecar, so leave them out.")
    if args.stream and (args.dask or (args.jobs or 1) > 1):
        # Each worker would open the same feed: the second finds the port taken.
        raise UserError("--stream sends one run's results as it goes; with several workers "
                        "their runs would share it, so process the inputs one after another "
                        "(leave out --jobs and --dask).")
    if args.resume and args.overwrite:
        raise UserError("--resume keeps the outputs that are complete and --overwrite replaces "
                        "them; give one of them.")
    if args.jobs and args.dask and args.dask != DASK_LOCAL:
        raise UserError("--jobs sets the workers on this machine and --dask sends the inputs "
                        "to a cluster; give one of them.")


def run(args: argparse.Namespace, inputs: list[Path], options: ProcessOptions) -> int:
    """Run the batch; the exit status: 0 when every input is done, 130 when stopped, else 2."""
    from emocam.batch import DEFAULT_RETRIES, BatchOptions

    bopts = BatchOptions(
        inputs=inputs, options=options,
        jobs=args.jobs or (2 if args.dask == DASK_LOCAL else 1), resume=args.resume,
        progress=not args.quiet,
        retries=DEFAULT_RETRIES if args.retries is None else args.retries,
    )
    report = _Reporter(args.quiet)
    if args.dask:
        from emocam.batch_dask import run_on_dask

        manifest = run_on_dask(bopts, args.dask, report, announce=_announce)
    else:
        from emocam.batch import run_batch

        manifest = run_batch(bopts, report)
    from emocam.batch_manifest import manifest_path

    return report.finish(manifest, manifest_path(options.outdir, inputs))


def _announce(line: str) -> None:
    print(f"emocam: {line}", file=sys.stderr)


class _Reporter:
    """Each input's outcome, once, as `emocam process` tells it for one input."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, o: Outcome) -> None:
        from tqdm import tqdm

        from emocam.batch_manifest import DONE, PARTIAL

        if o.skipped:
            if not self.quiet:
                say(f"{o.input}: done by an earlier run (its outputs are complete); skipped")
        elif o.status == DONE:
            if o.frames and not o.frames_with_faces and o.message:
                tqdm.write(f"emocam: {o.message}", file=sys.stderr)  # no face in it
            if not self.quiet:
                from emocam.process import unit_of

                written = ", ".join(o.outputs.values())
                say(f"{o.input}: {count_text(o.frames, unit_of(Path(o.input)))} in "
                    f"{o.wall_s:.1f} s on {o.worker}; wrote {written}")
                if o.frames_with_faces and o.message and Path(o.input).is_dir():
                    # What of a folder could not be read ("2 of 8", as the bar counted its
                    # photos), beside its line: its photos' own warnings came mixed with the
                    # other inputs' as they ran. (A video's early end was said as it came,
                    # in its own words: said again here, it was said twice.)
                    tqdm.write(f"emocam: {o.message}", file=sys.stderr)
        elif o.status == PARTIAL and not o.outputs and o.message:
            # Stopped while closing its outputs (a third Ctrl-C): no whole file to name, and
            # its own sentence says what to do.
            tqdm.write(f"emocam: {o.message}", file=sys.stderr)
        elif o.status == PARTIAL:
            from emocam.process import unit_of

            tqdm.write(f"emocam: stopped in {o.input} after "
                       f"{count_text(o.frames, unit_of(Path(o.input)))}; the "
                       f"results so far were saved: {', '.join(o.outputs.values())}",
                       file=sys.stderr)
        else:
            tqdm.write(f"emocam: {o.message}", file=sys.stderr)

    def finish(self, manifest: Manifest, path: Path) -> int:
        from emocam.batch_manifest import DONE, NOT_STARTED, PARTIAL

        outcomes = manifest.outcomes
        done = [o for o in outcomes if o.status == DONE]
        skipped = [o for o in done if o.skipped]
        where = str(path)
        if manifest.stopped:
            left = [shown_name(Path(o.input)) for o in outcomes
                    if o.status in (PARTIAL, NOT_STARTED)]
            print(f"emocam: the batch was stopped; {len(done)} of "
                  f"{inputs_text(len(outcomes))} {'is' if len(done) == 1 else 'are'} "
                  f"done, and {where} lists the partial and unstarted ones: "
                  f"{', '.join(left)}.", file=sys.stderr)
            return EXIT_INTERRUPTED
        if len(done) < len(outcomes):
            others = [shown_name(Path(o.input)) for o in outcomes if o.status != DONE]
            print(f"emocam: {not_all_processed(len(outcomes), others)}", file=sys.stderr)
            return 2
        if not self.quiet:
            note = f" ({len(skipped)} already done, skipped)" if skipped else ""
            kept = (f" {where} also keeps the lines of {inputs_text(len(manifest.earlier))} "
                    "an earlier batch wrote into this folder." if manifest.earlier else "")
            say(f"{inputs_text(len(done))} processed{note}.{kept}")
        return 0
