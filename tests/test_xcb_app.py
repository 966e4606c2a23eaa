"""The real app on Qt's X11 platform (xcb), on an Xvfb screen the size of a 1366x768 laptop,
with a window manager when one is installed: start, play, switch the model, export, quit.
The offscreen platform the other GUI tests use hid bugs that only a real platform shows.

Needs Xvfb (Debian: ``apt install xvfb openbox`` and the libraries README's Linux paragraph
lists); skipped where it is missing, with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emocam.gui.platform_libs import missing_libraries, xcb_plugin_path

pytestmark = [pytest.mark.gui, pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 on Linux")]

SCREEN = (1366, 768)


def _free_display() -> int:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    pytest.skip("no free X display number")


@pytest.fixture(scope="module")
def xvfb_display():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    plugin = xcb_plugin_path()
    missing = missing_libraries(plugin) if plugin is not None else None
    if missing is not None:
        pytest.skip(missing.message())
    n = _free_display()
    server = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.skip("Xvfb did not start")
        time.sleep(0.1)
    env = {**os.environ, "DISPLAY": f":{n}"}
    env.pop("QT_QPA_PLATFORM", None)
    wm = None
    if shutil.which("openbox"):  # a title bar and borders, as on a desktop
        wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    try:
        yield env
    finally:
        for proc in (wm, server):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


def test_the_app_on_x11_plays_switches_model_exports_and_quits(xvfb_display, video_one_face,
                                                               tmp_path):
    env = {**xvfb_display, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "HOME": str(tmp_path)}
    driver = Path(__file__).with_name("xcb_driver.py")
    run = subprocess.run([sys.executable, str(driver), str(video_one_face.path),
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb"
    assert report["played"] and report["switched"] and report["played_after_switch"]
    assert report["timeline_classes"] == 7
    assert report["export_completed"], report
    assert report["export_frames"] == video_one_face.frame_count
    assert "Exported 60 frames" in report["banner"]
    assert report["errors"] == [], report["errors"]
    # The whole window, title bar and borders included, is on the 1366x768 screen.
    # So is it on the next start, from the geometry the first one saved (its title bar was
    # above the screen once the window manager framed the restored window).
    sx, sy, sw, sh = report["screen"]
    for fx, fy, fw, fh in (report["frame"], report["frame_again"]):
        assert sx <= fx and sy <= fy and fx + fw <= sx + sw and fy + fh <= sy + sh, report
