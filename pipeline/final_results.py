"""Pool the folds of a LOSO run into one precision / recall / F1 table (METHOD.md 8.7): the pooling task of
pipeline.sh (pipeline/tasks.py).

python -m pipeline.final_results --dataset D --output DIR --subjects S1 S2 ... [--config FILE]

Reads ``<output>/<subject>/best_res.csv`` and ``eval_info.json`` of every fold,
writes ``<output>/final_results.csv`` and ``final_results.json`` and prints the table.
All folds must have been evaluated with the same matching rule and selection protocol.
Also counts TP / FP / FN per test video and type at each fold's selected epoch, under the run's matching rule,
into ``video_counts.csv`` (utils.metrics.video_counts), which the run report shows.
Also writes the run in the MEGC challenge's format (utils/megc.py):
``megc_predictions.csv`` and ``megc_ground_truth.csv``, with the section's annotation table
(the one the folds' evaluation keys hold). The run report is a task of its own (pipeline/report.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from utils.annotations import read_annotation_table, subject_ground_truth
from utils.errors import UserError, exit_process, run_cli
from utils.io import atomic_write_csv, atomic_write_text
from utils.layout import FoldLayout, RunLayout
from utils.megc import MEGC_FRAMES, left_out_expressions, write_megc_files
from utils.matching import MATCHING_RULES
from utils.metrics import (COUNT_COLUMNS, VIDEO_COUNT_COLUMNS, pooled_scores, read_best_res, read_eval_info,
                           scored_videos, selected_kept, video_counts)
from utils.selection import SELECTION_PROTOCOLS


def read_fold(output: Path, subject: str) -> tuple[dict, dict]:
    """``(counts, eval_info)`` of one fold; one-line errors naming the missing or bad file."""
    layout = FoldLayout.of(output, subject)
    return read_best_res(layout.best_res), read_eval_info(layout.eval_info)


def run_video_counts(output: Path, subjects: list[str], infos: list[dict], anno_csv: Path,
                     ratio_scale: int) -> pd.DataFrame:
    """Per-video counts of every fold (utils.metrics.video_counts), folds in ``subjects`` order: its videos (those
    scored, annotated or spotted) at its selected epoch (``infos``: the folds' eval_info), under its rule."""
    annotations = read_annotation_table(anno_csv)
    parts = []
    for subject, info in zip(subjects, infos):
        layout = FoldLayout.of(output, subject)
        parts.append(video_counts(subject, scored_videos(layout), selected_kept(layout, info.get("selected_epoch")),
                                  subject_ground_truth(annotations, subject, ratio_scale),
                                  MATCHING_RULES[info["matching"]]))
    parts = [part for part in parts if len(part)]  # empty frames would only blur the dtypes
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=VIDEO_COUNT_COLUMNS)


