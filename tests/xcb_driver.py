"""Drives the real app on whatever platform Qt is given (the tests give it xcb on Xvfb): start
it, play a video, switch to the 7-class model, export, quit. Prints one JSON line with what
happened; any Python exception raised inside Qt (a paint event, a slot) is counted.

Run by tests/test_xcb_app.py in a process of its own: one process can hold one Qt platform,
and the other GUI tests use offscreen.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from emocam.gui.main_window import MainWindow

errors: list[str] = []


def _hook(kind, value, tb) -> None:
    errors.append("".join(traceback.format_exception(kind, value, tb))[-2000:])


def wait_until(app: QApplication, condition: Callable[[], bool], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return True


def main(video: str, outdir: str) -> int:
    sys.excepthook = _hook
    app = QApplication([sys.argv[0]])
    app.setApplicationName("emocam")
    app.setOrganizationName("emocam")
    window = MainWindow()
    window.show()
    report: dict[str, object] = {"platform": app.platformName()}
    wait_until(app, lambda: False, 1.0)  # the window manager decorates and places it
    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    report["screen"] = [screen.x(), screen.y(), screen.width(), screen.height()]
    report["frame"] = [frame.x(), frame.y(), frame.width(), frame.height()]
    window.open_file(video)
    report["played"] = wait_until(app, lambda: window.view.frames_shown >= 10, 60)
    window.seek(0)
    window.models.set("fer2013")
    report["switched"] = wait_until(
        app, lambda: len(window.pipeline_info.get("class_names", ())) == 7, 60)
    shown = window.view.frames_shown
    report["played_after_switch"] = wait_until(
        app, lambda: window.view.frames_shown >= shown + 10, 60)
    report["timeline_classes"] = int(window.timeline.series()[1].shape[1])
    outcome: list[object] = []
    window.exports.finished.connect(outcome.append)
    window.exports.start(Path(outdir) / "export.mp4")
    wait_until(app, lambda: bool(outcome), 240)
    done = outcome[0] if outcome else None
    report["export_completed"] = bool(getattr(done, "completed", False))
    report["export_frames"] = int(getattr(done, "frames", -1))
    report["banner"] = window.banner.text()
    window.close()
    wait_until(app, lambda: not window.isVisible(), 10)
    # A second start, from the geometry the first one saved.
    again = MainWindow()
    again.show()
    wait_until(app, lambda: False, 1.5)
    frame = again.frameGeometry()
    report["frame_again"] = [frame.x(), frame.y(), frame.width(), frame.height()]
    again.close()
    wait_until(app, lambda: not again.isVisible(), 10)
    report["errors"] = errors
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
