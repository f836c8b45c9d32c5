"""``<output>/report.html``, the run report written by the pooling step: the pooled results per type under the
run's matching rule and selection, F1 by epoch per fold and pooled, and one row per test video with its TP /
FP / FN and its timeline at the fold's selected epoch (apex scores, ground truth, kept proposals, matched or
not), sortable by errors and filtered by subject and type.

Per-video counts are pooling's (``video_counts.csv``, utils.metrics.video_counts: the run's rule counting the
video's rows alone), and so are the rows: one per video pooling counted. Every rule but ``megc`` compares only
within a video, so they add up to the fold's ``best_res.csv`` (megc leaves out a subject's type as a whole, so
there the fold's counts are the reference and the page says so). The timelines' matched or not are the same
rule's flags.

F1 by epoch counts as the evaluation and ``final_info.json`` do (utils.metrics.summed_epoch_metrics): over the
epochs any fold has proposals in, an epoch without proposals in a fold counts TP 0, N 0 and that fold's M (as
the evaluation records it in ``m_without_proposals``: the fold's rule counting no proposal against its ground
truth), for the fold's own line and for the pooled one.

Tables are read with the evaluation's readers, so names stay text (a video named ``001`` stays ``001``).

A video row links to its preview when the caller gives one (pipeline/report.py writes ``previews/<video>.webm``
where the raw frames are known; the link URL-encoded).

Contract for other checks: every video row carries ``data-video`` with the video's name.
"""
from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES, subject_ground_truth
from utils.layout import FoldLayout, RunLayout
from utils.matching import MATCHING_RULES, true_positive_flags, truth_found_flags
from utils.metrics import read_epoch_metrics, read_eval_info, read_video_counts, selected_kept, summed_epoch_metrics
from utils.review.page import write_page

F1_GROUPS = ("micro", "macro", "all")  # the curves drawn, by their epoch_metrics.csv prefix


def _eval_info(output: Path, subject: str) -> dict:
    """The fold's eval_info.json (pipeline.final_results has pooled it)."""
    return read_eval_info(FoldLayout.of(output, subject).eval_info)


def _rule(info: dict) -> str:
    return info.get("matching", "published")


def _f1_by_epoch(output: Path, folds: dict[str, tuple[dict, pd.DataFrame]]) -> dict:
    """F1 per epoch, by group, per fold and pooled over the folds, over the epochs any fold has proposals in;
    every count by utils.metrics.summed_epoch_metrics from the fold's epoch_metrics.csv and the M its evaluation
    recorded for an epoch without proposals (eval_info's ``m_without_proposals``), as the final model's epoch is
    chosen. ``folds``: per subject, its eval_info and ground truth."""
    parts = {}
    for subject, (info, _) in folds.items():
        layout = FoldLayout.of(output, subject)
        if layout.epoch_metrics.is_file():
            parts[subject] = (read_epoch_metrics(layout.epoch_metrics), info["m_without_proposals"])
    epochs = sorted({int(e) for table, _ in parts.values() for e in table["epoch"]})

    def curves(summed: pd.DataFrame) -> dict:
        return {"epochs": epochs, **{g: summed[f"{g}_f1"].astype(float).round(4).tolist() for g in F1_GROUPS}}

    return {"folds": {s: curves(summed_epoch_metrics([part], epochs)) for s, part in parts.items()},
            "pooled": curves(summed_epoch_metrics(list(parts.values()), epochs))}


def _fold_videos(output: Path, subject: str, info: dict, truth: pd.DataFrame, counted: pd.DataFrame) -> list[dict]:
    """The fold's test videos at its selected epoch: counts per type (``counted``: the fold's rows of
    video_counts.csv), tracks, truth and kept proposals."""
    layout = FoldLayout.of(output, subject)
    epoch, rule = info.get("selected_epoch"), _rule(info)
    kept = selected_kept(layout, epoch)
    tracks = {}
    if epoch is not None and layout.selected_scores.is_file():
        with np.load(layout.selected_scores) as archive:
            for key in archive.files:
                video, name = key.rsplit(":", 1)
                tracks.setdefault(video, {})[name] = np.round(archive[key].astype(np.float64), 3).tolist()
    videos = []
    for video, rows in counted.groupby("video", sort=False):
        mine = kept[kept["video_name"] == video].reset_index(drop=True)
        gt = truth[truth["video_name"] == video].reset_index(drop=True)
        hit, found = true_positive_flags(mine, gt, rule), truth_found_flags(mine, gt, rule)
        videos.append({
            "video": video, "subject": subject, "epoch": epoch, "frame_shift": int(info.get("frame_shift", 1)),
            "counts": {r.type: {"tp": int(r.tp), "fp": int(r.fp), "fn": int(r.fn), "n": int(r.tp + r.fp),
                                "m": int(r.tp + r.fn)} for r in rows.itertuples()},
            "tracks": tracks.get(video, {}),
            "truth": [{"row": i, "type": EXPRESSION_TYPES[int(r.type_idx)], "start": int(r.start_frame),
                       "end": int(max(r.end_frame, r.start_frame)), "matched": bool(found[i])}
                      for i, r in enumerate(gt.itertuples()) if int(r.type_idx) in EXPRESSION_TYPES],
            "spots": [{"row": i, "type": EXPRESSION_TYPES[int(r.type_idx)], "start": int(r.start_frame),
                       "end": int(r.end_frame), "score": float(r.score), "matched": bool(hit[i])}
                      for i, r in enumerate(mine.itertuples())],
            "preview": None})
    return videos


