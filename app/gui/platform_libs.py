"""Which system libraries Qt's X11 plugin (xcb) lacks, named with the apt command for them.

Without one of them Qt says it "could not load the Qt platform plugin xcb" and suggests
``libxcb-cursor0`` whichever library is really missing, with a plugin path that may point
into OpenCV's folder. ``ldd`` on the plugin lists every library the dynamic loader cannot
find, through the whole dependency tree, without loading anything, so emocam can say exactly
what to install. Nothing here imports Qt: it must run before Qt can abort the process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Debian and Ubuntu package of each library Qt 6's xcb plugin loads (directly or through
# libQt6XcbQpa and libQt6Gui), by the soname ldd reports.
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLESv2.so.2": "libgles2",  # MediaPipe's detector (libmediapipe.so) needs it
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
}
# Everything the table names: what the README tells a minimal install to add.
ALL_PACKAGES: tuple[str, ...] = tuple(dict.fromkeys(DEBIAN_PACKAGES.values()))

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


@dataclass(frozen=True)
class MissingLibraries:
    plugin: Path
    sonames: tuple[str, ...]  # in the order ldd met them, each once

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(DEBIAN_PACKAGES[s] for s in self.sonames
                                   if s in DEBIAN_PACKAGES))

    @property
    def unknown(self) -> tuple[str, ...]:
        """Libraries whose package this table does not know."""
        return tuple(s for s in self.sonames if s not in DEBIAN_PACKAGES)

    def message(self) -> str:
        """One paragraph for the user: what is missing and the command that installs it."""
        names = ", ".join(self.sonames)
        text = (f"The desktop app cannot open a window: Qt's X11 support needs {names}, "
                "which this system lacks.")
        if self.packages:
            text += f" On Debian or Ubuntu: sudo apt install {' '.join(self.packages)}"
            text += "." if not self.unknown else (
                f"; for {', '.join(self.unknown)}, find the package with "
                f"`apt-file search {self.unknown[0]}`.")
        else:
            text += f" Find the packages with `apt-file search {self.sonames[0]}`."
        return text


def parse_ldd(output: str) -> tuple[str, ...]:
    """The sonames ldd reports as ``not found``, each once, in order."""
    found = (m.group(1) for line in output.splitlines() if (m := _NOT_FOUND.match(line)))
    return tuple(dict.fromkeys(found))


def xcb_plugin_path() -> Path | None:
    """PySide6's libqxcb.so, found without importing Qt (None when it is not there)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(library: Path) -> MissingLibraries | None:
    """What the dynamic loader cannot find for ``library`` and its dependencies; None when
    nothing is missing or ldd cannot tell (not Linux, no ldd)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=20,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError) as e:
        log.info("ldd %s failed: %s", library, e)
        return None
    sonames = parse_ldd(out)
    return MissingLibraries(library, sonames) if sonames else None


def xcb_will_be_used(env: dict[str, str] | None = None) -> bool:
    """Whether Qt will load its xcb plugin: on Linux, unless another platform is chosen or
    a Wayland session is running (Qt 6 picks Wayland there)."""
    env = dict(os.environ) if env is None else env
    if not sys.platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    wayland = env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def drop_opencv_plugin_path(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Forget the Qt plugin folder OpenCV's import points Qt at (its own Qt 5 plugins, which
    Qt 6 cannot load): Qt's messages would name that folder instead of PySide6's. A folder
    the user chose stays. True when it was dropped."""
    chosen = env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    spec = importlib.util.find_spec("cv2") if chosen else None
    if spec is None or not spec.submodule_search_locations:
        return False
    cv2_dir = Path(next(iter(spec.submodule_search_locations))).resolve()
    if not Path(chosen).resolve().is_relative_to(cv2_dir):
        return False
    del env["QT_QPA_PLATFORM_PLUGIN_PATH"]
    return True


def check_xcb() -> MissingLibraries | None:
    """The libraries the xcb plugin lacks, when Qt is about to use it."""
    if not xcb_will_be_used():
        return None
    plugin = xcb_plugin_path()
    return missing_libraries(plugin) if plugin is not None else None
