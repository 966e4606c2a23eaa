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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import av.packet
    import av.video.stream

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


# A reader this many frames or fewer beyond the scan waits for it (reading in order, the scan
# is nearly always ahead); one further beyond (a seek across a long file) is not held up: its
# frames are shown as OpenCV gives them until the scan passes them.
_WAIT_WITHIN = 300
# While frames are being read, the scan runs at most this many frames ahead of the last one
# asked for: the reader then finds the file's bytes in the cache the scan filled, instead of
# a disk reading the file twice at two places (a hard disk's head went back and forth).
# Once no frame has been asked for this long (a pause, a source not read at all), it runs on
# to the end: a seek far ahead then finds the sizes known, and the thread ends.
_LEAD = 900
_IDLE_S = 1.0


class PictureSizes:
    """The stored size of each frame of ``path`` (frame numbers as OpenCV counts them: from
    the first keyframe), found in a background thread."""

    def __init__(self, path: Path, first_size: tuple[int, int]) -> None:
        self.path = path
        self.first_size = first_size
        self.changes: list[SizeChange] = []
        self._scanned = 0  # frames whose size is known
        self._wanted = 0  # the furthest frame asked for
        self._asked_at = time.monotonic()  # when a frame was last asked for
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

    def size_at(self, index: int) -> tuple[int, int] | None:
        """The stored size of frame ``index``; None where it is not known (beyond where the
        scan got to, or too far beyond to wait for)."""
        with self._cond:
            self._asked_at = time.monotonic()
            if index > self._wanted:
                self._wanted = index
                self._cond.notify_all()  # a scan far enough ahead waits for this
            while (not self._done and not self._stop and self._scanned <= index
                   and index - self._scanned < _WAIT_WITHIN):
                self._cond.wait(1.0)
            if index >= self._scanned:
                return None
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
        size = self.size_at(index)
        fw, fh = self.first_size
        if size is None or size == (fw, fh) or image.shape[1] != fw or image.shape[0] != fh:
            return image
        w, h = size
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
        if new and self._told == len(new):  # the first: what happens from there on
            change = new[0]
            log.warning(
                "%s changes its picture size at frame %d (%dx%d, the first frames %dx%d); "
                "the frames from there are shown at their own shape inside the first size, "
                "as a player shows them, and their face boxes are in that frame.",
                self.path, change.frame, *change.size, *self.first_size)

    def _scan(self) -> None:
        try:
            self._scan_keyframes()
            with self._cond:
                self._scanned = 1 << 62  # every frame: the file is read to its end
        except Exception as e:  # damage: the sizes are known as far as the scan got
            log.debug("the picture sizes of %s could not be scanned: %s", self.path, e)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _scan_keyframes(self) -> None:
        import av

        with av.open(str(self.path)) as container:
            stream = container.streams.best("video")
            if stream is None or stream.codec_context.codec.canonical_name not in _INTER_CODECS:
                return
            size: tuple[int, int] | None = None
            frames = keys = 0
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.is_keyframe:
                    keys += 1
                    if frames >= 60 and keys > frames // 2:
                        # All-intra (some cameras' "All-I"): the scan would decode the whole
                        # video a second time, and hold the reading back.
                        log.debug("%s is intra-coded; its picture sizes are not scanned.",
                                  self.path)
                        return
                    new = _keyframe_size(stream, packet)
                    if size is None:
                        if new != self.first_size:
                            # Turned (a phone's rotation tag) or otherwise not as OpenCV
                            # shows it: sizes and frames cannot be matched, so none changes.
                            return
                        size = new
                    elif new is not None and new != size:
                        size = new
                        with self._cond:
                            self.changes.append(SizeChange(frames, new))
                elif size is None:
                    continue  # before the first keyframe: OpenCV hands out none of these
                frames += 1
                with self._cond:
                    self._scanned = frames
                    self._cond.notify_all()
                    while (frames > self._wanted + _LEAD and not self._stop
                           and time.monotonic() - self._asked_at < _IDLE_S):
                        self._cond.wait(_IDLE_S / 4)
                if self._stop:
                    return


def _keyframe_size(stream: av.video.stream.VideoStream,
                   packet: av.packet.Packet) -> tuple[int, int] | None:
    """The picture size of one keyframe, decoded alone by a decoder of its own: the stream's
    decoder would hold the picture back until the next keyframe (B-frames), and the reader
    waited for that, to the end of a file with one keyframe."""
    import av

    ctx = av.CodecContext.create(stream.codec_context.codec.name, "r")
    if stream.codec_context.extradata:
        ctx.extradata = stream.codec_context.extradata
    for frame in [*ctx.decode(packet), *ctx.decode(None)]:
        return int(frame.width), int(frame.height)
    return None
