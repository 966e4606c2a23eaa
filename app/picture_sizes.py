"""Where a video's picture changes size mid-stream, and each frame shown at its own shape.

A conference or WebRTC recording changes its picture size as the sender's bandwidth moves, and
clips joined end to end do too. OpenCV scales every frame to the first one's size: after the
change faces were squeezed (a 480x360 clip turned 960x360 showed its faces at half their
width, and a smile read as surprise), with no word. The change is found by decoding the
keyframes alone (a new size starts at one), in a thread that runs ahead of the frames read;
a frame after a change is then shown at its own shape inside the first size, bars above and
below or at the sides, as a player shows it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Codecs whose pictures depend on each other: only their keyframes need decoding, and only
# in their streams can the size change mid-way. Intra-only ones (MJPEG, ProRes) would be
# decoded whole a second time for nothing: their containers (AVI, MOV) fix the size.
_INTER_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg1video", "mpeg2video",
                           "mpeg4", "h263", "theora", "vc1", "wmv3"})


@dataclass(frozen=True)
class SizeChange:
    frame: int  # the first frame at the new size
    size: tuple[int, int]  # width, height


class PictureSizes:
    """The stored size of each frame of ``path`` (frame numbers as OpenCV counts them),
    found in a background thread; ``fit`` waits for it only as far as the frame asked for."""

    def __init__(self, path: Path, first_size: tuple[int, int]) -> None:
        self.path = path
        self.first_size = first_size
        self.changes: list[SizeChange] = []
        self._scanned = 0  # frames whose size is known
        self._done = False
        self._told = 0  # changes said so far
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._scan, name="emocam-picture-sizes",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def size_at(self, index: int) -> tuple[int, int]:
        """The stored size of frame ``index``; waits until the scan has passed it."""
        with self._cond:
            while not self._done and self._scanned <= index:
                self._cond.wait(1.0)
            size = self.first_size
            for change in self.changes:
                if change.frame > index:
                    break
                size = change.size
            return size

    def fit(self, image: np.ndarray, index: int) -> np.ndarray:
        """``image`` (frame ``index`` as OpenCV decoded it, at the first size) at the shape
        its picture was stored in, letterboxed inside the first size."""
        if not self.changes and self._done:
            return image
        w, h = self.size_at(index)
        fw, fh = self.first_size
        if (w, h) == (fw, fh) or image.shape[1] != fw or image.shape[0] != fh:
            return image
        self._say_changes(index)
        scale = min(fw / w, fh / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        shown = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        out = np.zeros_like(image)
        x, y = (fw - nw) // 2, (fh - nh) // 2
        out[y:y + nh, x:x + nw] = shown
        return out

    def _say_changes(self, index: int) -> None:
        with self._cond:
            new = [c for c in self.changes[self._told:] if c.frame <= index]
            self._told += len(new)
        for change in new:
            log.warning(
                "%s changes its picture size at frame %d (%dx%d, the first frames %dx%d); "
                "the frames from there are shown at their own shape inside the first size, "
                "as a player shows them, and their face boxes are in that frame.",
                self.path, change.frame, *change.size, *self.first_size)

    def _scan(self) -> None:
        try:
            self._scan_keyframes()
        except Exception as e:  # a damaged file: OpenCV's reading says what is wrong
            log.debug("the picture sizes of %s could not be scanned: %s", self.path, e)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _scan_keyframes(self) -> None:
        import av

        with av.open(str(self.path)) as container:
            stream = container.streams.best("video")
            if stream is None or stream.codec_context.name not in _INTER_CODECS:
                return
            ctx = stream.codec_context
            ctx.skip_frame = "NONKEY"
            # Keyframes sent to the decoder whose picture has not come out yet, as (pts,
            # frame number): up to the first of them, every frame's size is known.
            pending: deque[tuple[int | None, int]] = deque()
            size: tuple[int, int] | None = None
            packets = keys = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.is_keyframe:
                    keys += 1
                    if packets >= 60 and keys > packets // 2:
                        # All-intra (some cameras' "All-I"): the scan would decode the whole
                        # video a second time, and hold the reading back.
                        log.debug("%s is intra-coded; its picture sizes are not scanned.",
                                  self.path)
                        return
                    pending.append((packet.pts, packets))
                    for frame in ctx.decode(packet):
                        size = self._see(frame, pending, size)
                packets += 1
                self._known(pending[0][1] if pending else packets)
                if self._stop:
                    return
            for frame in ctx.decode(None):
                size = self._see(frame, pending, size)

    def _known(self, frames: int) -> None:
        with self._cond:
            self._scanned = max(self._scanned, frames)
            self._cond.notify_all()

    def _see(self, frame: object, pending: deque[tuple[int | None, int]],
             size: tuple[int, int] | None) -> tuple[int, int]:
        """Take a keyframe's picture out of ``pending``; the size from it on."""
        pts = getattr(frame, "pts", None)
        at = pending[0][1] if pending else 0
        while pending:  # in order: those before it came out without a picture
            key_pts, at = pending.popleft()
            if pts is None or key_pts == pts:
                break
        new = (int(frame.width), int(frame.height))  # type: ignore[attr-defined]
        if size is None:
            if new != self.first_size:
                # Turned (a phone's rotation tag) or otherwise not as OpenCV shows it: the
                # sizes cannot be matched to its frames, so none is changed.
                raise RuntimeError(f"its first picture is {new}, OpenCV's {self.first_size}")
            return new
        if new != size:
            with self._cond:
                self.changes.append(SizeChange(at, new))
        return new
