"""``report.html`` beside ``spots.csv``: the recording's preview, a timeline of its per-frame start / apex / end
probabilities with the thresholds, spotted intervals, ground truth and face-lost stretches, and the table of
intervals. Built from a :class:`SpotReview`, the data the spot step already has.

For recordings of an interview's length the timeline zooms and pans (wheel, drag, buttons, keys + - 0), an
overview strip above it shows the whole recording with the part in view boxed, and buttons and keys n / p move
between the intervals.

Contract for other checks: one ``<video>``; every interval element of the timeline and the table carries
``data-spot`` = its ``spots.csv`` row (from 0); every ground-truth bar carries ``data-truth`` = its row in the
recording's ground truth (from 0); ``#timeline`` carries ``data-view`` = the seconds in view, ``"<begin> <end>"``;
the overview's marks are in ``#overview`` and carry no ``data-spot``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES
from utils.review.page import write_page

TYPE_NAMES = tuple(EXPRESSION_TYPES.values())
TRUTH_COLUMNS = ("type", "onset_frame", "apex_frame", "offset_frame", "onset_s", "offset_s", "matched")


@dataclass
class SpotReview:
    """What the spot page shows of one input. Seconds are the input's own (frame ``k`` of a video at ``k / fps``).

    ``times`` (T,) seconds of the track samples; ``start``, ``apex``, ``end``: per type name (macro, micro) a (T,)
    probability track; ``thresholds``: the apex threshold per type name; ``lost`` and ``unreadable``:
    ``(begin, end)`` seconds of face-lost and of unreadable stretches; ``spots``: the ``spots.csv`` table;
    ``spot_matched``: (len(spots),) bool under the run's matching rule, or None without ground truth;
    ``truth``: TRUTH_COLUMNS in the input's numbering, or None; ``video``: the preview's file name beside the
    page, or None; ``notes``: lines shown at the top (why there is no video, no ground truth, ...).
    """

    name: str
    input_path: str
    fps: float
    duration: float
    times: np.ndarray
    start: dict[str, np.ndarray]
    apex: dict[str, np.ndarray]
    end: dict[str, np.ndarray]
    thresholds: dict[str, float]
    spots: pd.DataFrame
    lost: list[tuple[float, float]] = field(default_factory=list)
    unreadable: list[tuple[float, float]] = field(default_factory=list)
    spot_matched: np.ndarray | None = None
    truth: pd.DataFrame | None = None
    video: str | None = None
    notes: list[str] = field(default_factory=list)
    matching: str | None = None


def _rounded(values: np.ndarray) -> list[float]:
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()


def page_data(review: SpotReview) -> dict:
    """The page's JSON: plain lists and numbers."""
    spots = []
    for row, spot in enumerate(review.spots.itertuples(index=False)):
        spots.append({"row": row, "type": str(spot.type), "onset_frame": int(spot.onset_frame),
                      "apex_frame": int(spot.apex_frame), "offset_frame": int(spot.offset_frame),
                      "onset_s": float(spot.onset_s), "offset_s": float(spot.offset_s),
                      "apex_s": float(spot.apex_s),
                      "score": float(spot.score),
                      "matched": None if review.spot_matched is None else bool(review.spot_matched[row])})
    truth = None
    if review.truth is not None:
        truth = [{"row": row, "type": str(t.type), "onset_frame": int(t.onset_frame), "apex_frame": int(t.apex_frame),
                  "offset_frame": int(t.offset_frame), "onset_s": float(t.onset_s), "offset_s": float(t.offset_s),
                  "matched": bool(t.matched)} for row, t in enumerate(review.truth.itertuples(index=False))]
    return {"name": review.name, "fps": float(review.fps), "duration": float(review.duration),
            "times": _rounded(review.times),
            "tracks": {t: {"start": _rounded(review.start[t]), "apex": _rounded(review.apex[t]),
                           "end": _rounded(review.end[t])} for t in TYPE_NAMES},
            "thresholds": {t: float(review.thresholds[t]) for t in TYPE_NAMES},
            "lost": [list(map(float, s)) for s in review.lost],
            "unreadable": [list(map(float, s)) for s in review.unreadable],
            "spots": spots, "truth": truth, "video": review.video}


def page_body(review: SpotReview) -> str:
    """The page's static markup; the script fills the timeline and the table from the data."""
    escape = html.escape
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in review.notes)
    video = (f'<video controls preload="auto" src="{escape(review.video)}"></video>' if review.video else "")
    matched = "" if review.spot_matched is None else f", matched under the {escape(str(review.matching))} rule"
    truth = (f"; ground truth: {len(review.truth)} expression(s)" if review.truth is not None else "")
    return f"""<h1>{escape(review.name)}: {len(review.spots)} spotted interval(s)</h1>
<p class="meta">{escape(review.input_path)} &middot; {review.fps:g} fps &middot; {review.duration:.2f} s{truth}{matched}</p>
{notes}{video}
<div class="controls">
<label><input type="checkbox" id="show-start-end"> start and end probabilities</label>
<span class="legend"><span><i class="swatch type-macro"></i>macro</span><span><i class="swatch type-micro"></i>micro</span>
<span><i class="swatch lost"></i>face lost</span><span><i class="swatch unreadable"></i>unreadable</span>
<span>dashed lines: apex thresholds; &#10003; matched, &#10007; not</span></span>
</div>
<div class="controls">
<button type="button" id="prev-spot" title="previous interval (key p)">&#9664; previous</button>
<button type="button" id="next-spot" title="next interval (key n)">next &#9654;</button>
<span class="meta" id="spot-position"></span>
<button type="button" id="zoom-in" title="zoom in (key +)">+</button>
<button type="button" id="zoom-out" title="zoom out (key -)">&minus;</button>
<button type="button" id="zoom-all" title="the whole recording (key 0)">whole</button>
<span class="meta" id="view-range"></span>
</div>
<p class="meta">The strip shows the whole recording: click it to go there, drag its box to pan. Below it, wheel or
+ / - zoom and dragging pans; click an interval to go to its onset, or anywhere else to go to that time.</p>
<div class="timeline overview" id="overview"></div>
<div class="timeline" id="timeline"></div>
<h2>Intervals</h2>
<table id="spots-table"><thead><tr><th class="text">type</th><th>onset</th><th>apex</th><th>offset</th>
<th>onset (s)</th><th>apex (s)</th><th>offset (s)</th><th>score</th><th class="text">matched</th></tr></thead>
<tbody></tbody></table>"""


def write_spot_page(path: Path, review: SpotReview) -> Path:
    """Write the spot page of ``review`` to ``path`` (atomically)."""
    return write_page(path, f"{review.name}: spotted intervals", page_body(review), page_data(review),
                      ["timeline.js", "spot_page.js"])