def final_results(output: Path, subjects: list[str], anno_csv: Path, ratio_scale: int,
                  megc_frames: str = "published") -> tuple[pd.DataFrame, dict]:
    """Pooled table (rows micro / macro / overall) and the JSON document; both also written to ``output``, with
    the per-video counts (``video_counts.csv``, :func:`run_video_counts`).

    ``anno_csv``, ``ratio_scale``: the annotation table and RATIO_SCALE of the section (the MEGC ground truth);
    ``megc_frames``: the prediction frames of the MEGC files (utils/megc.py, ``published`` or ``raw``).
    """
    folds, infos = [], []
    for subject in subjects:
        counts, info = read_fold(output, subject)
        folds.append({"subject": subject, **counts, "selected_epoch": info.get("selected_epoch")})
        infos.append(info)
    for key in ("matching", "selection"):
        used = sorted({str(info.get(key)) for info in infos})
        if len(used) > 1:
            raise UserError(f"{output}: folds were evaluated with different {key} settings ({', '.join(used)}); "
                            f"re-evaluate them all with one, e.g. FORCE=1 EVAL_ONLY=1 bash pipeline.sh")
    per_fold = pd.DataFrame(folds)
    table = pooled_scores(per_fold[COUNT_COLUMNS])
    document = {
        "matching": infos[0]["matching"],
        "selection": infos[0]["selection"],
        "fixed_epoch": infos[0].get("fixed_epoch"),
        "subjects": subjects,
        "scores": {name: {k: (int(v) if k in ("tp", "fp", "fn", "n", "m") else float(v)) for k, v in row.items()}
                   for name, row in table.iterrows()},
        "folds": per_fold.to_dict(orient="records"),
    }
    predictions, truth = write_megc_files(output, [(f["subject"], f["selected_epoch"]) for f in folds],
                                          anno_csv, ratio_scale, megc_frames)
    document["megc_files"] = {"predictions": "megc_predictions.csv", "ground_truth": "megc_ground_truth.csv",
                              "frames": megc_frames,
                              "left_out_expressions": left_out_expressions(predictions, truth)}
    csv_table = table.reset_index(names="type")
    csv_table["matching"], csv_table["selection"] = document["matching"], document["selection"]
    layout = RunLayout(output)
    atomic_write_csv(layout.video_counts, run_video_counts(output, subjects, infos, anno_csv, ratio_scale))
    atomic_write_csv(layout.final_results_csv, csv_table)
    atomic_write_text(layout.final_results_json, json.dumps(document, indent=2) + "\n")
    return table, document


def read_final_results(output: Path) -> tuple[pd.DataFrame, dict]:
    """The pooled table and document :func:`final_results` wrote to ``output``."""
    document = json.loads(RunLayout(output).final_results_json.read_text())
    table = pd.DataFrame.from_dict(document["scores"], orient="index")
    return table, document


def format_table(table: pd.DataFrame, document: dict) -> str:
    """The pooled table as aligned text, headed by the matching rule and selection protocol."""
    header = (f"Pooled LOSO results over {len(document['subjects'])} subjects "
              f"(matching: {document['matching']}, selection: {document['selection']}"
              + (f", epoch {document['fixed_epoch']}" if document.get("fixed_epoch") is not None else "") + ")")
    lines = [header, f"{'type':<8}{'TP':>6}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>9}{'F1':>9}"]
    for name, row in table.iterrows():
        lines.append(f"{name:<8}{int(row.tp):>6d}{int(row.fp):>6d}{int(row.fn):>6d}"
                     f"{row.precision:>11.4f}{row.recall:>9.4f}{row.f1:>9.4f}")
    left_out = document.get("megc_files", {}).get("left_out_expressions", {})
    lines += [note.format(left_out_micro=left_out.get("micro", 0), left_out_macro=left_out.get("macro", 0))
              for note in MATCHING_RULES[document["matching"]].table_notes]
    selection_note = SELECTION_PROTOCOLS[document["selection"]].table_note
    if selection_note:
        lines.append(selection_note)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from utils.cli import add_config, add_dataset, add_output

    parser = argparse.ArgumentParser(description="Pool the folds of a LOSO run into one P/R/F1 table.")
    add_dataset(parser)
    add_config(parser)
    add_output(parser)
    parser.add_argument("--subjects", required=True, nargs="+")
    parser.add_argument("--megc-frames", choices=MEGC_FRAMES, default="published",
                        help="prediction frames of the MEGC files: published (default) = as evaluated, with the "
                             "published +1 shift; raw = without it")
    args = parser.parse_args(argv)

    def run() -> None:
        from model.settings import PoolingSettings
        from utils.config import load_config

        settings = PoolingSettings.from_config(load_config(args.dataset, args.config))
        table, document = final_results(args.output, args.subjects, settings.annotations, settings.ratio_scale,
                                        args.megc_frames)
        print(format_table(table, document))
        layout = RunLayout(args.output)
        print(f"written: {layout.final_results_csv}, {layout.final_results_json}, {layout.video_counts}, "
              f"{args.output / 'megc_predictions.csv'}, {args.output / 'megc_ground_truth.csv'}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
