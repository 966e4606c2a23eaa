"""A real headless chromium driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: no port to find, and nothing else on the machine can reach it).

It records what a user with the developer console open would see go wrong: console errors,
uncaught exceptions and failed loads (``Browser.problems``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless chromium with one page attached; ``close`` (or ``with``) ends it."""

    def __init__(self, profile: Path, size: tuple[int, int] = (1100, 800)):
        if BROWSER is None:
            raise BrowserError("no chromium on this machine")
        profile.mkdir(parents=True, exist_ok=True)
        # Chromium reads commands from its fd 3 and writes answers and events to its fd 4.
        # Our ends sit at 10 and up, so the child's dup2 onto 3 and 4 cannot clobber them.
        cmd_r, cmd_w = _high_pipe()
        ans_r, ans_w = _high_pipe()

        def onto_3_and_4() -> None:  # in the child, before exec; dup2 makes them inheritable
            os.dup2(cmd_r, 3)
            os.dup2(ans_w, 4)

        self.log_path = profile / "chromium.log"
        with self.log_path.open("wb") as log:
            # close_fds=False: Python's own descriptors are not inheritable anyway, and the
            # default would close 3 and 4 again after the dup2.
            self.proc = subprocess.Popen(
                [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                 f"--window-size={size[0]},{size[1]}", "about:blank"],
                preexec_fn=onto_3_and_4, close_fds=False,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(cmd_r)
        os.close(ans_w)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(ans_r, "rb", buffering=0)
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = ""

    # --- the protocol

    def _read(self) -> None:
        buf = b""
        while chunk := self._in.read(65536):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._cond:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cond.notify_all()
        with self._cond:  # the browser is gone: wake whoever waits
            self._cond.notify_all()

    def send(self, method: str, timeout: float = 30.0, browser: bool = False,
             **params: Any) -> dict[str, Any]:
        """One command (to the page, or with ``browser`` to the browser); its result."""
        with self._cond:
            self._next_id += 1
            i = self._next_id
        msg: dict[str, Any] = {"id": i, "method": method, "params": params}
        if self.session and not browser:
            msg["sessionId"] = self.session
        self._out.write(json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: i in self._answers or not self._alive(),
                                       timeout):
                raise BrowserError(f"{method}: no answer in {timeout} s")
            if i not in self._answers:
                raise BrowserError(f"{method}: the browser ended ({self._tail()})")
            answer = self._answers.pop(i)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_event(self, method: str, timeout: float = 30.0, since: int = 0
                   ) -> dict[str, Any]:
        """The first event ``method`` from index ``since`` of ``events`` on."""
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events[since:] if e["method"] == method), None)

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None or not self._alive(),
                                       timeout) or found() is None:
                raise BrowserError(f"no {method} in {timeout} s")
            return found()  # type: ignore[return-value]

    def _alive(self) -> bool:
        return self._reader.is_alive()

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-1500:]
        return ""

    # --- the page

    def attach(self) -> None:
        """Attach to the page chromium opened, and listen to what goes wrong on it."""
        targets = self.send("Target.getTargets", browser=True)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", browser=True,
                                 targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Load ``url`` and wait for its ``load`` event."""
        since = len(self.events)
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", timeout, since)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The JSON value of ``expression`` in the page (awaited when it is a promise)."""
        r = self.send("Runtime.evaluate", timeout, expression=expression,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll ``expression`` in the page until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise BrowserError(f"not true after {timeout} s: {expression}")
            time.sleep(0.05)  # the page changes on its own; nothing to wait on but polling
        return value

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self, since: int = 0, until: int | None = None) -> list[str]:
        """Console errors, uncaught exceptions and failed loads among ``events[since:until]``,
        one line each."""
        out = []
        with self._cond:
            events = self.events[since:until]
        for e in events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')} "
                           f"{p['exceptionDetails'].get('exception', {}).get('description')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " + " ".join(
                    str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                out.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
        return out

    # --- the end

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close", timeout=5, browser=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self._out.close()
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            self._in.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _high_pipe() -> tuple[int, int]:
    """A pipe whose two ends are numbered 10 or more (and close on exec)."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]
