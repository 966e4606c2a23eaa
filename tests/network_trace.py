"""Network system calls of a real process, seen by ``strace``: what Python hooks miss.

A native library (MediaPipe's ``libmediapipe.so`` carries its own libcurl) resolves names
and connects without going through Python's ``socket`` module, so only the kernel's view
tells whether a run sent anything. ``trace`` runs a command under ``strace -f -e
trace=network``; ``leaks`` reads the trace and names every name lookup (a DNS query to
port 53 anywhere, or a request to a local name-service daemon) and every connection or
datagram to an address outside this machine.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

_INET = re.compile(
    r"sa_family=AF_INET6?, sin6?_port=htons\((?P<port>\d+)\),.*?"
    r"(?:inet_addr\(\"(?P<v4>[^\"]+)\"\)|inet_pton\(AF_INET6, \"(?P<v6>[^\"]+)\")"
)
_UNIX = re.compile(r"sa_family=AF_UNIX, sun_path=@?\"(?P<path>[^\"]+)\"")
_SENDING = ("connect(", "sendto(", "sendmsg(", "sendmmsg(")
# Local daemons that resolve names for a process: a request to them is a lookup.
_NAME_SERVICES = ("/var/run/nscd/socket", "/run/nscd/socket", "/run/systemd/resolve/")


def strace_unusable_reason() -> str | None:
    """Why strace cannot watch a process here, or None when it can."""
    exe = shutil.which("strace")
    if exe is None:
        return "strace is not installed (apt-get install strace; .ci/run installs it)"
    probe = subprocess.run([exe, "-f", "-o", "/dev/null", "true"], capture_output=True,
                           text=True, timeout=30)
    if probe.returncode != 0:  # e.g. a container without ptrace
        return f"strace cannot trace here: {probe.stderr.strip()[:200]}"
    return None


def trace(
    command: Sequence[str], log: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` and its threads and children under strace, network calls to ``log``."""
    return subprocess.run(
        ["strace", "-f", "-q", "-s", "64", "-e", "trace=network", "-o", str(log), *command],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def leaks(lines: Sequence[str]) -> list[str]:
    """The trace lines that looked up a name or reached outside this machine."""
    out = []
    for line in lines:
        call = line.split(None, 1)[-1]
        if not call.startswith(_SENDING):
            continue
        unix = _UNIX.search(call)
        if unix is not None:
            if unix["path"].startswith(_NAME_SERVICES):
                out.append(line.strip())
            continue
        for m in _INET.finditer(call):
            address = ipaddress.ip_address(m["v4"] or m["v6"])
            if int(m["port"]) == 53 or not address.is_loopback:
                out.append(line.strip())
                break
    return out
