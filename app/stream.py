"""The live feed: each frame's results sent to other programs as the run goes
(``--stream osc://HOST:PORT`` or ``--stream ws://HOST:PORT``).

This is the one way data leaves emocam, and only when asked for. It is a sink beside the
CSV and JSON (wired in ``emocam.run_sinks``), and it must never slow the run: the run's
thread only turns a frame's results into plain data and puts it in a bounded queue; a
sender thread does the network work. When a receiver is slower than the video, the oldest
waiting frames are dropped (a live feed is worth its newest frame) and counted, and the
count goes into the JSON summary and the command's last line.

The message formats are documented in ``docs/STREAMING.md``; the transports are
``emocam.stream_osc`` and ``emocam.stream_ws``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from emocam.errors import UserError
from emocam.types import FrameResult

SCHEMES = ("osc", "ws")
DEFAULT_PORTS = {"osc": 9000, "ws": 8765}
LOOPBACK = "127.0.0.1"
# Frames that may wait for a receiver: about half a second of 30 fps video. More would only
# deliver older news to a receiver that is behind anyway.
QUEUE_FRAMES = 16


class StreamError(UserError):
    """A --stream address that is malformed, or a port that cannot be used."""


@dataclass(frozen=True)
class StreamTarget:
    """Where the feed goes: ``scheme`` is "osc" (UDP messages sent to HOST:PORT) or "ws"
    (a WebSocket server listening on HOST:PORT)."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        """``host:port`` as a URL writes it (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def parse_stream_url(text: str) -> StreamTarget:
    """``osc://127.0.0.1:9000``, ``ws://:8765`` (the loopback address), ``ws://0.0.0.0:8765``
    (every interface, on purpose). Without a host the feed stays on this machine."""
    parts = urlsplit(text.strip())
    if parts.scheme not in SCHEMES or not text.strip().lower().startswith(f"{parts.scheme}://"):
        raise StreamError(f"The stream address {text!r} is neither osc://HOST:PORT nor "
                          "ws://HOST:PORT; write e.g. osc://127.0.0.1:9000.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise StreamError(f"The stream address {text!r} has more than a host and a port; "
                          f"write e.g. {parts.scheme}://127.0.0.1:"
                          f"{DEFAULT_PORTS[parts.scheme]}.")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = DEFAULT_PORTS[parts.scheme]
    # OSC to port 0 sends to nothing; a WebSocket server on port 0 takes a free port, which
    # its first line names.
    if not (1 if parts.scheme == "osc" else 0) <= port <= 65535:
        raise StreamError(f"The port in the stream address {text!r} is not a number from 1 "
                          "to 65535.")
    return StreamTarget(parts.scheme, parts.hostname or LOOPBACK, port)


# --- what is sent ------------------------------------------------------------------------


def frame_message(result: FrameResult, file: str = "") -> dict[str, Any]:
    """One frame's results as plain data: the CSV row's fields for each face, plus the
    frame's time in the video and the wall-clock time it was processed. Probabilities are
    rounded as the CSV rounds them, so a receiver reads the same numbers as the CSV."""
    fr = result.frame
    faces = []
    for face in result.faces:
        x, y, w, h = face.box
        faces.append({
            "face_id": face.face_id,
            "x": round(float(x), 1), "y": round(float(y), 1),
            "w": round(float(w), 1), "h": round(float(h), 1),
            "probs": {n: round(float(p), 4)
                      for n, p in zip(result.class_names, face.probs.tolist(), strict=True)},
            "top_label": result.class_names[face.top_index],
            "confidence": round(face.confidence, 4),
            "uncertain": face.uncertain,
        })
    msg: dict[str, Any] = {
        "frame": fr.index, "time_ms": round(fr.time_ms, 1), "shot": result.shot,
        "wall_time": round(time.time(), 3), "class_names": list(result.class_names),
        "faces": faces,
    }
    if file:
        msg["file"] = file
    return msg


# --- the bounded queue -------------------------------------------------------------------


class DropOldestQueue:
    """A queue the producer never waits on: when full, the oldest item makes room and is
    counted in ``dropped``. ``get`` waits for an item, or returns None once closed and empty."""

    def __init__(self, maxlen: int = QUEUE_FRAMES):
        self._items: deque[Any] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def close(self) -> None:
        """No more items; ``get`` still hands out what is waiting."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def discard(self) -> int:
        """Drop what still waits (counted as dropped); how many there were."""
        with self._cond:
            n = len(self._items)
            self._items.clear()
            self.dropped += n
            self._cond.notify_all()
            return n


# --- the sink ----------------------------------------------------------------------------


@dataclass
class StreamStats:
    """What the JSON summary and the command say about a feed."""

    url: str
    frames: int = 0  # frames offered to the feed
    sent: int = 0  # messages (OSC: frame bundles; WebSocket: frames times clients) sent
    dropped: int = 0  # frames a receiver never got because it was behind
    clients: int | None = None  # WebSocket: receivers that connected during the run
    # WebSocket: frames offered while no receiver was connected (one receiver all along:
    # frames = sent + dropped + unheard).
    unheard: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"url": self.url, "frames": self.frames, "sent": self.sent,
               "dropped": self.dropped}
        if self.clients is not None:
            out["clients"] = self.clients
        if self.unheard is not None:
            out["unheard"] = self.unheard
        return out


class StreamSink(Protocol):
    """A live feed: ``send`` never blocks for long; ``close`` ends the feed."""

    target: StreamTarget

    def describe(self) -> str:
        """One sentence for the user: where the feed goes (and the page, for ws)."""
        ...

    def send(self, result: FrameResult, file: str = "") -> None: ...

    def stats(self) -> StreamStats:
        """The counts so far (the app's status bar shows the dropped ones)."""
        ...

    def close(self) -> StreamStats: ...


def open_stream(target: StreamTarget) -> StreamSink:
    """Start the feed to ``target``; a port that cannot be used is a ``StreamError``."""
    if target.scheme == "osc":
        from emocam.stream_osc import OscStream

        return OscStream(target)
    from emocam.stream_ws import WebSocketStream

    return WebSocketStream(target)


def open_streams(targets: Sequence[StreamTarget]) -> list[StreamSink]:
    """Every feed asked for, or none: one that fails closes the ones already started."""
    opened: list[StreamSink] = []
    try:
        for t in targets:
            opened.append(open_stream(t))
    except BaseException:
        for s in opened:
            s.close()
        raise
    return opened
