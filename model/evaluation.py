"""Evaluate one fold (METHOD.md section 8): every checkpoint from ``epoch_begin`` ->
proposals -> NMS -> matches -> per-epoch metrics -> the selected epoch.

Writes, under ``<output>/<subject>/`` (FORMATS.md): ``output_csv/``, ``nms_csv/``,
``epoch_metrics.csv``, ``best_res.csv``; plus ``eval_info.json`` (matching rule,
selection protocol, chosen epoch) and ``selected_scores.npz`` (per-frame apex scores
of the chosen epoch, for plots).
"""
from __future__ import annotations

import json
import pickle
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from dataset.segments import WindowSet, test_windows
from dataset.targets import normalise_features
from model.auwgcn import APEX_CHANNEL, AUWGCN, CLASS_CHANNELS
from utils.annotations import read_annotation_table, subject_ground_truth
from utils.config import DatasetConfig, save_resolved_config
from utils.errors import UserError
from utils.indexing import SEGMENT_LENGTH, middle, window_frame_to_video_frame
from utils.io import atomic_path, atomic_write_csv, atomic_write_text
from utils.layout import FoldLayout, checkpoints_fingerprint
from utils.matching import count_matches
from utils.metrics import (COUNT_COLUMNS, EPOCH_METRIC_COLUMNS, empty_counts_row, epoch_metrics_row,
                           select_epoch)
from utils.nms import nms
from utils.proposals import PROPOSAL_COLUMNS, find_proposals, proposal_params_from_config

TYPES = {2: "micro", 1: "macro"}
INFERENCE_BATCH = 256
CPU_WORKERS = 2


@dataclass(frozen=True)
class Scores:
    """Per-type probabilities of W test windows on the middle 256 frames, each ``(W, 256)``."""

    start: dict[int, np.ndarray]
    end: dict[int, np.ndarray]
    apex: dict[int, np.ndarray]


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint in the published layout; one-line error naming the file."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        # torch's own message suggests weights_only=False, unsafe advice for files from elsewhere: keep the gist.
        reason = str(error).splitlines()[0].split(". ")[0]
        raise UserError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise UserError(f"{path}: checkpoint has no 'state_dict' mapping")
    return checkpoint["state_dict"]


@torch.no_grad()
def predict(model: AUWGCN, inputs: torch.Tensor) -> Scores:
    """Eval-mode forward of normalised windows ``(W, 270, 12, 2)`` -> softmax/sigmoid scores."""
    model.eval()
    logits = torch.cat([model(chunk) for chunk in inputs.split(INFERENCE_BATCH)])
    logits = middle(logits, axis=-1).float().cpu()
    start, end, apex = {}, {}, {}
    for type_idx in TYPES:
        classes = torch.softmax(logits[:, CLASS_CHANNELS[type_idx]], dim=1).numpy()
        start[type_idx], end[type_idx] = classes[:, 0], classes[:, 1]
        apex[type_idx] = torch.sigmoid(logits[:, APEX_CHANNEL[type_idx]]).numpy()
    return Scores(start, end, apex)


def epoch_proposals(scores: Scores, windows: WindowSet, config: DatasetConfig) -> pd.DataFrame:
    """Proposals of both types in the published table layout (micro rows first)."""
    tables = [find_proposals(scores.start[t], scores.end[t], scores.apex[t], windows.offsets, windows.video_names,
                             proposal_params_from_config(config, name)) for t, name in TYPES.items()]
    return pd.concat(tables, ignore_index=True) if any(len(t) for t in tables) else tables[0]


def video_apex_scores(scores: Scores, windows: WindowSet) -> dict[str, np.ndarray]:
    """Per video, apex scores stitched over its windows: ``{'<video>:micro': (R,), ...}``; index i is row i."""
    stitched = {}
    for video in np.unique(windows.video_names):
        mask = windows.video_names == video
        offsets = windows.offsets[mask]
        length = int(offsets.max()) + SEGMENT_LENGTH
        for type_idx, name in TYPES.items():
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
    if subject not in config["subject_list"]:
        raise UserError(f"unknown subject '{subject}' (subject_list: {', '.join(config['subject_list'])})")
    checkpoints = {e: p for e, p in layout.checkpoints().items() if e >= config["epoch_begin"]}
    if not checkpoints:
        raise UserError(f"{layout.models}: no checkpoint_epoch_<NNN>.pth.tar from epoch {config['epoch_begin']} on")
    windows = test_windows(Path(config["segment_feat_root"]), subject)
    save_resolved_config(config, layout.logs, {"subject": subject, "device": str(device)}, "eval_config.txt")
    truth = subject_ground_truth(read_annotation_table(config["anno_csv"]), subject, config["RATIO_SCALE"])
    inputs = torch.from_numpy(normalise_features(windows.features)).to(device)

    top_k = {2: config["nms_top_K_micro"], 1: config["nms_top_K_macro"]}
    models = threading.local()

    def evaluate_checkpoint(epoch: int, path: Path) -> tuple[int, dict | None, Scores]:
        state = load_state_dict(path)
        try:
            if not hasattr(models, "model"):
                models.model = AUWGCN(state.get("graph_embedding.0.gc1.adj", torch.eye(12))).to(device)
            models.model.load_state_dict(state, strict=True)
        except (RuntimeError, ValueError, TypeError) as error:
            raise UserError(f"{path}: state_dict does not fit AUW-GCN ({str(error).splitlines()[0]})") from None
        scores = predict(models.model, inputs)
        proposals = epoch_proposals(scores, windows, config)
        if proposals.empty:  # published: no files and no metrics row for such an epoch
            for stale in (layout.proposals_csv(epoch), layout.nms_csv(epoch)):
                stale.unlink(missing_ok=True)
            return epoch, None, scores
        kept = nms(proposals, top_k)
        atomic_write_csv(layout.proposals_csv(epoch), proposals[PROPOSAL_COLUMNS])
        atomic_write_csv(layout.nms_csv(epoch), kept)
        return epoch, epoch_metrics_row(count_matches(kept, truth, matching), epoch), scores

    # On CPU, two checkpoints at a time with one torch thread each keeps both cores busy through the
    # single-threaded parts (loading, proposals, CSV writing); results do not depend on the order.
    workers = CPU_WORKERS if device.type == "cpu" else 1
    previous_threads = torch.get_num_threads()
    if workers > 1:
        torch.set_num_threads(1)
    rows, apex_by_epoch = [], {}
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(lambda item: evaluate_checkpoint(*item), checkpoints.items())
            for epoch, row, scores in tqdm(results, total=len(checkpoints), desc=f"eval {subject}", unit="ckpt",
                                           disable=not show_progress, leave=False):
                if row is not None:
                    rows.append(row)
                    apex_by_epoch[epoch] = scores
    finally:
        torch.set_num_threads(previous_threads)

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
            "fixed_epoch": config["abfcm_best_epoch"] if selection == "fixed-epoch" else None,
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
