"""Plots of a LOSO run, under ``<output>/plots/``.

python -m utils.plots --dataset D --output DIR --subjects S1 S2 ... [--config FILE]

* ``f1_by_epoch.png``: micro / macro / overall F1 per epoch, each fold thin, the
  mean over folds bold (epochs without proposals count as F1 0 in the mean).
* ``timelines/<subject>/<video>.png``: per video, the selected epoch's apex scores
  (micro, macro), the ground-truth intervals and the spotted intervals (green when
  counted as true positives under the fold's matching rule, red otherwise).

Also spot.py's ``timeline.png`` of a new recording (:func:`plot_spot_timeline`, in rows of
:data:`TIMELINE_ROW_SECONDS` so that a printed hour stays readable) and the protocol table's bars
(:func:`plot_protocol_table`).

Every text is drawn as written: names come from users (``a$\\x$b`` is a valid file name), and matplotlib would
otherwise parse text between dollar signs as a formula.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
# Figure objects without pyplot: they render to files with no backend, so importing this module never
# switches the backend of the process that imports it (no matplotlib.use()).
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MultipleLocator

from utils.annotations import EXPRESSION_TYPES, MACRO, MICRO, read_annotation_table, subject_ground_truth
from utils.errors import exit_process, run_cli
from utils.indexing import PROPOSAL_FRAME_SHIFT
from utils.io import atomic_path
from utils.layout import FoldLayout, RunLayout
from utils.matching import true_positive_flags
from utils.metrics import SCORE_ROWS, read_epoch_metrics, read_eval_info, scored_videos, selected_kept
from utils.names import check_path_name

TYPE_COLOURS = {MICRO: "tab:orange", MACRO: "tab:blue"}  # every plot of scores or spans, per type_idx
# Lanes of a video timeline: ground-truth spans above the scores, spotted spans below, one lane a type.
TRUTH_LANE = {MICRO: 1.16, MACRO: 1.08}
SPOT_LANE = {MICRO: -0.22, MACRO: -0.14}
# timeline.png: seconds a row shows. At 2 minutes a 0.3-s micro-expression is still 2 px wide, and an hour
# prints as 30 rows.
TIMELINE_ROW_SECONDS = 120.0
TIMELINE_WIDTH_INCHES = 12.0  # a landscape page


def _save(figure, path: Path, dpi: int = 110) -> Path:
    """``figure`` as a PNG at ``path`` (atomic), every text drawn literally (no math text: see the module)."""
    for text in figure.findobj(Text):
        text.set_parse_math(False)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def plot_f1_by_epoch(output: Path, subjects: list[str]) -> Path | None:
    """F1 per epoch for every fold and the mean over folds; None when no fold has metrics."""
    tables = {s: read_epoch_metrics(FoldLayout.of(output, s).epoch_metrics) for s in subjects
              if FoldLayout.of(output, s).epoch_metrics.is_file()}
    if not tables:
        return None
    epochs = np.unique(np.concatenate([t["epoch"].to_numpy() for t in tables.values()]))
    figure = Figure(figsize=(15, 4))
    axes = figure.subplots(1, 3, sharey=True)
    for axis, group in zip(axes, ("micro", "macro", "all")):
        stacked = np.zeros((len(tables), len(epochs)))
        for row, table in enumerate(tables.values()):
            axis.plot(table["epoch"], table[f"{group}_f1"], color="0.75", linewidth=0.7)
            stacked[row, np.searchsorted(epochs, table["epoch"])] = table[f"{group}_f1"]
        axis.plot(epochs, stacked.mean(axis=0), color="black", linewidth=2, label=f"mean over {len(tables)} folds")
        axis.set_title(f"{'overall' if group == 'all' else group} F1 by epoch")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("F1 (per fold, on its test subject)")
    axes[0].legend(loc="upper left")
    return _save(figure, RunLayout(output).f1_plot)


def plot_protocol_table(path: Path, runs: dict[str, dict], title: str) -> Path:
    """Grouped bars of a protocol table (pipeline/protocol_table.py): per type, one bar a protocol and scope, the
    mean F1 over seeds with its sample sd as an error bar. ``runs``: ``"selection | scope"`` -> seed_results.json."""
    types = SCORE_ROWS
    figure = Figure(figsize=(9, 3.6))
    axis = figure.subplots()
    width = 0.8 / len(runs)
    for i, (name, document) in enumerate(runs.items()):
        means = [document["f1"][t]["mean"] for t in types]
        sds = [np.nan if document["f1"][t]["std"] is None else document["f1"][t]["std"] for t in types]  # 1 seed: none
        axis.bar(np.arange(len(types)) + (i - (len(runs) - 1) / 2) * width, means, width, yerr=sds, capsize=3,
                 label=name.replace(" | ", ", adjacency "), hatch="//" if name.startswith("best-on-test") else None)
    axis.set_xticks(np.arange(len(types)), types)
    axis.set_ylim(0, 1)
    axis.set_ylabel("pooled F1 (mean ± sd over seeds)")
    axis.set_title(title)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(figure, path)


def plot_video_timeline(video: str, scores: dict[int, np.ndarray], frame_shift: int, truth: pd.DataFrame,
                        spotted: pd.DataFrame, path: Path) -> Path:
    """One video: apex score tracks, ground-truth spans (top lanes) and spotted spans (bottom lanes).

    ``spotted`` has a boolean ``matched`` column: true positive under the fold's matching rule.
    """
    figure = Figure(figsize=(14, 3.2))
    axis = figure.subplots()
    for type_idx, name in EXPRESSION_TYPES.items():
        track, colour = scores[type_idx], TYPE_COLOURS[type_idx]
        axis.plot(np.arange(len(track)) + frame_shift, track, color=colour, linewidth=0.8, label=f"{name} apex score")
        gt = truth[truth["type_idx"] == type_idx]
        for start, end in gt[["start_frame", "end_frame"]].to_numpy():
            if end > start:
                axis.broken_barh([(start, end - start)], (TRUTH_LANE[type_idx], 0.06), color=colour, alpha=0.8)
        found = spotted[spotted["type_idx"] == type_idx]
        for (start, end), hit in zip(found[["start_frame", "end_frame"]].to_numpy(), found["matched"].to_numpy()):
            axis.broken_barh([(start, end - start)], (SPOT_LANE[type_idx], 0.06),
                             color="tab:green" if hit else "tab:red", alpha=0.9)
    axis.axhline(0.5, color="0.5", linestyle=":", linewidth=0.8)
    axis.set_ylim(-0.26, 1.26)
    axis.set_yticks([-0.19, -0.11, 0, 0.5, 1, 1.11, 1.19],
                    ["spotted micro", "spotted macro", "0", "0.5", "1", "truth macro", "truth micro"])
    axis.set_xlabel("frame")
    axis.set_title(f"{video}: apex scores, ground truth (top) and spotted intervals (bottom: green TP, red FP)")
    axis.legend(loc="upper right", fontsize=8)
    return _save(figure, path)


def timeline_rows(duration: float, row_seconds: float = TIMELINE_ROW_SECONDS) -> list[tuple[float, float]]:
    """``(begin, end)`` seconds of each row of a spot timeline: one row for a recording up to ``row_seconds``
    long, else rows of ``row_seconds`` each, on one scale (the last row may end after the recording)."""
    if duration <= row_seconds:
        return [(0.0, max(float(duration), 1e-3))]
    return [(k * row_seconds, (k + 1) * row_seconds) for k in range(int(np.ceil(duration / row_seconds)))]


def _clock(seconds: float, _position=None) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    whole = int(round(seconds))
    hours, minutes, rest = whole // 3600, whole // 60 % 60, whole % 60
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def plot_spot_timeline(path: Path, title: str, duration: float, seconds: np.ndarray, apex: dict[int, np.ndarray],
                       action: dict[int, np.ndarray] | None, spans: list[tuple[float, float, str]],
                       lost: list[tuple[float, float]]) -> Path:
    """A spotted recording of ``duration`` seconds, in rows (:func:`timeline_rows`): apex (solid) and action
    (dashed) scores per type (``seconds`` (R,) and each track (R,), per feature row), the spotted
    ``(onset_s, offset_s, type name)`` spans shaded, and the face-lost ``(begin_s, end_s)`` stretches (no face
    found, or the frame unreadable) hatched."""
    colours = {EXPRESSION_TYPES[t]: colour for t, colour in TYPE_COLOURS.items()}
    rows = timeline_rows(duration)
    # Laid out when saved: after _save has made every text literal (laying out measures the texts).
    height = 3.2 if len(rows) == 1 else 0.6 + 1.3 * len(rows)
    figure = Figure(figsize=(TIMELINE_WIDTH_INCHES, height), layout="constrained")
    axes = np.atleast_1d(figure.subplots(len(rows), 1, squeeze=False)[:, 0])
    for row, (axis, (begin, end)) in enumerate(zip(axes, rows)):
        first, last = np.searchsorted(seconds, [begin, end])
        shown = slice(max(first - 1, 0), last + 1)  # one sample beyond each end: the line reaches the row's edges
        for type_idx, name in EXPRESSION_TYPES.items():
            colour = TYPE_COLOURS[type_idx]
            axis.plot(seconds[shown], apex[type_idx][shown], color=colour, linewidth=0.9, label=f"{name} apex")
            if action is not None:
                axis.plot(seconds[shown], action[type_idx][shown], color=colour, linewidth=0.7, linestyle="--",
                          alpha=0.7, label=f"{name} action")
        for onset, offset, name in spans:
            if onset < end and offset >= begin:
                axis.axvspan(onset, offset, color=colours[name], alpha=0.25)
        for number, (lost_begin, lost_end) in enumerate(lost):
            if lost_begin < end and lost_end > begin:
                axis.axvspan(lost_begin, lost_end, facecolor="none", edgecolor="0.3", hatch="//",
                             label="face lost / unreadable" if number == 0 else None)
        axis.axhline(0.5, color="0.5", linestyle=":", linewidth=0.8)
        axis.set_xlim(begin, end)
        axis.set_ylim(-0.02, 1.02)
        axis.set_ylabel("score")
        if len(rows) > 1:
            axis.xaxis.set_major_locator(MultipleLocator(TIMELINE_ROW_SECONDS / 8))
            axis.xaxis.set_major_formatter(FuncFormatter(_clock))
        if row == 0:
            axis.set_title(f"{title}: apex/action scores, spotted intervals shaded (orange micro, blue macro)")
            axis.legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1].set_xlabel("time (s)" if len(rows) == 1 else "time (m:ss)")
    return _save(figure, path, dpi=80)


def plot_fold_timelines(output: Path, subject: str, annotations: pd.DataFrame) -> list[Path]:
    """Timelines of every video of one fold at its selected epoch, with the kept proposals pooling counts
    (utils/metrics.selected_kept); none when nothing was selected."""
    layout = FoldLayout.of(output, subject)
    if not (layout.eval_info.is_file() and layout.selected_scores.is_file()):
        return []
    info = read_eval_info(layout.eval_info)
    epoch = info.get("selected_epoch")
    if epoch is None:
        return []
    spotted = selected_kept(layout, epoch)
    truth = subject_ground_truth(annotations, subject)
    spotted = spotted.assign(matched=true_positive_flags(spotted, truth, info.get("matching", "published")))
    written = []
    with np.load(layout.selected_scores) as archive:
        for video in scored_videos(layout):
            check_path_name(video, layout.selected_scores, "video name")  # from the segment files' video_name
            scores = {t: archive[f"{video}:{name}"] for t, name in EXPRESSION_TYPES.items()}
            written.append(plot_video_timeline(video, scores, info.get("frame_shift", PROPOSAL_FRAME_SHIFT),
                                               truth[truth["video_name"] == video],
                                               spotted[spotted["video_name"] == video],
                                               RunLayout(output).timeline_plot(subject, video)))
    return written


def plot_run(output: Path, subjects: list[str], anno_csv: Path) -> list[Path]:
    annotations = read_annotation_table(anno_csv)
    written = [p for p in [plot_f1_by_epoch(output, subjects)] if p is not None]
    for subject in subjects:
        written += plot_fold_timelines(output, subject, annotations)
    return written


def main(argv: list[str] | None = None) -> int:
    from utils.cli import add_config, add_dataset, add_output

    parser = argparse.ArgumentParser(description="Plot a LOSO run: F1 by epoch and per-video timelines.")
    add_dataset(parser)
    add_output(parser)
    parser.add_argument("--subjects", required=True, nargs="+")
    add_config(parser)
    args = parser.parse_args(argv)

    def run() -> None:
        from utils.config import load_config

        config = load_config(args.dataset, args.config)
        written = plot_run(args.output, args.subjects, Path(config["anno_csv"]))
        print(f"plots: {len(written)} files under {RunLayout(args.output).plots}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
