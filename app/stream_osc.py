"""The live feed as OSC over UDP (python-osc), for TouchDesigner, Max/MSP, Pure Data,
Processing and experiment software.

Each frame is one OSC bundle (so a receiver never sees half a frame), holding, in order:

- ``/emocam/frame``  frame index (i), time in the video in ms (f), shot (i), faces (i)
- ``/emocam/classes``  the class names (s...), the order of every ``probs`` message
- per face, ``/emocam/face/<id>/probs`` (f per class), ``/label`` (s top label,
  f confidence), ``/box`` (f x, y, w, h in frame pixels), ``/uncertain`` (s: why the label
  should not be trusted, or "")

UDP does not wait for a receiver, but the sender thread still sits behind the bounded queue
of ``emocam.stream``: a busy machine must not make the run wait on the network stack.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from emocam.stream import DropOldestQueue, StreamError, StreamStats, StreamTarget, frame_message
from emocam.types import FrameResult

log = logging.getLogger(__name__)

PREFIX = "/emocam"


def _message(address: str, *args: Any) -> Any:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build()


def frame_bundle(msg: dict[str, Any]) -> bytes:
    """One frame's message (``emocam.stream.frame_message``) as an OSC bundle datagram."""
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(_message(f"{PREFIX}/frame", int(msg["frame"]), float(msg["time_ms"]),
                                int(msg["shot"]), len(msg["faces"])))
    bundle.add_content(_message(f"{PREFIX}/classes", *msg["class_names"]))
    for face in msg["faces"]:
        at = f"{PREFIX}/face/{face['face_id']}"
        bundle.add_content(_message(f"{at}/probs", *map(float, face["probs"].values())))
        bundle.add_content(_message(f"{at}/label", face["top_label"],
                                    float(face["confidence"])))
        bundle.add_content(_message(f"{at}/box", *(float(face[k]) for k in "xywh")))
        bundle.add_content(_message(f"{at}/uncertain", face["uncertain"]))
    return bundle.build().dgram


class OscStream:
    """Sends each frame's bundle to ``target`` from a thread of its own."""

    def __init__(self, target: StreamTarget):
        self.target = target
        try:
            family, _, _, _, addr = socket.getaddrinfo(
                target.host, target.port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as e:
            raise StreamError(f"The stream host {target.host!r} is not an address this "
                              f"machine can find ({e}); give an IP address such as "
                              "127.0.0.1.") from e
        self._addr = addr
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._queue = DropOldestQueue()
        self._stats = StreamStats(target.url)
        self._failed = 0  # datagrams the network stack refused
        self._thread = threading.Thread(target=self._run, name="stream-osc", daemon=True)
        self._thread.start()

    def describe(self) -> str:
        return f"Sending the live feed as OSC to {self.target.host}:{self.target.port} (UDP)."

    def send(self, result: FrameResult, file: str = "") -> None:
        self._stats.frames += 1
        self._queue.put(frame_message(result, file))

    def _run(self) -> None:
        while (msg := self._queue.get()) is not None:
            try:
                self._sock.sendto(frame_bundle(msg), self._addr)
                self._stats.sent += 1
            except OSError as e:  # no route, a full buffer, a bundle over UDP's size
                if self._failed == 0:
                    log.warning("the OSC feed to %s could not send a frame (%s); it goes on",
                                self.target.url, e.strerror or e)
                self._failed += 1

    def stats(self) -> StreamStats:
        self._stats.dropped = self._queue.dropped + self._failed
        return self._stats

    def close(self) -> StreamStats:
        """Send what waits (UDP does not wait for the receiver), then stop."""
        if self._thread.is_alive():
            self._queue.close()
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                self._queue.discard()
                self._thread.join(timeout=1.0)
            self._sock.close()
        return self.stats()
