"""The live feed's page (``--stream ws://HOST:PORT``, then ``http://HOST:PORT/``) in a real
headless browser (Debian's chromium): it connects, draws a card of bars for every face with
the run's numbers, and the browser reports no error. Skipped where chromium is missing."""

from __future__ import annotations

import csv
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SyntheticVideo

from benchmarks.browser import BROWSER, Browser
from emocam.pipeline import PipelineConfig
from emocam.process import ProcessOptions, run_process
from emocam.stream import parse_stream_url

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium to open the page")

HOST = "127.0.0.1"

# What the page shows of each face: its title, and per class the label and the bar's width
# as drawn (the fill's width over its track's, in screen pixels).
_CARDS = """[...document.querySelectorAll("#faces .face")].map(card => ({
  title: card.querySelector("h2").textContent,
  rows: [...card.querySelectorAll(".row")].map(row => {
    const track = row.querySelector(".bar").getBoundingClientRect().width;
    return {label: row.querySelector("span").textContent, top: row.classList.contains("top"),
            share: row.querySelector(".bar div").getBoundingClientRect().width / track};
  }),
}))"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def test_the_live_page_draws_every_faces_bars_with_the_runs_numbers(
    video_four_faces: SyntheticVideo, model_path: Path, tmp_path: Path,
    receiver_joined: Callable[[], None],
) -> None:
    port = free_port()
    browser = Browser(tmp_path / "profile")

    def on_open(line: str) -> None:
        # The feed listens and no frame has gone yet: open its page the way a user would, from
        # the address the command prints, and let the run go on once the page is connected.
        url = f"http://{HOST}:{port}/"
        assert url in line
        browser.attach()
        browser.goto(url)
        browser.wait_until('document.getElementById("status").textContent'
                           '.startsWith("connected")')
        receiver_joined()

    try:
        run_process(ProcessOptions(
            input=video_four_faces.path, outdir=tmp_path, no_video=True, no_sidecar=True,
            no_report=True, progress=False, pipeline=PipelineConfig(model_path=model_path),
            stream=(parse_stream_url(f"ws://{HOST}:{port}"),), on_stream_open=on_open))
        summary = json.loads((tmp_path / "four_faces.emocam.json").read_text())
        last_frame, last = _last_frame(tmp_path / "four_faces.emocam.csv",
                                       summary["class_names"])
        browser.wait_until('document.getElementById("status").textContent'
                           '.startsWith("not connected")')
        cards = browser.evaluate(_CARDS)
        shot = cv2.imread(str(browser.screenshot(tmp_path / "page.png")))
    finally:
        browser.close()

    # Nothing went wrong while the feed was live. Once it ends, the page retries to connect
    # every second, and chromium logs each refused try: that, and only that.
    ended = next(i for i, e in enumerate(browser.events)
                 if e["method"] == "Network.webSocketClosed")
    assert browser.problems(until=ended) == []
    assert all("WebSocket connection to" in p and "ERR_CONNECTION_REFUSED" in p
               for p in browser.problems(since=ended))
    assert summary["streams"][0]["clients"] == 1
    assert summary["streams"][0]["dropped"] == 0
    # The page ends on the run's last frame: one card per face, in the feed's order, each
    # titled with its id, top label and confidence, with one bar per class drawn at the
    # probability the CSV holds (to a pixel of a 180-odd px bar).
    assert last_frame == summary["frames"] - 1  # the video's last frame has its faces
    assert len(cards) == len(last) == 4
    names = summary["class_names"]
    for card, (face_id, label, confidence, probs) in zip(cards, last, strict=True):
        title = re.fullmatch(r"face (\d+): (\S+) (\d+)%( \(.+\))?", card["title"])
        assert title, card["title"]
        assert (int(title[1]), title[2]) == (face_id, label)
        assert abs(int(title[3]) - 100 * confidence) <= 0.5 + 1e-6
        assert [r["label"] for r in card["rows"]] == names
        assert [r["label"] for r in card["rows"] if r["top"]] == [label]
        assert [r["share"] for r in card["rows"]] == pytest.approx(probs, abs=0.01)
    # And they are on screen: the top labels' orange bars and the others' blue ones.
    assert shot is not None
    for rgb, at_least in (((0xF0, 0xA0, 0x30), 4 * 20 * 8), ((0x4C, 0x9B, 0xE8), 1)):
        near = np.abs(shot[..., ::-1].astype(int) - rgb).sum(axis=2) < 30
        assert int(near.sum()) >= at_least, (rgb, int(near.sum()))


def _last_frame(csv_path: Path, names: list[str]
                ) -> tuple[int, list[tuple[int, str, float, list[float]]]]:
    """The CSV's last frame with faces, and (face id, top label, confidence, probabilities)
    of each face in it."""

    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    final = [r for r in rows if r["frame"] == rows[-1]["frame"]]
    return int(rows[-1]["frame"]), [
        (int(r["face_id"]), r["top_label"], float(r["confidence"]), [float(r[n]) for n in names])
        for r in final]
