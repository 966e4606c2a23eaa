"""The runtime never unpickles and never touches the network."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SyntheticVideo

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = [ROOT / "app", ROOT / "training"]


def _sources() -> list[Path]:
    return sorted(p for d in RUNTIME for p in d.rglob("*.py"))


def test_no_runtime_module_imports_pickle_or_a_pickling_loader() -> None:
    banned = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|joblib|shelve)\b|torch\.load",
                        re.M)
    hits = [str(p.relative_to(ROOT)) for p in _sources() if banned.search(p.read_text())]
    assert not hits


def test_every_numpy_load_refuses_pickles() -> None:
    calls = []
    for p in _sources():
        text = p.read_text()
        for m in re.finditer(r"np\.load\(", text):
            call = text[m.start() : text.find(")", m.start()) + 1]
            calls.append((str(p.relative_to(ROOT)), call))
    assert all("allow_pickle=False" in call for _, call in calls), calls
    assert not any("allow_pickle=True" in p.read_text() for p in _sources())


# Runs `emocam process` in a fresh interpreter with an audit hook that refuses every
# internet socket, so imports and start-up are watched too, not only the frame loop.
_NO_NETWORK = """
import json, socket, sys
attempts = []
def hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.bind") and args[0].family in (
        socket.AF_INET, socket.AF_INET6
    ):
        attempts.append([event, repr(args[1])])
        raise ConnectionRefusedError("network access in a test that forbids it")
    if event == "socket.getaddrinfo":
        attempts.append([event, repr(args[0])])
        raise socket.gaierror("name lookup in a test that forbids it")
sys.addaudithook(hook)
from emocam.cli import main
code = main(sys.argv[1:])
print("AUDIT" + json.dumps({"code": code, "attempts": attempts}))
"""


@pytest.mark.timeout(120)
def test_emocam_process_makes_no_network_access(
    video_face_at_edge: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK, "process", str(video_face_at_edge), "-o",
         str(tmp_path), "--model", str(model_path), "-q"],
        capture_output=True, text=True, timeout=110,
    )
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("AUDIT")), None)
    assert line is not None, r.stderr
    report = json.loads(line[5:])
    assert report["attempts"] == []
    assert report["code"] == 0, r.stderr
    assert (tmp_path / "edge.emocam.csv").exists()
