"""Moving about in what plays: pause, seek, step a frame, jump seconds (a folder's photos)
and go to the end, as the playback bar and the Playback menu ask.

It keeps where a video is headed: whether it has ended, where a seek is on its way to, and
which of a folder's photos have been shown (Left goes back to those).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow


class Navigation:
    def __init__(self, window: MainWindow) -> None:
        """``window``: its source (worker, info, last frame shown) and the panels a seek
        empties."""
        self._window = window
        self.ended = False
        self._shown_frames: set[int] = set()  # a folder's photos shown: where Left goes back to
        # Where the last seek goes until a frame from there is shown: a jump pressed again
        # before then goes on from there (three quick Shift+Right were one jump of 5 s).
        self._seek_target: int | None = None
        self._sought_at = 0.0  # when the last seek was asked (time.monotonic)

    def reset(self) -> None:
        """A new source: nothing shown yet, nothing on its way."""
        self.ended = False
        self._shown_frames = set()
        self._seek_target = None

    def shown(self, index: int) -> None:
        """Frame ``index`` is on screen."""
        self._shown_frames.add(index)
        # The frame a seek went to, or one soon after it (a folder's unreadable photo is
        # passed over; playing goes on). Frames from before the seek, still on their way,
        # are elsewhere: more than a second before or after it.
        target = self._seek_target
        fps = self._window.playback.fps
        if target is not None and 0 <= index - target <= max(2, round(fps)):
            self._seek_target = None

    def reached_end(self) -> None:
        """The video (or folder) has ended: paused, on the frame shown."""
        w = self._window
        self.ended = True
        w.playback.set_paused(True)
        w.set_checked("playback.pause", True)
        w.status.set("fps", "")
        if w.last_packet is not None:
            # A seek past a damaged end found nothing there: the bar goes back to the frame
            # still shown (it stayed where it was dragged, the clock saying otherwise).
            frame = w.last_packet.result.frame
            w.playback.set_position(frame.index, frame.time_ms, Path(frame.source).name)

    def set_paused(self, paused: bool) -> None:
        w = self._window
        w.playback.set_paused(paused)
        w.set_checked("playback.pause", paused)
        if paused:
            w.status.set("fps", "")  # the last rate is not this paused video's
        if w.worker is None:
            return
        if not paused and self.ended:
            self.seek(0)  # play after the end starts again
        w.worker.set_paused(paused)

    def go_to_end(self) -> None:
        """The last frame (a folder's last photo), paused: End, as in video players."""
        info = self._window.source_info
        if self._window.worker is None or info is None or info.is_live or not info.frame_count:
            return
        self.seek(info.frame_count - 1)
        self.set_paused(True)  # a seek from the end plays on; End stays there

    def seek(self, index: int) -> None:
        w = self._window
        if w.worker is not None and w.source_info and not w.source_info.is_live:
            if self.ended:
                # At the end the worker waits, showing "paused"; a seek (Home, the slider)
                # plays on from the new place, and the button and menu must say so.
                w.playback.set_paused(False)
                w.set_checked("playback.pause", False)
                w.worker.set_paused(False)
            self.ended = False
            # Ids count from 1 again after a seek (gui.workers): the face chosen before and
            # its line in the timeline may be someone else's from here on.
            w.faces.clear_selection()
            w.timeline.forget_faces()
            self._seek_target, self._sought_at = max(0, index), time.monotonic()
            w.worker.seek(index)

    def jump(self, seconds: float, photos: int) -> None:
        """Seconds on (positive) or back in a video, or photos in a folder, from the frame
        shown (or the one a seek is on its way to). Playing or paused stays as it was; past
        the end is the last frame, as End."""
        w = self._window
        info = w.source_info
        if w.worker is None or info is None or info.is_live or w.last_packet is None:
            return
        shown = w.last_packet.result.frame.index
        # Quick presses add up from the place a seek is on its way to; one that never
        # arrived (a run of unreadable photos passed over) is not counted from a second on.
        on_its_way = (self._seek_target is not None
                      and time.monotonic() - self._sought_at < 1.0)
        here = self._seek_target if on_its_way and self._seek_target is not None else shown
        count = info.frame_count or 0
        offset = photos if w.playback.is_photos() else round(seconds * w.playback.fps)
        target = max(0, here + offset)
        if count and target >= count - 1:
            if shown < count - 1:  # at the end already: nothing to seek (ids would restart)
                self.go_to_end()
        elif target != here:
            self.seek(target)

    def step(self, frames: int) -> None:
        """One frame on (``frames`` 1) or back (-1), paused; a folder's next or previous
        photo. On keeps a video's faces' ids (a photo's faces are new); back is a seek, where
        ids start again."""
        w = self._window
        if w.worker is None or w.source_info is None or w.source_info.is_live:
            return
        if w.last_packet is None:
            return
        if not w.playback.button.isChecked():
            self.set_paused(True)
        index = w.last_packet.result.frame.index
        if frames > 0 and not self.ended:
            w.worker.step()
        elif frames < 0 and index > 0:
            # Back to the last frame shown before this one: a folder's unreadable photo is
            # never shown, and a seek to it went on to the next readable one, the photo
            # Left was pressed on (Left was stuck there).
            photos = w.playback.is_photos()
            before = [i for i in self._shown_frames if i < index] if photos else []
            self.seek(max(before) if before else index - 1)
            self.set_paused(True)  # a seek from the end plays on; a step does not
