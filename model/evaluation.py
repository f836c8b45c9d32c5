"""Evaluate one fold (METHOD.md section 8): every checkpoint from ``epoch_begin`` ->
proposals -> NMS -> matches -> per-epoch metrics -> the selected epoch.

Writes, under ``<output>/<subject>/`` (FORMATS.md): ``output_csv/``, ``nms_csv/``,
``epoch_metrics.csv``, ``best_res.csv``; plus ``eval_info.json`` (matching rule,
selection protocol, chosen epoch) and ``selected_scores.npz`` (per-frame apex scores
of the chosen epoch, for plots).
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from dataset.segments import WindowSet, test_windows
from dataset.targets import normalise_features
from model.scoring import Scores, batched_scores, device_error_message, load_in_background
from utils.annotations import EXPRESSION_TYPES, read_annotation_table, subject_ground_truth
from utils.config import DatasetConfig, check_subject, save_resolved_config
from utils.errors import UserError
from utils.indexing import SEGMENT_LENGTH, window_frame_to_video_frame
from utils.io import atomic_path, atomic_write_csv, atomic_write_text
from utils.layout import FoldLayout, checkpoints_fingerprint
from utils.matching import count_matches
from utils.metrics import (COUNT_COLUMNS, EPOCH_METRIC_COLUMNS, empty_counts_row, epoch_metrics_row,
                           fixed_epoch, select_epoch)
from utils.nms import nms, nms_top_k
from utils.proposals import PROPOSAL_COLUMNS, find_proposals, proposal_params_from_config


def evaluation_workers() -> int:
    """Threads for the per-epoch work (NMS, matching, CSV writing): the cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def epoch_proposals(scores: Scores, windows: WindowSet, config: DatasetConfig) -> pd.DataFrame:
    """Proposals of both types in the published table layout (micro rows first)."""
    tables = [find_proposals(scores.start[t], scores.end[t], scores.apex[t], windows.offsets, windows.video_names,
                             proposal_params_from_config(config, name)) for t, name in EXPRESSION_TYPES.items()]
    return pd.concat(tables, ignore_index=True) if any(len(t) for t in tables) else tables[0]


