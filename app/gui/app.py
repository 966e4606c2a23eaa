"""Starting the desktop app: the platform checks, Qt's messages into logging, the first
source, and Ctrl-C or SIGTERM closing the window as its close button does.

The window itself (emocam.gui.main_window) knows nothing of how the app was started.
"""

from __future__ import annotations

import argparse
import logging
import sys

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from emocam.errors import EXIT_INTERRUPTED
from emocam.gui.main_window import MainWindow
from emocam.gui.platform_libs import check_xcb, drop_opencv_plugin_path
from emocam.gui.stop_signals import StopOnSignal
from emocam.resources import resolve_model

log = logging.getLogger(__name__)
_qt_log = logging.getLogger("emocam.qt")


def start_initial_source(window: MainWindow, args: argparse.Namespace) -> None:
    if args.video:
        window.open_file(args.video)
    elif args.image:
        window.open_file(args.image)
    elif args.camera is not None:
        window.start_camera(args.camera)
    else:
        # A webcam when there is one, else the bundled sample video.
        window.start_camera(fallback_to_sample=True)


def close_on_signals(window: MainWindow) -> StopOnSignal:
    """Ctrl-C and SIGTERM close the window, and the app, as its close button does."""

    def close_all() -> None:
        window.close()
        # A window of its own left open (not a dialog of the main window's, which closes
        # with it) would keep the app running. QApplication.quit() is not used: it posts an
        # event that would also end the next event loop to start.
        for widget in QApplication.topLevelWidgets():
            if widget.isVisible():
                widget.close()

    return StopOnSignal(close_all, window)


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    # Qt writes to descriptor 2, which `emocam` points at /dev/null to hide the native
    # libraries' noise; its messages go through logging instead. Most are for developers
    # (shown with -v). Always shown: critical and fatal ones, and the platform layer's
    # (qt.qpa.*), which say why the window cannot open (no display, a missing libxcb-cursor0).
    if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
        level = logging.ERROR
    elif (context.category or "").startswith("qt.qpa"):
        level = logging.WARNING
    else:
        level = logging.INFO
    _qt_log.log(level, "Qt: %s", message)


def run(args: argparse.Namespace) -> int:
    """Open the desktop app; returns the exit code. ``args``: the command line as
    ``emocam.cli.build_parser`` reads it (one parser for the app and ``emocam process``)."""
    drop_opencv_plugin_path()
    missing = check_xcb()
    if missing is not None:
        log.error("%s", missing.message())
        if not args.verbose:
            return 2
        # -v: let Qt fail too, so its own (often misleading) text can be compared.
        log.info("ldd %s reported them as not found", missing.plugin)
    previous = qInstallMessageHandler(_qt_message)
    try:
        return _run_app(args)
    finally:
        qInstallMessageHandler(previous)


def _run_app(args: argparse.Namespace) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("emocam")
    app.setOrganizationName("emocam")
    window = MainWindow()
    if args.gui_model:
        window.models.override = str(resolve_model(args.gui_model).resolve())
    window.show()
    stopper = close_on_signals(window)
    try:
        start_initial_source(window, args)
        code = int(app.exec())
    finally:
        stopper.close()
    return EXIT_INTERRUPTED if stopper.received is not None else code
