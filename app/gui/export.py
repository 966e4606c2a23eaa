"""Export in the background: the headless ``emocam.process`` run, with progress and Cancel.

Cancel asks the run to stop after the current frame, exactly like Ctrl-C on the command line,
so the partial video plays, the CSV is valid and the JSON summary says ``completed: false``.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QThread, Signal

from emocam.errors import UserError
from emocam.export_job import ExportOutcome
from emocam.process import NoFacesFound, ProcessOptions, ProcessResult, run_process

log = logging.getLogger(__name__)


class ExportWorker(QThread):
    progress = Signal(int, int)  # frames done, total (0 when unknown)
    finished_ok = Signal(object)  # ExportOutcome
    errored = Signal(str)

    def __init__(self, options: ProcessOptions) -> None:
        super().__init__()
        self.options = options
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _on_frame(self, done: int, total: int | None) -> bool:
        self.progress.emit(done, total or 0)
        return self._cancel.is_set()

    def run(self) -> None:
        self.options.progress = False
        self.options.on_frame = self._on_frame
        try:
            result: ProcessResult = run_process(self.options)
        except NoFacesFound as e:
            # The whole set was written (the sidecar too); the warning says no face was seen.
            self.finished_ok.emit(ExportOutcome(True, -1, e.outputs, str(e)))
        except UserError as e:
            self.errored.emit(str(e))
        except Exception as e:
            log.exception("export of %s failed", self.options.input)
            self.errored.emit(f"Exporting {self.options.input} failed: {e}")
        else:
            self.finished_ok.emit(ExportOutcome.of(result, self.options))