def proposals_by_epoch(scores: list[Scores], windows: WindowSet, config: DatasetConfig) -> list[pd.DataFrame]:
    """:func:`epoch_proposals` of many epochs at once: the epochs' windows are stacked (K*W rows) and each
    type's proposals found in one call; rows keep find_proposals' order (window, then frame), so every
    epoch's table equals its own :func:`epoch_proposals`."""
    n_epochs, n_windows = len(scores), len(windows)
    if n_epochs == 0:
        return []
    # A window's "video" is its stacked row number; its real name and epoch come back from it.
    codes = np.arange(n_epochs * n_windows, dtype=np.int64)
    offsets = np.tile(windows.offsets, n_epochs)
    per_type = []
    for type_idx, name in EXPRESSION_TYPES.items():
        table = find_proposals(*(np.concatenate([getattr(s, field)[type_idx] for s in scores])
                                 for field in ("start", "end", "apex")),
                               offsets, codes, proposal_params_from_config(config, name))
        code = table["video_name"].to_numpy(dtype=np.int64)
        # object dtype, as find_proposals gives: the tables must equal epoch_proposals' exactly
        table["video_name"] = pd.Series(windows.video_names[code % n_windows].astype(object), index=table.index,
                                        dtype=object)
        per_type.append((table, code // n_windows))
    tables = []
    for epoch_index in range(n_epochs):
        parts = [table[epoch == epoch_index].reset_index(drop=True) for table, epoch in per_type]
        tables.append(pd.concat(parts, ignore_index=True) if any(len(t) for t in parts) else parts[0])
    return tables


def video_apex_scores(scores: Scores, windows: WindowSet) -> dict[str, np.ndarray]:
    """Per video, apex scores stitched over its windows: ``{'<video>:micro': (R,), ...}``; index i is row i."""
    stitched = {}
    for video in np.unique(windows.video_names):
        mask = windows.video_names == video
        offsets = windows.offsets[mask]
        length = int(offsets.max()) + SEGMENT_LENGTH
        for type_idx, name in EXPRESSION_TYPES.items():
            track = np.zeros(length, dtype=np.float32)
            for offset, values in zip(offsets, scores.apex[type_idx][mask]):
                track[offset:offset + SEGMENT_LENGTH] = values
            stitched[f"{video}:{name}"] = track
    return stitched


def _selection_note(selection: str, fixed_epoch: int, checkpoints: dict[int, Path], chosen: int | None) -> str | None:
    """Why best_res.csv holds zeros, when it does."""
    if chosen is not None:
        return None
    if selection == "fixed-epoch" and fixed_epoch not in checkpoints:
        return f"epoch {fixed_epoch} (abfcm_best_epoch) has no checkpoint from epoch_begin on: TP and N counted as 0"
    return "the selected epoch has no proposal: TP and N counted as 0, M kept"


def evaluate_fold(config: DatasetConfig, subject: str, output: Path, device: torch.device,
                  show_progress: bool = True, checkpoints_root: Path | None = None) -> dict:
    """Evaluate every checkpoint of ``output/subject`` from ``epoch_begin``; returns the eval_info dict."""
    layout = FoldLayout.of(output, subject, checkpoints_root)  # checkpoints_root: read-only archive, or None
    matching, selection = config["matching"], config["selection"]
    check_subject(subject, config["subject_list"])
    checkpoints = {e: p for e, p in layout.checkpoints().items() if e >= config["epoch_begin"]}
    if not checkpoints:
        raise UserError(f"{layout.models}: no checkpoint_epoch_<NNN>.pth.tar from epoch {config['epoch_begin']} on")
    windows = test_windows(Path(config["segment_feat_root"]), subject)
    save_resolved_config(config, layout.logs, {"subject": subject, "device": str(device)}, "eval_config.txt")
    truth = subject_ground_truth(read_annotation_table(config["anno_csv"]), subject, config["RATIO_SCALE"])
    inputs = torch.from_numpy(normalise_features(windows.features)).to(device)

    top_k = nms_top_k(config)
    epochs = list(checkpoints)
    paths = list(checkpoints.values())
    try:
        all_scores = batched_scores(load_in_background(paths), paths, inputs, device)
    except (RuntimeError, MemoryError) as error:
        message = device_error_message(error, device)
        if message is None:
            raise
        raise UserError(f"{layout.models}: evaluation failed: {message}") from None

    def write_epoch(epoch: int, proposals: pd.DataFrame) -> dict | None:
        if proposals.empty:  # published: no files and no metrics row for such an epoch
            for stale in (layout.proposals_csv(epoch), layout.nms_csv(epoch)):
                stale.unlink(missing_ok=True)
            return None
        kept = nms(proposals, top_k)
        atomic_write_csv(layout.proposals_csv(epoch), proposals[PROPOSAL_COLUMNS])
        atomic_write_csv(layout.nms_csv(epoch), kept)
        return epoch_metrics_row(count_matches(kept, truth, matching), epoch)

    # NMS, matching and CSV writing are per epoch and independent: spread them over the cores we may use.
    tables = proposals_by_epoch(all_scores, windows, config)
    with ThreadPoolExecutor(max_workers=evaluation_workers()) as pool:
        results = list(tqdm(pool.map(write_epoch, epochs, tables), total=len(epochs), desc=f"eval {subject}",
                            unit="ckpt", disable=not show_progress, leave=False))
    rows = [row for row in results if row is not None]
    apex_by_epoch = {epoch: scores for epoch, scores, row in zip(epochs, all_scores, results) if row is not None}

    metrics = pd.DataFrame(rows, columns=EPOCH_METRIC_COLUMNS)
    atomic_write_csv(layout.epoch_metrics, metrics)
    chosen = select_epoch(metrics, selection, config["abfcm_best_epoch"], last_epoch=max(checkpoints))
    if chosen is None:
        # M as the rule counts it with no proposal (every row; megc leaves the subject out: 0)
        nothing = count_matches(pd.DataFrame(columns=["video_name", "start_frame", "end_frame", "score", "type_idx"]),
                                truth, matching)
        best = empty_counts_row(nothing[2][2], nothing[1][2])
        chosen_epoch = None
    else:
        best = {column: int(chosen[column]) for column in COUNT_COLUMNS}
        chosen_epoch = int(chosen["epoch"])
        with atomic_path(layout.selected_scores) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **video_apex_scores(apex_by_epoch[chosen_epoch], windows))
    atomic_write_csv(layout.best_res, pd.DataFrame([best], columns=COUNT_COLUMNS))
    info = {"subject": subject, "matching": matching, "selection": selection, "selected_epoch": chosen_epoch,
            "fixed_epoch": fixed_epoch(config),
            "checkpoints_dir": str(layout.models.resolve()),
            "checkpoints_fingerprint": checkpoints_fingerprint(checkpoints),
            "epochs_evaluated": len(checkpoints), "epochs_with_proposals": len(rows),
            "frame_shift": int(window_frame_to_video_frame(0, 0)),
            "tie_rule": "earliest epoch among equal all_f1" if selection == "best-on-test" else None,
            "note": _selection_note(selection, config["abfcm_best_epoch"], checkpoints, chosen_epoch)}
    if selection == "last-epoch":
        info["last_epoch"] = max(checkpoints)
    atomic_write_text(layout.eval_info, json.dumps(info, indent=2) + "\n")
    return info
