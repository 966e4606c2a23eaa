"""What the running source says, shown: its name, size and length once it opens, the
pipeline it runs (detector, provider, model), and each frame in the view, the face cards,
the timeline, the playback bar, the performance panel and the status bar, with the time
from reading a frame to showing it."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emocam.gui.workers import Packet, SourceInfo

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow


def clip_ms(info: SourceInfo) -> float | None:
    """A video's length, for a timeline that spans the whole of a short clip (None: live,
    a still or a length that is not known)."""
    if info.is_live or not info.frame_count or info.frame_count < 2 or not info.fps:
        return None
    return 1000.0 * info.frame_count / info.fps


class SourceDisplay:
    def __init__(self, window: MainWindow) -> None:
        """``window``: the panels and bars that show the source."""
        self._window = window
        self._painted_after: float | None = None
        self._latency_ms = 0.0
        # Recent capture-to-screen times, for the benchmarks and the performance figures.
        self.latency_samples_ms: deque[float] = deque(maxlen=2000)
        self._shown_size: tuple[int, int] | None = None  # the last frame's, for the status bar

    def opened(self, info: SourceInfo) -> None:
        w = self._window
        width, height = info.size
        w.view.set_pixel_aspect(info.pixel_aspect)
        w.status.set("source", info.name, str(info.spec))
        w.status.set("resolution", f"{width}x{height}")
        folder = not isinstance(info.spec, int) and Path(info.spec).is_dir()
        w.playback.set_range(info.frame_count, info.fps,
                             photos=info.count if folder else None)
        w.faces.set_still(info.frame_count == 1)
        # A photo has no time: its chart would be an empty "last 30 s", its cards get the room.
        w.timeline.setVisible(info.frame_count != 1)
        w.timeline.set_span(clip_ms(info), photos=info.frame_count if folder else None)
        w.setWindowTitle(f"emocam - {info.name}")

    def pipeline(self, info: dict[str, Any]) -> None:
        w = self._window
        # A new pipeline numbers faces from 1 again (a changed detector, model, smoothing...):
        # the face chosen before and its line in the timeline may be someone else's now.
        w.faces.clear_selection()
        w.timeline.clear()
        w.models.info = info.get("model_info")
        w.perf.set_info(info)
        w.options.show_non_defaults()
        w.status.set("detector", f"detector: {info.get('detector', '?')}")
        # Haar finds boxes alone: Landmarks on showed nothing, and nothing said why.
        landmarks = w.qactions["view.landmarks"]
        has_points = info.get("detector") != "opencv"
        landmarks.setEnabled(has_points)
        landmarks.setText("&Landmarks" if has_points else "&Landmarks (MediaPipe detector only)")
        provider = str(info.get("provider", "?")).removesuffix("ExecutionProvider")
        w.status.set("provider", f"on {provider}", str(info.get("model_path", "")))
        reason = info.get("provider_fallback_reason")
        if reason:
            w.banner.show_message(f"Note: {reason}.", "warning")

    def frame(self, packet: Packet) -> None:
        w = self._window
        result = packet.result
        w.view.set_frame(packet.image, result, packet.overlay)
        self._painted_after = packet.captured_at
        w.faces.update_result(result)
        w.timeline.add(result)
        w.playback.set_position(result.frame.index, result.frame.time_ms,
                                Path(result.frame.source).name)
        # A still has no frame rate: "0.0 fps" read as a fault; nor has a paused video.
        running = packet.processing_fps > 0 and not w.playback.button.isChecked()
        w.status.set("fps", f"{packet.processing_fps:.1f} fps" if running else "")
        size = (packet.image.shape[1], packet.image.shape[0])
        if size != self._shown_size:  # each photo of a folder has its own
            self._shown_size = size
            w.status.set("resolution", f"{size[0]}x{size[1]}")
        # The GUI thread's part: painting the last frame with its overlay at screen size.
        timings = {**result.timings_ms, "paint": w.view.paint_ms}
        w.perf.add_frame(timings, packet.processing_fps, result.schedule)
        n = len(result.faces)
        w.status.set("faces", f"{n} face{'s' if n != 1 else ''}")

    def painted(self) -> None:
        """The view has painted the frame: how long it took from reading it."""
        if self._painted_after is None:
            return
        ms = (time.perf_counter() - self._painted_after) * 1000.0
        self._painted_after = None
        self.latency_samples_ms.append(ms)
        self._latency_ms = ms if not self._latency_ms else 0.8 * self._latency_ms + 0.2 * ms
        self._window.status.set("latency", f"latency {self._latency_ms:.0f} ms",
                                "From reading the frame to showing it on screen")
