"""Reading back the JSON files emocam writes (summaries, batch manifests, locks, sidecar
headers): files a user may edit, copy or damage, so an unreadable one is None, never an
exception from deep in the decoder.

A file nested thousands of levels deep raises RecursionError, not ValueError: every reader
caught ValueError alone, and a damaged summary ended a ``--resume`` in a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable, not JSON, nested too
    deeply or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def count(data: dict[str, Any], key: str) -> int:
    """A count recorded in ``data`` (frames, faces); 0 when it is missing or not a number."""
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    try:
        return max(0, int(value))
    except (OverflowError, ValueError):  # inf, NaN
        return 0
