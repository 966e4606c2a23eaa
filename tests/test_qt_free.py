"""The pipeline is Qt-free: ``emocam process`` and re-analysis import and run where PySide6
cannot be imported at all (a server, a container without the desktop app's libraries)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.media import SyntheticVideo

# Runs in a fresh interpreter: any import of PySide6 fails as if it were not installed, then
# the real command runs end to end, a re-analysis of its sidecar too.
_WITHOUT_QT = """
import importlib.abc, sys

class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "PySide6" or name.startswith("PySide6."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoQt())
from emocam.cli import main
out, video, model = sys.argv[1:4]
code = main(["process", video, "-o", out, "--model", model, "-q"])
again = main(["process", "--reanalyse", out + "/one_face.emocam.npz", "-o", out, "-q",
              "--no-video"])
print(code, again, any(m.split(".")[0] == "PySide6" for m in sys.modules))
"""


@pytest.mark.slow
def test_emocam_process_and_reanalysis_run_with_pyside6_unavailable(
    video_one_face: SyntheticVideo, model_path: Path, tmp_path: Path
) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _WITHOUT_QT, str(tmp_path), str(video_one_face.path),
         str(model_path)], capture_output=True, text=True, timeout=180,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "0", "False"], r.stdout + r.stderr
    summary = json.loads((tmp_path / "one_face.emocam.json").read_text())
    assert summary["completed"] is True and summary["frames_with_faces"] > 0
    assert (tmp_path / "one_face.reanalysed.csv").is_file()
