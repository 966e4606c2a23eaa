"""Reading a video ahead of the run loop, on a thread of its own.

OpenCV releases the GIL while decoding, so on two cores decoding overlaps with detection. A
source that gives no frame for ``READ_STALL_TIMEOUT_S`` (a hung network drive) ends the run
with an error instead of a hang; the results so far are kept.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from emocam.errors import SourceError
from emocam.types import Frame

READ_STALL_TIMEOUT_S = 60.0


def read_ahead(frames: Iterator[Frame], name: str = "The input", depth: int = 3
              ) -> Iterator[Frame]:
    """Decode ahead on a thread: OpenCV releases the GIL while decoding, so on two cores
    decoding overlaps with detection. The source must hand out a new array per frame."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    done = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not done.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for f in frames:
                if not put(("frame", f)):
                    return
            put(("end", None))
        except BaseException as e:  # handed to the consumer, which raises it
            put(("error", e))

    thread = threading.Thread(target=reader, name="video-reader", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, item = q.get(timeout=READ_STALL_TIMEOUT_S)
            except queue.Empty:
                raise SourceError(
                    f"{name} gave no frame for {READ_STALL_TIMEOUT_S:g} s; check that the "
                    "drive it is on is still connected."
                ) from None
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        done.set()
        thread.join(timeout=2.0)  # a reader stuck in a hung read is a daemon; let it be
