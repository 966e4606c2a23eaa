"""File > Stream Results...: the live feed of ``emocam.stream`` from the app (a mixin of
MainWindow), the same sink ``emocam process --stream`` uses.

The address is remembered; the feed itself starts only when the user asks, each session, so
the app never sends anything unasked. The status bar says where it goes and how many frames
were dropped for receivers that were behind.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QInputDialog, QLineEdit

from emocam.errors import UserError
from emocam.stream import StreamSink, open_stream, parse_stream_url
from emocam.types import FrameResult

if TYPE_CHECKING:
    from emocam.gui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

log = logging.getLogger(__name__)

DEFAULT_URL = "ws://127.0.0.1:8765"


class StreamMixin(_Base):
    stream: StreamSink | None = None

    def stream_dialog(self) -> None:
        """Ask for the address; an empty one stops the feed."""
        url, ok = QInputDialog.getText(
            self, "Stream Results",
            "Send each frame's results to other programs while the video plays:\n"
            "osc://HOST:PORT (OSC over UDP) or ws://HOST:PORT (WebSocket, with a page to "
            "watch it in a browser).\nWithout a host the feed stays on this computer. "
            "Leave empty to stop streaming.",
            QLineEdit.EchoMode.Normal, self.settings.stream_url or DEFAULT_URL)
        if ok:
            self.start_stream(url.strip())

    def start_stream(self, url: str) -> bool:
        """Replace the current feed with one to ``url`` ("" stops it); False on a bad
        address or a port in use (said in the banner)."""
        self.stop_stream()
        if not url:
            return True
        try:
            self.stream = open_stream(parse_stream_url(url))
        except (UserError, OSError) as e:  # a bad address, a port in use
            self.banner.show_message(str(e), "error")
            return False
        self.settings.stream_url = url
        self.banner.show_message(self.stream.describe(), "info")
        self._show_stream()
        return True

    def stop_stream(self) -> None:
        if self.stream is not None:
            stats = self.stream.close()
            log.info("live feed %s ended: %d sent, %d dropped", stats.url, stats.sent,
                     stats.dropped)
            self.stream = None
        self.status.set("stream", "")

    def send_to_stream(self, result: FrameResult) -> None:
        if self.stream is None:
            return
        self.stream.send(result)
        if result.frame.index % 15 == 0:  # a few times a second is enough to read
            self._show_stream()

    def _show_stream(self) -> None:
        if self.stream is None:
            return
        stats = self.stream.stats()
        self.status.set("stream", f"\u21c9 {stats.url}: {stats.dropped} dropped",
                        "Live feed: frames dropped because a receiver was behind")
