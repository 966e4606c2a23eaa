"""The report of a run (``NAME.emocam.html``): one self-contained HTML file to look at a
run's results without opening its CSV.

It says what ran (model and its accuracy, detector, provider, settings), and for each face
when it was on screen, its share of time per emotion, how much of it was uncertain, its
emotion timeline over the whole video (shot cuts marked) and, when the run keeps frames, a
thumbnail at its most confident moment. Every number is the JSON summary's (the report is
written from it); the plots come from ``emocam.report_plots``, the per-frame series from
``emocam.report_data``. Nothing in it is fetched: styles are inline, plots are inline SVG,
thumbnails are ``data:`` JPEGs.
"""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path
from typing import Any

import numpy as np

from emocam import atomic
from emocam.errors import OutputError
from emocam.report_data import ReportCollector, Thumbnail
from emocam.report_plots import Layout, class_colors, shares_svg, timeline_layout, timeline_svg
from emocam.staging import no_space_hint

log = logging.getLogger(__name__)

MAX_SECTIONS = 100  # faces with a section of their own; the others are a table's rows

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 980px;
       color: #222; padding: 0 1em; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.face { border-top: 1px solid #ddd; padding-top: .6em; margin-top: 1.2em; }
.face img { float: right; margin: 0 0 .5em 1em; border-radius: 4px; }
.swatch { display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 .8em;
          vertical-align: -1px; }
