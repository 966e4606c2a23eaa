"""File > Stream Results...: the live feed of ``emocam.stream`` from the app, the same sink
``emocam process --stream`` uses.

The address is remembered; the feed itself starts only when the user asks, each session, so
the app never sends anything unasked. The status bar says where it goes and how many frames
were dropped for receivers that were behind.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from emocam.errors import UserError
from emocam.gui.banner import MessageBanner
from emocam.gui.settings import AppSettings
from emocam.gui.status import StatusFields
from emocam.stream import StreamSink, open_stream, parse_stream_url
from emocam.types import FrameResult

log = logging.getLogger(__name__)

DEFAULT_URL = "ws://127.0.0.1:8765"


class ResultsFeed:
    def __init__(self, parent: QWidget, settings: AppSettings, banner: MessageBanner,
                 status: StatusFields) -> None:
        self._parent = parent
        self._settings = settings
        self._banner = banner
        self._status = status
        self.sink: StreamSink | None = None  # None: not streaming

    def dialog(self) -> None:
        """Ask for the address; an empty one stops the feed."""
        url, ok = QInputDialog.getText(
            self._parent, "Stream Results",
            "Send each frame's results to other programs while the video plays:\n"
            "osc://HOST:PORT (OSC over UDP) or ws://HOST:PORT (WebSocket, with a page to "
            "watch it in a browser).\nWithout a host the feed stays on this computer. "
            "Leave empty to stop streaming.",
            QLineEdit.EchoMode.Normal, self._settings.stream_url or DEFAULT_URL)
        if ok:
            self.start(url.strip())

    def start(self, url: str) -> bool:
        """Replace the current feed with one to ``url`` ("" stops it); False on a bad
        address or a port in use (said in the banner)."""
        try:
            # Checked before the feed running now stops: a mistyped address keeps it.
            target = parse_stream_url(url) if url else None
        except UserError as e:
            self._banner.show_message(str(e), "error")
            return False
        self.stop()
        if target is None:
            return True
        try:
            self.sink = open_stream(target)
        except (UserError, OSError) as e:  # a port in use
            self._banner.show_message(str(e), "error")
            return False
        self._settings.stream_url = url
        self._banner.show_message(self.sink.describe(), "info")
        self._show()
        return True

    def stop(self) -> None:
        if self.sink is not None:
            described = self.sink.describe()
            stats = self.sink.close()
            log.info("live feed %s ended: %d sent, %d dropped", stats.url, stats.sent,
                     stats.dropped)
            self.sink = None
            if self._banner.text() == described:  # "Serving the live feed..." is no longer true
                self._banner.hide()
        self._status.set("stream", "")

    def send(self, result: FrameResult) -> None:
        if self.sink is None:
            return
        self.sink.send(result)
        if result.frame.index % 15 == 0:  # a few times a second is enough to read
            self._show()

    def _show(self) -> None:
        if self.sink is None:
            return
        stats = self.sink.stats()
        self._status.set("stream", f"\u21c9 {stats.url}: {stats.dropped} dropped",
                         "Live feed: frames dropped because a receiver was behind")
