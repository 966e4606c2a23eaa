"""The per-frame CSV: one row per face per frame, flushed as written.

A run stopped half-way leaves a valid CSV (a kill that lands inside a write may cut the last
row short: Linux can stop a write at a page boundary); a write that fails (disk full) is one
``OutputError`` naming the file, and the CSV is cut back to its last complete row.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from emocam import columns
from emocam.errors import OutputError
from emocam.staging import commit, no_space_hint, write_target
from emocam.types import FrameResult

log = logging.getLogger(__name__)


def csv_header(class_names: Sequence[str], with_file: bool = False) -> list[str]:
    head = [columns.FILE] if with_file else []
    return [*head, *columns.BEFORE_CLASSES, *class_names, *columns.AFTER_CLASSES]


class CsvSink:
    """One row per face per frame, flushed as written so an interrupted run stays valid.

    Probabilities are the smoothed ones the overlay shows; ``top_label`` is their argmax and
    ``confidence`` its calibrated probability. ``uncertain`` says why the label should not be
    trusted ("small", "turned", "blurred", "low confidence") or is empty; the probabilities
    are written either way. ``shot`` counts the hard cuts before the frame (0 in the first
    shot), so rows can be grouped by shot.
    With ``with_file`` (a folder of images) a first column names the image.
    """

    def __init__(self, path: Path, class_names: Sequence[str], with_file: bool = False):
        self.path = Path(path)
        self.class_names = tuple(class_names)
        self.with_file = with_file
        self.rows = 0
        self.frames = 0
        self._staging = write_target(self.path)
        # Unbuffered bytes: every row reaches the OS at once, and the size of what was
        # written whole is known, to cut a failed write back to the last complete row.
        try:
            self._fh = open(self._staging or self.path, "wb", buffering=0)  # noqa: SIM115
        except OSError as e:
            raise OutputError(
                f"The CSV {self.path} cannot be created ({no_space_hint(e)})."
            ) from e
        self._size = 0
        self._text = io.StringIO()
        self._writer = csv.writer(self._text)
        self._writer.writerow(csv_header(self.class_names, with_file))
        self._flush()

    def _flush(self) -> None:
        data = memoryview(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()
        whole = len(data)
        try:
            while data:
                n = self._fh.write(data)
                data = data[n or 0 :]
        except OSError as e:
            self._cut_back()
            raise OutputError(
                f"The CSV {self.path} could not be written ({no_space_hint(e)}); the rows "
                "before the failure are kept."
            ) from e
        self._size += whole  # counted, not asked: a pipe has no position to tell

    def _cut_back(self) -> None:
        try:
            if stat.S_ISREG(os.fstat(self._fh.fileno()).st_mode):  # not a device or a pipe
                os.ftruncate(self._fh.fileno(), self._size)
        except OSError:
            log.warning("%s could not be cut back to its last complete row", self.path)

    def write(self, result: FrameResult, file: str = "") -> None:
        fr = result.frame
        head = [columns.file_cell(file)] if self.with_file else []
        rows = []
        for face in result.faces:
            x, y, w, h = face.box
            rows.append(
                [
                    *head, fr.index, f"{fr.time_ms:.1f}", face.face_id,
                    f"{x:.1f}", f"{y:.1f}", f"{w:.1f}", f"{h:.1f}",
                    *(f"{p:.4f}" for p in face.probs.tolist()),
                    result.class_names[face.top_index],
                    f"{face.confidence:.4f}", face.uncertain, result.shot,
                ]
            )
        self.frames += 1
        if rows:
            self._writer.writerows(rows)
            self._flush()
            self.rows += len(rows)

    def close(self, failed: bool = False) -> None:
        """Close the file; ``failed``: a replacement that got no frame is dropped so the old
        file stays intact."""
        if self._fh.closed:
            return
        self._fh.close()
        commit(self._staging, self.path, keep=not (failed and self.frames == 0))

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=exc_type is not None)