.note { color: #666; }
svg { max-width: 100%; height: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def _accuracy(summary: dict[str, Any]) -> str:
    acc = summary.get("model_accuracy") or {}
    if acc.get("test_accuracy") is None:
        return "not recorded with this run"
    where = ", ".join(str(v) for v in (acc.get("test_set"), acc.get("test_protocol"))
                      if v)
    images = f", {acc['test_images']} images" if acc.get("test_images") else ""
    return f"{_pct(acc['test_accuracy'])} ({where}{images})" if where else _pct(
        acc["test_accuracy"])


def _completed(summary: dict[str, Any]) -> str:
    if summary.get("recorded_completed") is False:  # a re-analysis of a stopped run
        return "no: the run re-analysed had stopped before the end"
    if not summary.get("completed"):
        return "no: stopped before the end"
    return "yes"


def _photo_rows(summary: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A folder's photos that gave no faces, or fewer than they hold, by name and why
    (the JSON summary's account of them)."""
    reasons = summary.get("photos_skipped_reasons") or {}
    # A summary from before reasons were kept names the photos only.
    skipped = [f"{n} ({reasons[n]})" if n in reasons else n
               for n in summary.get("photos_skipped") or []]
    return [
        ("photos that could not be read", "; ".join(skipped) or None),
        ("animations, their first picture only read",
         ", ".join(summary.get("photos_first_picture_only") or []) or None),
        ("photos without a face", ", ".join(summary.get("photos_without_faces") or []) or None),
    ]


def _what_ran(summary: dict[str, Any]) -> str:
    rows = [
        ("input", summary.get("input")),
        ("completed", _completed(summary)),
        # A video cut short: "completed" says it was read to its end, which came early.
        # (A folder's unreadable photos have their own row.)
        ("input could not be read whole", None if summary.get("photos_skipped")
         else summary.get("input_warning") or None),
        ("model", summary.get("model")),
        ("model accuracy", _accuracy(summary)),
        ("detector", summary.get("detector")),
        ("provider", summary.get("provider")),
        ("smoothing", f"{summary.get('smoothing_tau_s')} s"),
        ("detection threshold", summary.get("min_score")),
        ("uncertain below", summary.get("uncertain_below")),
        ("target frame rate", "not recorded with this run" if "target_fps" not in summary
         else summary["target_fps"] or "none (every frame detected)"),
        ("frames", f"{summary.get('frames')} ({summary.get('frames_with_faces')} with faces)"),
        ("speed", f"{summary.get('fps_achieved')} fps" if summary.get("fps_achieved")
         else None),
        ("shots", len(summary.get("shots") or []) or None),
        *_photo_rows(summary),
    ]
    if summary.get("reanalysed_from"):
        rows.append(("re-analysed from", summary["reanalysed_from"]))
        if summary.get("label_map"):
            rows.append(("label map", ", ".join(f"{k}={v}"
                                                for k, v in summary["label_map"].items())))
    privacy = summary.get("privacy") or {}
    kept = ("frames written" if privacy.get("frames_written") else "no frames written")
    if privacy.get("blur_faces"):
        kept += ", faces blurred"
    if privacy.get("boxes_only"):
        kept += ", boxes only (no camera pixels)"
    rows.append(("privacy", kept))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows
                   if v is not None)
    return f"<h2>What ran</h2><table>{body}</table>"


def _legend(names: list[str], colors: list[str]) -> str:
    return "<p>" + "".join(f'<span class="swatch" style="background:{c}"></span>{_e(n)}'
                           for n, c in zip(names, colors, strict=True)) + "</p>"


def _thumb(thumb: Thumbnail | None) -> str:
    if thumb is None:
        return ""
    data = base64.b64encode(thumb.jpeg).decode("ascii")
    return (f'<img alt="the face at its most confident moment" width="{thumb.width}" '
            f'height="{thumb.height}" src="data:image/jpeg;base64,{data}">')


def _face_section(fid: str, face: dict[str, Any], summary: dict[str, Any],
                  data: ReportCollector | None, colors: list[str], duration_s: float,
                  cuts_s: list[float], layout: Layout) -> str:
    names = summary["class_names"]
    series = data.faces.get(int(fid)) if data is not None else None
    frames = face["frames"]
    uncertain_share = face["uncertain_frames"] / frames if frames else 0.0
    reasons = ", ".join(f"{k}: {v}" for k, v in face.get("uncertain_reasons", {}).items())
    head = [
        f'<div class="face" id="face-{_e(fid)}" data-face="{_e(fid)}">',
        _thumb(series.thumbnail if series is not None else None),
        f"<h2>Face {_e(fid)}: mostly {_e(face['top_label'])}</h2>",
        "<table>",
        # A folder's face is in one photo: its name says where, a made-up time would not.
        (f"<tr><th>photo</th><td>{_e(face['file'])}</td></tr>" if "file" in face else
         f"<tr><th>on screen</th><td>{_seconds(face['first_time_ms'])} to "
         f"{_seconds(face['last_time_ms'])} (shot {_e(face['shot'])}, "
         f'<span data-key="frames" data-value="{frames}">{frames}</span> frames)</td></tr>'),
        f'<tr><th>uncertain</th><td><span data-key="uncertain_share" '
        f'data-value="{uncertain_share!r}">{_pct(uncertain_share)}</span> of its frames'
        f"{f' ({_e(reasons)})' if reasons else ''}</td></tr>",
        "</table>",
        "<table><tr><th>emotion</th><th>share of time</th><th>mean probability</th></tr>",
    ]
    for n in names:
        share, mean = face["share_of_time"][n], face["mean_probabilities"][n]
        head.append(
            f"<tr><td>{_e(n)}</td>"
            f'<td class="num" data-key="share_of_time.{_e(n)}" data-value="{share!r}">'
            f"{_pct(share)}</td>"
            f'<td class="num" data-key="mean_probabilities.{_e(n)}" data-value="{mean!r}">'
            f"{_pct(mean)}</td></tr>")
    head.append("</table>")
    if series is not None and summary.get("input_kind") in ("video", "camera"):
        head.append(timeline_svg(series.times_s, series.probs, duration_s, cuts_s, colors,
                                 layout))
    head.append("</div>")
    return "\n".join(head)


def _with_sections(faces: dict[str, Any]) -> list[str]:
    """The faces that get a section of their own (thumbnail, table, timeline), in id order:
    the ``MAX_SECTIONS`` seen longest. A 20-minute run whose tracker started 3,438 faces
    (people leaving and coming back, faces lost for a frame) took 168 s and 1.2 GB to write
    a 59 MB page; a folder gives one face per photo."""
    if len(faces) <= MAX_SECTIONS:
        return list(faces)
    longest = sorted(faces, key=lambda f: -int(faces[f].get("frames") or 0))[:MAX_SECTIONS]
    chosen = set(longest)
    return [f for f in faces if f in chosen]


def _other_faces(ids: list[str], faces: dict[str, Any]) -> str:
    rows = []
    for fid in ids:
        face = faces[fid]
        where = (_e(face["file"]) if "file" in face else
                 f"{_seconds(face['first_time_ms'])} to {_seconds(face['last_time_ms'])}")
        rows.append(f'<tr id="face-{_e(fid)}"><td>{_e(fid)}</td><td>{where}</td>'
                    f'<td class="num">{_e(face["frames"])}</td>'
                    f"<td>{_e(face['top_label'])}</td></tr>")
    return (f"<h2>Other faces ({len(ids)})</h2><table><tr><th>face</th><th>"
            f"{'photo' if 'file' in faces[ids[0]] else 'on screen'}</th><th>frames</th>"
            f"<th>mostly</th></tr>{''.join(rows)}</table>")


def render_report(summary: dict[str, Any], data: ReportCollector | None) -> str:
    """The whole page, from the run's JSON summary and its per-frame series."""
    names = list(summary["class_names"])
    colors = class_colors(names)
    faces = summary.get("faces", {})
    shots = summary.get("shots") or []
    cuts_s = [s["first_time_ms"] / 1000 for s in shots[1:]]
    duration_s = data.last_time_s if data is not None else 0.0
    title = f"emocam report: {Path(str(summary.get('input', ''))).name}"
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _what_ran(summary),
        f"<h2>Faces ({len(faces)})</h2>",
    ]
    if faces:
        ids = _with_sections(faces)
        shares = np.array([[faces[f]["share_of_time"][n] for n in names] for f in ids])
        parts.append(_legend(names, colors))
        parts.append(shares_svg([f"face {f}" for f in ids], shares, names, colors))
        # Said as the numbers are made (JsonSummary): by duration, not by frame count, which
        # differ on a variable-rate video.
        parts.append('<p class="note">Share of time: for how much of its time on screen each '
                     "emotion was the face's top label, each frame counted for as long as it "
                     "is shown (a variable-rate video's frames do not last alike). Timelines: "
                     "the smoothed probabilities, stacked, over the whole video; a gap is time "
                     "off screen.</p>")
        shown = set(ids)
        others = [f for f in faces if f not in shown]
        if others:
            # A folder's faces are one photo each: none is seen longer than another.
            which = ("first" if summary.get("input_kind") in ("folder", "image")
                     else "seen longest")
            parts.append(f'<p class="note">The {len(ids)} faces {which} have a section each; '
                         f"the other {len(others)} are listed at the end. Every face is in "
                         "the JSON summary and the CSV.</p>")
        layout = timeline_layout(duration_s, cuts_s)
        parts += [_face_section(f, faces[f], summary, data, colors, duration_s, cuts_s,
                                layout) for f in ids]
        if others:
            parts.append(_other_faces(others, faces))
    else:
        parts.append("<p>No face was found.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: Path, summary: dict[str, Any], data: ReportCollector | None) -> None:
    """Write the report atomically (a reader never sees half a page)."""
    text = render_report(summary, data)
    try:
        atomic.write_text(path, text)
    except OSError as e:
        raise OutputError(f"The report {path} could not be written ({no_space_hint(e)}).") from e
