"""The window's background threads, kept until each has finished: nothing may outlive the
window, and a finished thread is let go (``deleteLater``) on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread

from emocam.gui.workers import FunctionWorker, SourceWorker

log = logging.getLogger(__name__)


class BackgroundThreads(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: list[QThread] = []

    def track(self, thread: QThread) -> None:
        """Keep ``thread`` until it finishes (start it after this)."""
        self._threads.append(thread)
        # A QObject's slot: QThread.finished comes from the thread itself, and the list is
        # the GUI thread's.
        thread.finished.connect(self._reap)

    def run(self, fn: Callable[[], Any], done: Callable[[Any], None] | None,
            errored: Callable[[Exception], None] | None) -> FunctionWorker:
        """Call ``fn`` off the GUI thread; ``done`` gets its result, ``errored`` its
        exception (both on the GUI thread)."""
        job = FunctionWorker(fn)
        if done is not None:
            job.done.connect(done)
        if errored is not None:
            job.errored.connect(errored)
        self.track(job)
        job.start()
        return job

    def all_finished(self) -> bool:
        return all(t.isFinished() for t in self._threads)

    def stop_all(self, timeout_ms: int) -> None:
        """Ask every thread to stop and wait for each (at most ``timeout_ms``)."""
        for thread in list(self._threads):
            if isinstance(thread, SourceWorker):
                thread.stop()
            thread.quit()
            if not thread.wait(timeout_ms):
                log.warning("a background thread did not stop in time")
        self._reap()

    def _reap(self) -> None:
        for t in [t for t in self._threads if t.isFinished()]:
            self._threads.remove(t)
            t.deleteLater()
