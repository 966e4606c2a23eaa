"""A webcam as a source: read by a background thread that keeps only the newest frame, so a
slow consumer gets the latest picture, never a queue of stale ones.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator

import cv2

from emocam.errors import SourceError
from emocam.newest import NewestFrame
from emocam.source_base import Source
from emocam.types import Frame
from emocam.video_source import sane_fps

# Every source logs under one name: the app shows what reading its file warns of from it
# (emocam.gui.input_notes).
log = logging.getLogger("emocam.sources")


STALL_TIMEOUT_S = 5.0


class CameraSource(Source):
    """A live camera read on a background thread that keeps only the newest frame.

    Iterating waits for a frame newer than the last one handed out. If the camera delivers
    nothing for ``stall_timeout_s`` (unplugged, taken by another app), iteration raises
    ``SourceError``. Timestamps are the capture times on a monotonic clock.
    """

    is_live = True
    frame_count = None

    def __init__(
        self,
        cap: cv2.VideoCapture,
        name: str,
        *,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        pace_fps: float | None = None,
    ):
        self._cap = cap
        self.name = name
        self.stall_timeout_s = stall_timeout_s
        self.fps = sane_fps(cap.get(cv2.CAP_PROP_FPS), name)
        self.size = (
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._pace = 1.0 / pace_fps if pace_fps else 0.0  # for file stand-ins in tests
        self._captured = 0
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        # The driver is read on its own thread; only the newest frame is kept.
        self._reader: NewestFrame[Frame] = NewestFrame(
            self._read(), clock=time.monotonic, name="emocam-camera"
        )

    @classmethod
    def open(
        cls,
        index: int,
        *,
        size: tuple[int, int] | None = None,
        stall_timeout_s: float = STALL_TIMEOUT_S,
    ) -> CameraSource:
        name = f"Camera {index}"
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{name} cannot be opened; {_what_to_check()}.")
        # One buffered frame: a driver queue would hand out old pictures.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if size is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        return cls(cap, name, stall_timeout_s=stall_timeout_s)

    def _read(self) -> Iterator[Frame]:
        while not self._stop.is_set():
            started = time.monotonic()
            ok, image = self._cap.read()
            now = time.monotonic()
            if ok and image is not None:
                if self.size == (0, 0):
                    self.size = (image.shape[1], image.shape[0])
                frame = Frame(image, self._captured, (now - self._t0) * 1000.0, self.name)
                self._captured += 1
                yield frame
            else:
                self._stop.wait(0.01)  # a hiccup or a dead camera; the reader times out
            rest = self._pace - (time.monotonic() - started)
            if rest > 0:
                self._stop.wait(rest)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = None
            while item is None:
                if self._stop.is_set():
                    return
                waited = time.monotonic() - self._reader.last_at
                if waited >= self.stall_timeout_s:
                    raise SourceError(
                        f"{self.name} stopped delivering frames for "
                        f"{self.stall_timeout_s:g} s; check its connection and that no "
                        "other app uses it, then try again."
                    )
                item = self._reader.wait(min(0.1, self.stall_timeout_s - waited))
                if item is None and self._reader.done and not self._stop.is_set():
                    # The driver raised: no frame will come, so no need to wait out the stall.
                    raise SourceError(
                        f"{self.name} stopped delivering frames ({self._reader.error}); check "
                        "its connection and that no other app uses it, then try again."
                    )
            yield item[0]

    @property
    def captured(self) -> int:
        """Frames read from the camera so far (handed out or replaced by newer ones)."""
        return self._captured

    def close(self) -> None:
        self._stop.set()
        if not self._reader.stop(2.0):
            # Releasing under a blocked read can crash some drivers; the thread is a daemon.
            log.warning("%s did not stop in time; leaving it to the operating system.", self.name)
            return
        self._cap.release()


def _what_to_check(platform: str | None = None) -> str:
    """What to look at when a camera does not open. On macOS the usual first cause is a
    permission not (yet) given, which OpenCV says only on the terminal's stderr."""
    checks = "check that it is connected and not in use by another app"
    if (platform or sys.platform) == "darwin":
        checks += (", and that the app emocam runs from (your terminal, for one) may use the "
                   "camera: System Settings > Privacy & Security > Camera; then Retry")
    return checks
