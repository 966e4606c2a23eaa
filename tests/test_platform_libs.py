"""A first start on Linux names the system libraries Qt's X11 plugin lacks, with the apt
command that installs them, instead of Qt's paragraph about a plugin in OpenCV's folder."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emocam.cli import build_parser
from emocam.gui import app as gui_app
from emocam.gui import platform_libs
from emocam.gui.platform_libs import (
    ALL_PACKAGES,
    MissingLibraries,
    drop_opencv_plugin_path,
    missing_libraries,
    parse_ldd,
    xcb_plugin_path,
    xcb_will_be_used,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

# What ldd printed for PySide6 6.11's libqxcb.so on a Debian 12 machine with libxcb-cursor0
# installed (excerpt): the two libraries that were really missing, and each twice.
DEBIAN_LDD = """\
\tlinux-vdso.so.1 (0x00007f29b584d000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x1)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f29b571c000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f29b5714000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f29b584f000)
"""


def test_the_libraries_ldd_cannot_find_are_named_once_with_their_apt_packages():
    sonames = parse_ldd(DEBIAN_LDD)
    assert sonames == ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    message = MissingLibraries(Path("libqxcb.so"), sonames).message()
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1." in message
    assert "cursor" not in message  # the library that was there is not blamed


def test_a_library_the_table_does_not_know_is_still_named_with_a_way_to_find_it():
    message = MissingLibraries(Path("x.so"), ("libxcb-icccm.so.4", "libfoo.so.3")).message()
    assert "sudo apt install libxcb-icccm4" in message and "apt-file search libfoo.so.3" in message


@pytest.fixture(scope="module")
def library_missing_a_dependency(tmp_path_factory) -> Path:
    """A real shared library whose dependency was deleted after linking: what a plugin looks
    like to the loader on a system without one of its libraries."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None or shutil.which("ldd") is None:
        pytest.skip("needs a C compiler and ldd")
    d = tmp_path_factory.mktemp("libs")
    (d / "dep.c").write_text("int dep(void) { return 1; }\n")
    (d / "top.c").write_text("int dep(void); int top(void) { return dep(); }\n")
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(d / "libemocamprobe.so.1"),
                    "-Wl,-soname,libemocamprobe.so.1", str(d / "dep.c")], check=True)
    (d / "libemocamprobe.so").symlink_to("libemocamprobe.so.1")
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(d / "libtop.so"), str(d / "top.c"),
                    f"-L{d}", "-lemocamprobe"], check=True)
    (d / "libemocamprobe.so.1").unlink()
    (d / "libemocamprobe.so").unlink()
    return d / "libtop.so"


def test_a_deleted_dependency_of_a_real_library_is_found(library_missing_a_dependency):
    found = missing_libraries(library_missing_a_dependency)
    assert found is not None and found.sonames == ("libemocamprobe.so.1",)


def test_a_library_with_everything_installed_reports_nothing():
    assert missing_libraries(Path(sys.executable).resolve()) is None


def test_the_app_stops_before_qt_with_the_apt_command_and_without_qt_text(
        library_missing_a_dependency, monkeypatch, caplog):
    """``emocam`` on a system missing a library: one message, exit status 2, and Qt is
    never started (its text would blame libxcb-cursor0)."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(platform_libs, "xcb_plugin_path", lambda: library_missing_a_dependency)
    started = []
    monkeypatch.setattr(gui_app, "_run_app", lambda args: started.append(args) or 0)
    with caplog.at_level(logging.INFO):
        assert gui_app.run(build_parser().parse_args([])) == 2
    assert not started
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "libemocamprobe.so.1" in record.getMessage()
    assert "Qt" not in "".join(r.getMessage() for r in caplog.records if r.name == "emocam.qt")
    # -v goes on to Qt, so its own message can be seen as well.
    with caplog.at_level(logging.INFO):
        assert gui_app.run(build_parser().parse_args(["-v"])) == 0
    assert started


def test_the_check_runs_only_where_qt_uses_x11():
    assert xcb_will_be_used({"DISPLAY": ":0"})
    assert xcb_will_be_used({"QT_QPA_PLATFORM": "xcb"})
    assert not xcb_will_be_used({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    assert not xcb_will_be_used({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"})


def test_the_installed_qt_has_the_plugin_and_the_readme_lists_every_package():
    assert xcb_plugin_path() is not None
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    xcb = [p for p in ALL_PACKAGES if "xcb" in p or "xkb" in p]
    missing = [p for p in xcb if p not in readme]
    assert not missing, missing


def test_opencvs_qt5_plugin_folder_is_not_handed_to_qt6_but_a_users_folder_is_kept(tmp_path):
    import cv2  # its import points QT_QPA_PLATFORM_PLUGIN_PATH at its own Qt 5 plugins

    opencv_dir = Path(cv2.__file__).parent / "qt" / "plugins"
    env = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(opencv_dir)}
    assert drop_opencv_plugin_path(env) and "QT_QPA_PLATFORM_PLUGIN_PATH" not in env
    mine = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(tmp_path)}
    assert not drop_opencv_plugin_path(mine) and mine["QT_QPA_PLATFORM_PLUGIN_PATH"]
