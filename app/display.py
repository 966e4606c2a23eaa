"""Whether the display the desktop app is to open can be reached, asked before Qt is loaded.

Qt aborts the process when it cannot open its display, with a paragraph that blames
``xcb-cursor0`` whatever the cause (status 134). A ``DISPLAY`` inherited by an ssh session
without X forwarding, a container's or a stale one, leads there: each is said here in one
sentence instead. Nothing here imports Qt.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

_TIMEOUT_S = 2.0


def _answers(family: int, address: object) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(_TIMEOUT_S)
        try:
            s.connect(address)
        except OSError:
            return False
    return True


def x11_reachable(display: str) -> bool:
    """Whether an X server listens at ``display`` (``:0``, ``host:10.0``, ``unix:1``)."""
    m = re.fullmatch(r"(?:(?P<proto>[a-z]+)/)?(?P<host>[^:]*):(?P<num>\d+)(?:\.\d+)?", display)
    if m is None:
        return True  # a form not known here (a launchd path): left to Qt
    host, num = m["host"], int(m["num"])
    if host in ("", "unix") and m["proto"] in (None, "unix"):
        path = f"/tmp/.X11-unix/X{num}"
        if sys.platform.startswith("linux") and _answers(socket.AF_UNIX, "\0" + path):
            return True  # Linux's abstract socket, which Xorg and Xwayland also open
        if _answers(socket.AF_UNIX, path):
            return True
        if host == "unix":
            return False
        host = "localhost"
    try:
        # Every address the name has, IPv6 too (an X server on [::1] only).
        socket.create_connection((host, 6000 + num), timeout=_TIMEOUT_S).close()
    except (OSError, OverflowError, ValueError):
        return False
    return True


def wayland_reachable(name: str, env: Mapping[str, str]) -> bool:
    path = Path(name)
    if not path.is_absolute():
        runtime = env.get("XDG_RUNTIME_DIR")
        if not runtime:
            return False
        path = Path(runtime) / name
    return _answers(socket.AF_UNIX, str(path))


def display_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why the app cannot open a display, as the sentence to print; None when it can, or
    when Qt is left to choose (a platform chosen with QT_QPA_PLATFORM, macOS, Windows)."""
    env = os.environ if env is None else env
    if sys.platform == "darwin" or sys.platform.startswith(("win", "cygwin")):
        return None
    if env.get("QT_QPA_PLATFORM"):
        return None
    x11, wayland = env.get("DISPLAY"), env.get("WAYLAND_DISPLAY")
    if not x11 and not wayland:
        return ("The desktop app needs a display, and none is set (DISPLAY or "
                "WAYLAND_DISPLAY); start it in a desktop session, or use `emocam process "
                "VIDEO` for files.")
    if (wayland and wayland_reachable(wayland, env)) or (x11 and x11_reachable(x11)):
        return None
    named = " or ".join(f"{value} ({key})" for key, value in
                        (("WAYLAND_DISPLAY", wayland), ("DISPLAY", x11)) if value)
    return (f"The desktop app cannot reach the display {named}: nothing answers there; "
            "start it in a desktop session (over ssh, connect with `ssh -X`), set DISPLAY to "
            "a running display, or use `emocam process VIDEO` for files.")
