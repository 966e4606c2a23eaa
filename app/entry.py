"""The ``emocam`` command's entry point: nothing but the standard library until Ctrl-C is
handled.

A Ctrl-C in the first fraction of a second lands while NumPy, OpenCV and onnxruntime are
being imported, before ``emocam.cli.main`` can catch anything: Python printed a
KeyboardInterrupt traceback, or an ImportError from a C extension whose initialisation it
cut short. Until the command's modules are loaded nothing has been written, so a Ctrl-C
then simply ends the process with the usual status (``emocam.stopping.ends_at_once``).
onnxruntime is loaded here too, although the command imports it only when a run starts:
its native initialisation is where a Ctrl-C most often landed (about 0.15 s of the start,
which ``--help`` now pays as well). ``emocam process`` loads the rest of what its run needs
the same way (``emocam.process.load_for``).
"""

from __future__ import annotations

import sys

from emocam.errors import EXIT_INTERRUPTED
from emocam.stopping import ends_at_once


def main() -> int:
    with ends_at_once():
        from emocam.cli import main as run
        from emocam.offline import keep_native_libraries_offline

        keep_native_libraries_offline()  # before onnxruntime's reporter can start
        import onnxruntime  # noqa: F401
    try:
        return run()
    except KeyboardInterrupt:  # while arguments are read, before a run can catch it
        print("emocam: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