def _results_table(table: pd.DataFrame) -> str:
    rows = "".join(f"<tr><td class=\"text\">{html.escape(str(name))}</td><td>{int(r.tp)}</td><td>{int(r.fp)}</td>"
                   f"<td>{int(r.fn)}</td><td>{r.precision:.4f}</td><td>{r.recall:.4f}</td><td>{r.f1:.4f}</td></tr>"
                   for name, r in table.iterrows())
    return ("<table id=\"results\"><thead><tr><th class=\"text\">type</th><th>TP</th><th>FP</th><th>FN</th>"
            f"<th>precision</th><th>recall</th><th>F1</th></tr></thead><tbody>{rows}</tbody></table>")


def _video_rows(videos: list[dict]) -> str:
    rows = []
    for index, video in enumerate(videos):
        counts = video["counts"]
        cells = "".join(f"<td class=\"{t}\">{counts[t][k]}</td>" for t in ("micro", "macro") for k in ("tp", "fp", "fn"))
        # '#', '?' and '%' are literal in a file name: the link encodes them
        link = (f"<a href=\"{html.escape(quote(video['preview']))}\">preview</a>" if video["preview"] else "")
        rows.append(f"<tr data-video=\"{html.escape(video['video'])}\" data-subject=\"{html.escape(video['subject'])}\" "
                    f"data-index=\"{index}\"><td class=\"text\">{html.escape(video['video'])}<br>{link}</td>"
                    f"<td class=\"text\">{html.escape(video['subject'])}</td><td>{video['epoch']}</td>{cells}"
                    f"<td class=\"errors\"></td><td class=\"timeline-cell\"><div class=\"timeline\"></div></td></tr>")
    return "".join(rows)


def write_run_page(output: Path, subjects: list[str], table: pd.DataFrame, document: dict,
                   annotations: pd.DataFrame, ratio_scale: int = 1, previews: dict[str, str] | None = None,
                   notes: list[str] | None = None) -> Path:
    """Write ``<output>/report.html`` (atomically) from the pooled ``table``, ``document`` and per-video counts
    (``video_counts.csv``) of pipeline/final_results.py and the annotation table the folds were evaluated with.
    ``previews``: a video's preview, relative to ``output``; ``notes``: lines shown above the results."""
    output = Path(output)
    folds = {s: (_eval_info(output, s), subject_ground_truth(annotations, s, ratio_scale)) for s in subjects}
    counted = read_video_counts(RunLayout(output).video_counts)
    videos = [v for s, (info, truth) in folds.items()
              for v in _fold_videos(output, s, info, truth, counted[counted["subject"] == s])]
    for video in videos:
        video["preview"] = (previews or {}).get(video["video"])
    notes = list(notes or [])
    if not MATCHING_RULES[document["matching"]].counts_add_up_per_video:
        notes.append(f"{document['matching']} leaves out a subject's type with no prediction as a whole: per-video "
                     "counts need not add up to the fold's best_res.csv here.")
    options = "".join(f"<option value=\"{html.escape(s)}\">{html.escape(s)}</option>" for s in subjects)
    body = f"""<h1>LOSO run: {len(subjects)} fold(s), {len(videos)} test video(s)</h1>
<p class="meta">{html.escape(str(output))} &middot; matching: {html.escape(str(document['matching']))} &middot;
selection: {html.escape(str(document['selection']))}</p>
{''.join(f'<p class="note">{html.escape(n)}</p>' for n in notes)}
<h2>Results</h2>{_results_table(table)}
<h2>F1 by epoch (grey: each fold on its test subject; black: pooled over the folds)</h2>
<div id="f1-charts"></div>
<h2>Test videos at the selected epoch</h2>
<div class="controls"><label>subject <select id="subject-filter"><option value="">all</option>{options}</select></label>
<label>type <select id="type-filter"><option value="">all</option><option value="micro">micro</option><option value="macro">macro</option></select></label>
<label>sort <select id="sort"><option value="name">by name</option><option value="errors">by errors (FP + FN)</option></select></label>
<span class="legend"><span><i class="swatch" style="background:#2ca02c"></i>matched</span>
<span><i class="swatch" style="background:#d62728"></i>not matched</span></span></div>
<table id="videos"><thead><tr><th class="text">video</th><th class="text">subject</th><th>epoch</th>
<th>micro TP</th><th>micro FP</th><th>micro FN</th><th>macro TP</th><th>macro FP</th><th>macro FN</th>
<th>errors</th><th class="text">timeline (frames)</th></tr></thead><tbody>{_video_rows(videos)}</tbody></table>"""
    data = {"videos": videos, "f1_by_epoch": _f1_by_epoch(output, folds), "matching": document["matching"]}
    return write_page(RunLayout(output).report, "LOSO run report", body, data, ["timeline.js", "run_page.js"])
