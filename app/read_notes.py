"""What of an input could not be read, as a run's outputs record it.

The source says it at the end of a run (a video cut short, a folder's photos skipped or read
in part); the JSON summary and the report say it, and the sidecar keeps it, so that a
re-analysis says it again: the recorded numbers alone do not show what was never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The sidecar header's keys (a sidecar from before them records nothing of the kind).
WARNING = "input_warning"
SKIPPED = "photos_skipped_reasons"
FIRST_PICTURE_ONLY = "photos_first_picture_only"


@dataclass(frozen=True)
class ReadNotes:
    warning: str = ""  # one sentence: a video cut short, photos skipped ("" when none)
    skipped: dict[str, str] = field(default_factory=dict)  # a folder's photo -> why not read
    first_picture_only: tuple[str, ...] = ()  # a folder's animations: only their first picture

    def as_header(self) -> dict[str, Any]:
        return {WARNING: self.warning, SKIPPED: dict(self.skipped),
                FIRST_PICTURE_ONLY: list(self.first_picture_only)}

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> ReadNotes:
        """The notes a sidecar recorded (checked by ``sidecar_check``); none from one
        written before they were kept."""
        return cls(str(header.get(WARNING) or ""), dict(header.get(SKIPPED) or {}),
                   tuple(header.get(FIRST_PICTURE_ONLY) or ()))
