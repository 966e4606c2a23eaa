"""Keeps MediaPipe's usage statistics on this machine.

MediaPipe's native tasks library (``libmediapipe.so``, mediapipe 1.2) creates a usage logger
for every task it runs (``tasks::core::logging::CreateTasksLogger``, called unconditionally
by ``TaskRunner::Create``). When a task is closed the logger posts a report, through the
libcurl built into the library, to ``https://play.googleapis.com/log``: a DNS lookup and a
TLS connection that Python's socket hooks never see. The library offers no switch to turn
it off (no option in ``MpBaseOptions``, no environment variable), and the dummy logger is
used only when the HTTP client cannot be made.

libcurl does take its proxy from the environment at each request, though, and refuses a
proxy URL whose scheme it does not know before it resolves or connects anything. So before
MediaPipe is loaded, ``https_proxy`` names such a proxy (and ``no_proxy``, which could
exempt Google's host from it, is cleared): each report then fails inside the library, with
no system call on the network. ``tests/test_privacy.py`` runs ``emocam process`` under
``strace`` and fails on any name lookup or outside connection, so a MediaPipe release that
changes this is caught.

onnxruntime 1.32's native library holds the same kind of reporter (1DS telemetry to
``mobile.events.data.microsoft.com``, seen with strace when ``fer-train`` ran a session
without this), and the same setting stops it; ``classify`` and ``fer-train`` call this too.

onnxruntime 1.32 also keeps what it would report: a persistent device identifier and a queue
of events (``~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid`` and ``onnxruntime.db``,
a ProcessInfo event per start and one per session), which any later program using onnxruntime
without this proxy would send. ``ORT_DISABLE_TELEMETRY=1``, read when onnxruntime loads, stops
it keeping them; ``emocam/__init__`` sets it (``keep_onnxruntime_quiet``) so that it is in
place before any of emocam's modules loads onnxruntime. Where the host program loaded
onnxruntime first, ``disable_telemetry_events`` stops the events of emocam's sessions.

emocam itself never uses the network, so a proxy that refuses every https request costs
nothing. A program that loads emocam's MediaPipe detector as a library gets the same
setting for its whole process (``https_proxy`` cannot be set for one library alone); it
can set its own proxy again afterwards, and MediaPipe's reports then leave with it.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

# A scheme libcurl does not know: it gives up ("Unsupported proxy scheme") before any DNS
# lookup or connection. The name says why, for anyone who finds it in the environment.
UNUSABLE_PROXY = "emocam-sends-nothing://127.0.0.1"

# The report goes to an https URL, for which libcurl reads https_proxy, then HTTPS_PROXY;
# both are set so that a user's own value of either cannot win. Plain-http and all_proxy
# variables are left alone: a program that imports emocam keeps its other traffic's proxy.
_PROXY_VARS = ("https_proxy", "HTTPS_PROXY")
_EXEMPTION_VARS = ("no_proxy", "NO_PROXY")


def keep_onnxruntime_quiet() -> None:
    """Stop onnxruntime from keeping a device identifier and queued usage events on disk
    (read when it loads; afterwards its own switch stops the events still to come)."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    ort = sys.modules.get("onnxruntime")
    if ort is not None and hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()


def keep_native_libraries_offline() -> None:
    """Make every libcurl request of this process fail before it reaches the network.

    Idempotent; call it before a native library that may phone home is loaded (the
    variables are read at each request, so calling it later still covers later requests).
    """
    keep_onnxruntime_quiet()
    for name in _PROXY_VARS:
        if os.environ.get(name) != UNUSABLE_PROXY:
            os.environ[name] = UNUSABLE_PROXY
    for name in _EXEMPTION_VARS:
        os.environ.pop(name, None)
    log.debug("native libraries' HTTP requests go to the unusable proxy %s", UNUSABLE_PROXY)
