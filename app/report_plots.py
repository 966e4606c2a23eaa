"""The report's plots, drawn by matplotlib as inline SVG: each face's emotion timeline over
the whole video (shot cuts marked), and every face's share of time per emotion.

No pyplot: figures are plain ``Figure`` objects, so nothing touches a GUI backend or global
state, and the app's Qt is never involved. The SVG keeps its text as text (smaller, and
searchable), and loses its XML prologue, its DTD address and its metadata, so the report
holds no web address a browser might try to fetch.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

BINS = 600  # at most this many points per timeline, whatever the video's length
_RC = {"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
       "axes.spines.right": False}


def class_colors(class_names: Sequence[str]) -> list[str]:
    """One colour per class, the same in every plot and in the page's legend, and the same
    as on the annotated video and in the app (matplotlib's own had anger blue, the video's
    red), darkened where it would fade into the white page (neutral's grey, surprise's
    yellow), as the app does on a light theme."""
    from emocam.contrast import WHITE, readable_on
    from emocam.overlay import class_color

    return ["#{:02x}{:02x}{:02x}".format(*readable_on(class_color(name, i)[::-1], WHITE))
            for i, name in enumerate(class_names)]


def _svg(fig: object) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})  # type: ignore[attr-defined]
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # no <?xml?> prologue and no DTD address
    # Inline in HTML an SVG needs no namespace declarations (the parser knows svg and xlink).
    head, rest = text.split(">", 1)
    head = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", head)
    return head + ">" + re.sub(r"<metadata>.*?</metadata>", "", rest, flags=re.S)


def binned(times_s: np.ndarray, probs: np.ndarray, duration_s: float, bins: int = BINS
           ) -> tuple[np.ndarray, np.ndarray]:
    """Mean probabilities in ``bins`` equal slices of the video: (slice centres in s,
    means; NaN where the face was not on screen)."""
    duration_s = max(duration_s, 1e-3)
    idx = np.clip((times_s / duration_s * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    sums = np.stack([np.bincount(idx, weights=probs[:, c], minlength=bins)
                     for c in range(probs.shape[1])], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, None]
    centres = (np.arange(bins) + 0.5) * duration_s / bins
    return centres, means


def _segments(present: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True."""
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def load_plotting() -> None:
    """Import the parts of matplotlib the report draws with, ahead of the first plot."""
    import matplotlib.backends.backend_svg
    import matplotlib.figure  # noqa: F401


Layout = tuple[float, float, float, float]  # subplot left, bottom, right, top (figure fractions)


def _timeline_axes(duration_s: float, cuts_s: Sequence[float]) -> tuple[Any, Any]:
    """An empty timeline: its figure and axes, the shot cuts drawn, the axes labelled."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 1.6))
    ax = fig.add_subplot()
    for t in cuts_s:
        ax.axvline(t, color="#333", linestyle="--", linewidth=0.8)
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.5, 1])
    ax.set_xlabel("time in the video (s); dashed: shot cuts")
    ax.set_ylabel("probability")
    return fig, ax


def timeline_layout(duration_s: float, cuts_s: Sequence[float]) -> Layout:
    """The margins ``tight_layout`` gives every timeline of one video. They share their axes,
    ticks and labels, so this is worked out once per report instead of once per face: it
    cost a third of the report's time for an hour with 145 face ids."""
    from matplotlib import rc_context

    with rc_context(_RC):
        fig, _ax = _timeline_axes(duration_s, cuts_s)
        fig.tight_layout(pad=0.3)
        p = fig.subplotpars
        return (p.left, p.bottom, p.right, p.top)


def timeline_svg(times_s: np.ndarray, probs: np.ndarray, duration_s: float,
                 cuts_s: Sequence[float], colors: Sequence[str], layout: Layout | None = None
                 ) -> str:
    """One face's probabilities, stacked, over the whole video; dashed lines at the cuts.
    ``layout``: the video's ``timeline_layout`` (worked out here when not given)."""
    from matplotlib import rc_context

    bins = min(BINS, max(1, len(times_s)))
    centres, means = binned(times_s, probs, duration_s, bins)
    half = duration_s / bins / 2
    with rc_context(_RC):
        fig, ax = _timeline_axes(duration_s, cuts_s)
        for a, b in _segments(~np.isnan(means[:, 0])):
            # Each run of slices spans its slices' edges, so one slice still shows as a band.
            x = np.concatenate([[centres[a] - half], centres[a:b], [centres[b - 1] + half]])
            y = np.concatenate([means[a:a + 1], means[a:b], means[b - 1:b]])
            ax.stackplot(x, y.T, colors=colors, linewidth=0)
        left, bottom, right, top = layout or timeline_layout(duration_s, cuts_s)
        fig.subplots_adjust(left=left, bottom=bottom, right=right, top=top)
        return _svg(fig)


def shares_svg(faces: Sequence[str], shares: np.ndarray, class_names: Sequence[str],
               colors: Sequence[str]) -> str:
    """Each face's share of time per emotion (its top label, frame by frame), as one bar."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_RC):
        fig = Figure(figsize=(9, 0.9 + 0.32 * len(faces)))
        ax = fig.add_subplot()
        left = np.zeros(len(faces))
        y = np.arange(len(faces))
        for c, name in enumerate(class_names):
            ax.barh(y, shares[:, c], left=left, color=colors[c], label=name, height=0.7)
            left += shares[:, c]
        ax.set_yticks(y, faces)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of the face's time on screen")  # the page's legend names colours
        fig.tight_layout(pad=0.3)
        return _svg(fig)
