"""The live feed (``--stream``): real receivers on 127.0.0.1 get the same numbers as the CSV,
in order, and a receiver that never reads costs the run nothing but dropped frames."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import read_csv, run_cli
from reliability_helpers import assert_one_sentence
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from benchmarks.media import SyntheticVideo, one_face_plan, scaled, write_video
from emocam.pipeline import PipelineConfig
from emocam.process import ProcessOptions, run_process
from emocam.stream import DropOldestQueue, StreamError, StreamTarget, parse_stream_url

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def csv_faces(path: Path) -> list[tuple[int, int, list[float]]]:
    """(frame, face id, probabilities) of every CSV row, in file order."""
    rows = read_csv(path)
    names = [k for k in rows[0] if k not in {"frame", "time_ms", "face_id", "x", "y", "w", "h",
                                             "top_label", "confidence", "uncertain", "shot"}]
    return [(int(r["frame"]), int(r["face_id"]), [float(r[n]) for n in names]) for r in rows]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> SyntheticVideo:
    """640x360, 150 frames: one real face moving; long enough to fill a stalled receiver."""
    path = tmp_path_factory.mktemp("stream") / "long.mp4"
    return write_video(path, (640, 360), scaled(one_face_plan(150), 0.5), seed=7)


# --- addresses -----------------------------------------------------------------------------


def test_a_stream_address_without_a_host_stays_on_this_machine() -> None:
    assert parse_stream_url("osc://:9001") == StreamTarget("osc", HOST, 9001)
    assert parse_stream_url("ws://") == StreamTarget("ws", HOST, 8765)
    assert parse_stream_url("ws://0.0.0.0:80") == StreamTarget("ws", "0.0.0.0", 80)
    assert parse_stream_url("WS://:8765") == StreamTarget("ws", HOST, 8765)  # as typed
    # osc://h:0 sent to no port, with "frames dropped for receivers that were behind".
    for bad in ("http://127.0.0.1:80", "127.0.0.1:9000", "osc://h:99999", "ws://h:80/x",
                "osc://h:port", "osc://127.0.0.1:0"):
        with pytest.raises(StreamError):
            parse_stream_url(bad)


def test_a_full_queue_drops_its_oldest_and_counts_them() -> None:
    q = DropOldestQueue(3)
    for i in range(5):
        q.put(i)
    q.close()
    assert [q.get(), q.get(), q.get(), q.get()] == [2, 3, 4, None]
    assert q.dropped == 2


def test_a_bad_stream_address_is_one_sentence(capfd: pytest.CaptureFixture[str],
                                              video_face_at_edge: SyntheticVideo,
                                              tmp_path: Path) -> None:
    run = run_cli(capfd, "process", video_face_at_edge, "-o", tmp_path, "--stream",
                  "http://127.0.0.1:9000")
    assert_one_sentence(run, "osc://HOST:PORT", "ws://HOST:PORT")
    assert list(tmp_path.iterdir()) == []
    # The same feed twice sent every OSC frame twice (and a WebSocket's "port in use").
    run = run_cli(capfd, "process", video_face_at_edge, "-o", tmp_path, "--stream",
                  "osc://:9123", "--stream", "osc://127.0.0.1:9123")
    assert_one_sentence(run, "osc://127.0.0.1:9123 is given twice")
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_one_sentence(capfd: pytest.CaptureFixture[str],
                                       video_face_at_edge: SyntheticVideo, model_path: Path,
                                       tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = run_cli(capfd, "process", video_face_at_edge, "-o", tmp_path, "--model",
                      model_path, "--stream", f"ws://{HOST}:{port}")
    assert_one_sentence(run, f"port {port}", "in use")
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


# --- OSC ---------------------------------------------------------------------------------


def test_an_osc_receiver_gets_the_csv_probabilities_in_order(
    capfd: pytest.CaptureFixture[str], video_two_shots: Path, model_path: Path,
    tmp_path: Path, osc_server: tuple[int, list[tuple[str, tuple]]],
) -> None:
    port, got = osc_server
    run = run_cli(capfd, "process", video_two_shots, "-o", tmp_path, "--model", model_path,
                  "--no-video", "--stream", f"osc://{HOST}:{port}")
    assert run.code == 0, run.err
    assert f"OSC to {HOST}:{port}" in run.err
    summary = json.loads((tmp_path / "interview.emocam.json").read_text())
    feed = summary["streams"][0]
    assert feed["url"] == f"osc://{HOST}:{port}"
    assert feed["frames"] == feed["sent"] == summary["frames"]
    assert feed["dropped"] == 0
    assert "0 frames dropped" in run.out

    deadline = time.monotonic() + 10
    while sum(a == "/emocam/frame" for a, _ in got) < summary["frames"]:
        assert time.monotonic() < deadline, "the OSC server did not get every frame"
        time.sleep(0.02)  # a UDP server in another thread; nothing to wait on but its list
    frames = [args for a, args in got if a == "/emocam/frame"]
    assert [f[0] for f in frames] == list(range(summary["frames"]))
    assert {f[2] for f in frames} == {0, 1}  # the cut between the two shots is in the feed
    names = next(args for a, args in got if a == "/emocam/classes")
    assert list(names) == summary["class_names"]

    sent: list[tuple[int, int, list[float]]] = []
    frame = -1
    for address, args in got:
        if address == "/emocam/frame":
            frame = args[0]
        elif address.endswith("/probs"):
            face_id = int(address.split("/")[3])
            sent.append((frame, face_id, list(args)))
    expected = csv_faces(tmp_path / "interview.emocam.csv")
    assert [(f, i) for f, i, _ in sent] == [(f, i) for f, i, _ in expected]
    for (_, _, p_osc), (_, _, p_csv) in zip(sent, expected, strict=True):
        # OSC carries 32-bit floats; the CSV rounds to 4 decimals.
        assert p_osc == pytest.approx(p_csv, abs=6e-5)
    labels = [args for a, args in got if a.endswith("/label")]
    assert len(labels) == len(expected)
    assert all(isinstance(lbl, str) and lbl in names for lbl, _ in labels)


# --- WebSocket ---------------------------------------------------------------------------


def options(video: Path, out: Path, model_path: Path, url: str, **kw: object
            ) -> ProcessOptions:
    return ProcessOptions(input=video, outdir=out, no_video=True, no_sidecar=True,
                          no_report=True, progress=False,
                          pipeline=PipelineConfig(model_path=model_path),
                          stream=(parse_stream_url(url),), **kw)  # type: ignore[arg-type]


def test_a_websocket_client_gets_every_frame_as_json_and_the_page_is_served(
    video_two_shots: Path, model_path: Path, tmp_path: Path,
    receiver_joined: Callable[[], None],
) -> None:
    port = free_port()
    messages: list[dict] = []
    page: list[str] = []
    closed: list[int | None] = []
    connected = threading.Event()

    def client() -> None:
        # proxy=None: emocam sets https_proxy for this whole process (emocam.offline), and
        # websockets would send a ws:// connection through it.
        with connect(f"ws://{HOST}:{port}/", proxy=None) as ws:
            connected.set()
            try:
                for text in ws:
                    messages.append(json.loads(text))
            except ConnectionClosed:
                pass
            closed.append(ws.close_code)

    reader = threading.Thread(target=client, daemon=True)

    def on_open(line: str) -> None:
        # Called once the feed listens and before the first frame: the client joins now.
        assert f"http://{HOST}:{port}/" in line
        with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/html")
            page.append(r.read().decode())
        reader.start()
        assert connected.wait(10)
        receiver_joined()

    result = run_process(options(video_two_shots, tmp_path, model_path,
                                 f"ws://{HOST}:{port}", on_stream_open=on_open))
    reader.join(10)
    assert not reader.is_alive(), "the server did not close the connection at the end"
    assert closed == [1000]  # a normal closure, as docs/STREAMING.md tells receivers
    assert "new WebSocket(" in page[0] and "http" not in page[0].split("<script>")[1]

    summary = json.loads((tmp_path / "interview.emocam.json").read_text())
    assert result.streams == summary["streams"]
    assert summary["streams"][0]["dropped"] == 0
    assert summary["streams"][0]["clients"] == 1
    assert [m["frame"] for m in messages] == list(range(summary["frames"]))
    got = [(m["frame"], f["face_id"], [f["probs"][n] for n in m["class_names"]])
           for m in messages for f in m["faces"]]
    assert got == csv_faces(tmp_path / "interview.emocam.csv")  # exactly the CSV's numbers
    rows = read_csv(tmp_path / "interview.emocam.csv")
    first = messages[rows and int(rows[0]["frame"])]
    face = first["faces"][0]
    assert {"face_id", "x", "y", "w", "h", "probs", "top_label", "confidence",
            "uncertain"} <= set(face)
    assert float(rows[0]["time_ms"]) == first["time_ms"]
    assert face["top_label"] == rows[0]["top_label"]


def test_a_websocket_feed_listens_on_an_ipv6_address() -> None:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    from emocam.stream_ws import WebSocketStream

    feed = WebSocketStream(parse_stream_url("ws://[::1]:0"))
    try:
        assert f"ws://[::1]:{feed.port}/" in feed.describe()
        with urllib.request.urlopen(f"http://[::1]:{feed.port}/", timeout=5) as r:
            assert "new WebSocket(" in r.read().decode()
    finally:
        feed.close()


def stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads a byte."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect((HOST, port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)  # only up to the end of the answer: the messages stay unread
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def test_a_receiver_that_never_reads_does_not_slow_the_run(
    long_video: SyntheticVideo, model_path: Path, tmp_path: Path,
    receiver_joined: Callable[[], None], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from emocam.stream_ws import WebSocketStream

    # The run's time inside the feed's send(), frame by frame: the run's only contact with
    # the receiver. Timed here rather than against runs with nobody connected, whose speed
    # varies 2x from run to run on a shared 2-core machine.
    in_send: list[float] = []
    send = WebSocketStream.send

    def timed(self: WebSocketStream, *args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        send(self, *args, **kwargs)
        in_send.append(time.perf_counter() - t0)

    monkeypatch.setattr(WebSocketStream, "send", timed)
    closing: list[float] = []
    close = WebSocketStream.close

    def timed_close(self: WebSocketStream) -> Any:
        t0 = time.perf_counter()
        try:
            return close(self)
        finally:
            closing.append(time.perf_counter() - t0)

    monkeypatch.setattr(WebSocketStream, "close", timed_close)
    port = free_port()
    held: list[socket.socket] = []

    def on_open(_line: str) -> None:
        held.append(stalled_client(port))
        receiver_joined()

    run_process(options(long_video.path, tmp_path, model_path, f"ws://{HOST}:{port}",
                        on_stream_open=on_open))
    for s in held:
        s.close()
    summary = json.loads((tmp_path / "long.emocam.json").read_text())
    feed = summary["streams"][0]
    assert feed["clients"] == 1
    assert feed["dropped"] > 0  # the receiver fell behind, and the summary says by how much
    assert feed["sent"] + feed["dropped"] == summary["frames"] and feed["unheard"] == 0
    # A send that waited on this receiver would block for good once it stops reading (after
    # ~60 frames); one that waited a little per frame would show here. Encoding and queueing
    # a frame's message takes well under a millisecond.
    assert len(in_send) == summary["frames"]
    assert sum(in_send) < 0.1 * summary["elapsed_s"], (sum(in_send), summary["elapsed_s"])
    # And the end does not wait on the receiver: the second's grace it is given, then the
    # server's own shutdown (timed alone: the run's set-up is no part of it).
    assert closing and closing[0] < 1.0 + 2.0, closing


def test_a_connection_that_never_asks_does_not_hold_up_the_end(
    video_two_shots: Path, model_path: Path, tmp_path: Path,
) -> None:
    # A browser that showed the page opens a spare connection beside the page's own and
    # never sends a byte on it (a speculative pre-connect); the server used to wait for it
    # until its 10-s handshake timeout before the run could end.
    port = free_port()
    held: list[socket.socket] = []

    def on_open(_line: str) -> None:
        held.append(socket.create_connection((HOST, port)))

    t0 = time.perf_counter()
    run_process(options(video_two_shots, tmp_path, model_path, f"ws://{HOST}:{port}",
                        on_stream_open=on_open))
    wall = time.perf_counter() - t0
    summary = json.loads((tmp_path / "interview.emocam.json").read_text())
    assert held[0].recv(1) == b""  # cut by the server, not left to time out
    held[0].close()
    assert wall - summary["elapsed_s"] < 3.0, (wall, summary["elapsed_s"])
    # No receiver ever joined: every frame is counted as offered to nobody (before, the
    # counts said nothing of them and did not add up to the frames).
    feed = summary["streams"][0]
    assert (feed["sent"], feed["dropped"], feed["unheard"]) == (0, 0, summary["frames"])
