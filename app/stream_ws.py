"""The live feed as a WebSocket server (websockets): one JSON text message per frame
(``emocam.stream.frame_message``) to every connected client, and, on the same port, a small
page (``stream_page.html``) that connects to it and draws each face's bars.

Each client has its own bounded queue and thread, so one that reads slowly, or not at all,
loses its oldest frames (counted) while the run and the other clients go on.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
import time
import weakref
from dataclasses import replace
from importlib import resources
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from emocam.stream import DropOldestQueue, StreamError, StreamStats, StreamTarget, frame_message
from emocam.types import FrameResult

log = logging.getLogger(__name__)

PAGE_PATHS = ("/", "/index.html")
# Kernel send buffer per client: small, so a stalled client is seen as behind after a few
# frames and gets fresh ones when it reads again, instead of seconds of stale ones.
SEND_BUFFER_BYTES = 16 * 1024
FLUSH_S = 1.0  # at the end, how long clients get to receive what waits for them


def page_html() -> str:
    return resources.files("emocam").joinpath("stream_page.html").read_text(encoding="utf-8")


class _Client:
    def __init__(self, conn: ServerConnection):
        self.conn = conn
        self.queue = DropOldestQueue()
        self.sent = 0
        self.busy = False  # inside a send: blocked there while the receiver does not read
        # Set when its sender ends: once its closed queue is empty, or the receiver left.
        # An empty queue alone is not the end: the last frame may still be in its send.
        self.finished = threading.Event()


class WebSocketStream:
    """Serves the feed on ``target`` from threads of its own until ``close``."""

    def __init__(self, target: StreamTarget):
        self.target = target
        self._page = page_html().encode("utf-8")
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._stats = StreamStats(target.url, clients=0, unheard=0)
        self._gone = StreamStats(target.url)  # what clients that left were sent and lost
        self._closing = False  # set under the lock: a client joining then is turned away
        # Every connection from its first byte (websockets lists only those past their
        # handshake), so the end can cut those that never asked for anything.
        self._connections: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        stream = self

        class Tracked(ServerConnection):
            def __init__(self, *args: Any, **kwargs: Any):
                super().__init__(*args, **kwargs)
                with stream._lock:
                    stream._connections.add(self)

        try:
            self._server: Server = serve(
                self._serve_client, target.host, target.port, process_request=self._http,
                compression=None, close_timeout=1.0, logger=log, create_connection=Tracked,
                # An IPv6 host ("ws://[::1]:8765") needs its family named: the default is IPv4;
                # "::" (every network) takes IPv4 clients too, as 0.0.0.0 does.
                family=socket.AF_INET6 if ":" in target.host else socket.AF_INET,
                dualstack_ipv6=target.host == "::" and socket.has_dualstack_ipv6(),
            )
        except OSError as e:
            raise StreamError(_why_not(target, e)) from e
        self.port = int(self._server.socket.getsockname()[1])  # the real one for port 0
        self._stats.url = replace(self.target, port=self.port).url  # as the summary says it
        self._thread = threading.Thread(target=self._server.serve_forever, name="stream-ws",
                                        daemon=True)
        self._thread.start()

    def describe(self) -> str:
        where = replace(self.target, port=self.port).netloc  # the real port for port 0
        return (f"Serving the live feed on ws://{where}/; watch it in a browser at "
                f"http://{where}/.")

    # --- the run's side

    def send(self, result: FrameResult, file: str = "") -> None:
        self._stats.frames += 1
        with self._lock:
            clients = list(self._clients)
        if not clients:
            self._stats.unheard = (self._stats.unheard or 0) + 1
            return  # nobody listens: nothing to encode
        text = json.dumps(frame_message(result, file), separators=(",", ":"))
        for c in clients:
            c.queue.put(text)

    # --- the server's side (its own threads)

    def _http(self, conn: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP requests get the page; WebSocket upgrades go on to the feed."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if request.path.split("?", 1)[0] not in PAGE_PATHS:
            return conn.respond(404, "Not found: the live feed's page is at /.\n")
        response = conn.respond(200, "")
        response.body = self._page
        del response.headers["Content-Type"]
        del response.headers["Content-Length"]
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        response.headers["Content-Length"] = str(len(self._page))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _serve_client(self, conn: ServerConnection) -> None:
        conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        client = _Client(conn)
        with self._lock:
            if self._closing:
                client.finished.set()
                return  # the feed is ending: its queue would never be closed
            self._clients.append(client)
            self._stats.clients = (self._stats.clients or 0) + 1
        try:
            while (text := client.queue.get()) is not None:
                client.busy = True
                conn.send(text)
                client.busy = False
                client.sent += 1
            # Everything was sent: close now, normally (1000). Left to websockets once this
            # returns, the close could come after the server's shutdown, which tells an
            # open connection "going away" (1001).
            conn.close()
        except ConnectionClosed:
            pass  # the receiver left; the run goes on
        except OSError as e:  # its socket was shut at the end while it was not reading
            log.debug("a live-feed client's socket closed: %s", e)
        finally:
            client.queue.close()
            client.queue.discard()
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
                self._gone.sent += client.sent
                # A frame cut off inside its send never reached the receiver either.
                self._gone.dropped += client.queue.dropped + int(client.busy)
            client.finished.set()

    def stats(self) -> StreamStats:
        with self._lock:
            self._stats.sent = self._gone.sent + sum(c.sent for c in self._clients)
            self._stats.dropped = self._gone.dropped + sum(
                c.queue.dropped for c in self._clients)
        return self._stats

    # --- the end

    def close(self) -> StreamStats:
        """Give clients a moment for what waits, cut off those that do not read, stop."""
        if not self._thread.is_alive():
            return self._stats
        with self._lock:
            self._closing = True
            clients = list(self._clients)
        for c in clients:
            c.queue.close()
        self._wait_flushed(clients)
        for c in clients:
            if not c.finished.is_set():
                # Stuck in a send to a receiver that does not read: unblock it. One that
                # finished closes its connection normally (1000) as its handler returns.
                c.queue.discard()
                with contextlib.suppress(OSError):  # already gone
                    c.conn.socket.shutdown(socket.SHUT_RDWR)
        # A browser that showed the page keeps a speculative connection open that never
        # sends a request; shutdown() would wait for it until websockets' open timeout
        # (10 s). It holds nothing of ours: cut it, and those like it.
        with self._lock:
            idle = [c for c in self._connections if c.request is None]
        for c in idle:
            c.close_socket()
        self._server.shutdown()
        self._thread.join(timeout=2.0)
        return self.stats()

    @staticmethod
    def _wait_flushed(clients: list[_Client]) -> None:
        deadline = time.monotonic() + FLUSH_S
        for c in clients:
            c.finished.wait(max(0.0, deadline - time.monotonic()))


def _why_not(target: StreamTarget, e: OSError) -> str:
    """One sentence for a server that cannot listen."""
    where = target.netloc
    if e.errno == errno.EADDRINUSE:
        return (f"The port {target.port} on {target.host} is already in use (by another "
                "program or another emocam); choose another, e.g. "
                f"{replace(target, port=target.port + 1).url}.")
    if e.errno == errno.EACCES:
        return (f"Listening on {where} is not allowed for this user (ports below 1024 need "
                "administrator rights); choose a port from 1024 up.")
    if e.errno == errno.EADDRNOTAVAIL:
        return (f"The stream host {target.host} is not an address of this machine; give one "
                "of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every network).")
    if isinstance(e, socket.gaierror):
        return (f"The stream host {target.host!r} is not an address this machine can find; "
                "give an IP address such as 127.0.0.1.")
    return (f"The live feed cannot listen on {where} ({e.strerror or e}); give another host "
            "or port.")
