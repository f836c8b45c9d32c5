"""Evaluate one fold (METHOD.md section 8) in named steps: load (checkpoints from ``epoch_begin``, the
held-out windows and labels) -> score -> propose -> match (NMS, counts) -> write (per-epoch tables) ->
select (the protocol's epoch).

Writes, under ``<output>/<subject>/`` (FORMATS.md): ``output_csv/``, ``nms_csv/``,
``epoch_metrics.csv``, ``best_res.csv``; plus ``eval_info.json`` (matching rule,
selection protocol, chosen epoch) and ``selected_scores.npz`` (per-frame apex scores
of the chosen epoch, for plots).
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from dataset.segments import WindowSet, concatenate, test_windows
from dataset.settings import DataSettings
from dataset.targets import normalise_features
from model.scoring import Scores, batched_scores, device_error_message, load_in_background
from model.settings import EvaluationSettings
from utils.annotations import EXPRESSION_TYPES, MACRO, MICRO, as_names, read_annotation_table, subject_ground_truth
from utils.config import DatasetConfig, check_subject, save_resolved_config
from utils.cores import usable_cores
from utils.errors import UserError
from utils.indexing import stitch_windows, window_frame_to_video_frame
from utils.io import atomic_path, atomic_write_csv, atomic_write_text
from utils.layout import FoldLayout, checkpoints_fingerprint
from utils.matching import count_matches
from utils.metrics import COUNT_COLUMNS, EPOCH_METRIC_COLUMNS, empty_counts_row, epoch_metrics_row
from utils.nms import NMS_COLUMNS, nms
from utils.proposals import PROPOSAL_COLUMNS, ProposalParams, find_proposals
from utils.selection import SelectionSettings, epoch_row, protocol_epoch

@dataclass(frozen=True)
class HeldOut:
    """What one set of checkpoints is evaluated on: every test window of ``subjects`` and their labels.

    ``videos[s]`` and ``truth[s]`` are subject ``s``'s video names and annotation rows (frames divided by
    RATIO_SCALE). Matching counts each subject on its own and sums the counts, as the pooled table sums
    folds, so a rule with per-subject behaviour (megc) counts a group of subjects as it counts its folds.
    """

    subjects: tuple[str, ...]
    windows: WindowSet
    videos: dict[str, np.ndarray]
    truth: dict[str, pd.DataFrame]

    def counts(self, kept: pd.DataFrame, matching: str) -> dict[int, tuple[int, int, int]]:
        """``{MICRO: (tp, n, m), MACRO: (tp, n, m)}`` of the NMS output ``kept``, summed over the subjects."""
        totals = {t: (0, 0, 0) for t in EXPRESSION_TYPES}
        for subject in self.subjects:
            own = kept if len(self.subjects) == 1 else kept[kept["video_name"].isin(self.videos[subject])]
            for t, counted in count_matches(own, self.truth[subject], matching).items():
                totals[t] = tuple(a + b for a, b in zip(totals[t], counted))
        return totals

    def counts_without_proposals(self, matching: str) -> dict[int, tuple[int, int, int]]:
        """The counts of an epoch with no proposal: TP = N = 0 and M as the rule counts it (megc: 0)."""
        return self.counts(pd.DataFrame(columns=NMS_COLUMNS), matching)


def load_held_out(config: DatasetConfig, subjects: list[str], windows_of=test_windows) -> HeldOut:
    """Load step: the subjects' test windows (``windows_of(root, subject)``, stacked in the given order) and
    annotation rows (frames divided by RATIO_SCALE). ``windows_of`` lets a process that evaluates many models
    read each file once."""
    data = DataSettings.from_config(config)
    for subject in subjects:
        check_subject(subject, data.subjects)
    per_subject = [windows_of(data.features, s) for s in subjects]
    table = read_annotation_table(data.annotations)
    ratio_scale = EvaluationSettings.from_config(config).ratio_scale
    return HeldOut(tuple(subjects), per_subject[0] if len(per_subject) == 1 else concatenate(per_subject),
                   {s: np.unique(w.video_names) for s, w in zip(subjects, per_subject)},
                   {s: subject_ground_truth(table, s, ratio_scale) for s in subjects})


def evaluated_checkpoints(layout: FoldLayout, settings: EvaluationSettings) -> dict[int, Path]:
    """Load step: the checkpoints from ``epoch_begin`` on, by epoch; none is an error naming the folder."""
    checkpoints = {e: p for e, p in layout.checkpoints().items() if e >= settings.epoch_begin}
    if not checkpoints:
        raise UserError(f"{layout.models}: no checkpoint_epoch_<NNN>.pth.tar from epoch {settings.epoch_begin} on")
    return checkpoints


def score_checkpoints(checkpoints: dict[int, Path], held_out: HeldOut, device: torch.device,
                      layout: FoldLayout) -> list[Scores]:
    """Score step: every checkpoint's per-frame scores on the held-out windows, in epoch order."""
    inputs = torch.from_numpy(normalise_features(held_out.windows.features)).to(device)
    paths = list(checkpoints.values())
    try:
        return batched_scores(load_in_background(paths), paths, inputs, device)
    except (RuntimeError, MemoryError) as error:
        message = device_error_message(error, device)
        if message is None:
            raise
        raise UserError(f"{layout.models}: evaluation failed: {message}") from None


def epoch_proposals(scores: Scores, windows: WindowSet, proposals: dict[int, ProposalParams]) -> pd.DataFrame:
    """Proposals of both types (``proposals``: each type's rules) in the published table layout (micro rows
    first)."""
    tables = [find_proposals(scores.start[t], scores.end[t], scores.apex[t], windows.offsets, windows.video_names,
                             proposals[t]) for t in EXPRESSION_TYPES]
    return pd.concat(tables, ignore_index=True) if any(len(t) for t in tables) else tables[0]


def proposals_by_epoch(scores: list[Scores], windows: WindowSet,
                       proposals: dict[int, ProposalParams]) -> list[pd.DataFrame]:
    """Propose step: :func:`epoch_proposals` of many epochs at once: the epochs' windows are stacked (K*W rows)
    and each type's proposals found in one call; rows keep find_proposals' order (window, then frame), so every
    epoch's table equals its own :func:`epoch_proposals`."""
    n_epochs, n_windows = len(scores), len(windows)
    if n_epochs == 0:
        return []
    # A window's "video" is its stacked row number; its real name and epoch come back from it.
    codes = np.arange(n_epochs * n_windows, dtype=np.int64)
    offsets = np.tile(windows.offsets, n_epochs)
    per_type = []
    for type_idx in EXPRESSION_TYPES:
        table = find_proposals(*(np.concatenate([getattr(s, field)[type_idx] for s in scores])
                                 for field in ("start", "end", "apex")),
                               offsets, codes, proposals[type_idx])
        code = table["video_name"].to_numpy(dtype=np.int64)
        table["video_name"] = as_names(windows.video_names[code % n_windows], index=table.index)
        per_type.append((table, code // n_windows))
    tables = []
    for epoch_index in range(n_epochs):
        parts = [table[epoch == epoch_index].reset_index(drop=True) for table, epoch in per_type]
        tables.append(pd.concat(parts, ignore_index=True) if any(len(t) for t in parts) else parts[0])
    return tables


@dataclass(frozen=True)
class EpochResult:
    """One epoch after NMS and matching; ``kept`` and ``counts`` are None when it has no proposal."""

    epoch: int
    proposals: pd.DataFrame
    kept: pd.DataFrame | None
    counts: dict[int, tuple[int, int, int]] | None


def match_epochs(epochs: list[int], tables: list[pd.DataFrame], held_out: HeldOut,
                 settings: EvaluationSettings) -> list[EpochResult]:
    """Match step: per epoch, NMS (top-K per type) and the matching rule's (TP, N, M) per type."""

    def match(epoch: int, proposals: pd.DataFrame) -> EpochResult:
        if proposals.empty:
            return EpochResult(epoch, proposals, None, None)
        kept = nms(proposals, settings.top_k)
        return EpochResult(epoch, proposals, kept, held_out.counts(kept, settings.matching))

    # Epochs are independent: spread them over the cores we may use.
    with ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        return list(pool.map(match, epochs, tables))


def write_epochs(layout: FoldLayout, results: list[EpochResult], show_progress: bool = True) -> pd.DataFrame:
    """Write step: each epoch's proposals and NMS CSVs, and ``epoch_metrics.csv``; returns that table."""

    def write(result: EpochResult) -> dict | None:
        if result.kept is None:  # published: no files and no metrics row for such an epoch
            for stale in (layout.proposals_csv(result.epoch), layout.nms_csv(result.epoch)):
                stale.unlink(missing_ok=True)
            return None
        atomic_write_csv(layout.proposals_csv(result.epoch), result.proposals[PROPOSAL_COLUMNS])
        atomic_write_csv(layout.nms_csv(result.epoch), result.kept)
        return epoch_metrics_row(result.counts, result.epoch)

    with ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        written = list(tqdm(pool.map(write, results), total=len(results), desc=f"eval {layout.root.name}",
                            unit="ckpt", disable=not show_progress, leave=False))
    rows = [row for row in written if row is not None]
    metrics = pd.DataFrame(rows, columns=EPOCH_METRIC_COLUMNS)
    atomic_write_csv(layout.epoch_metrics, metrics)
    return metrics


def video_apex_scores(scores: Scores, windows: WindowSet) -> dict[str, np.ndarray]:
    """Per video, apex scores stitched over its windows: ``{'<video>:micro': (R,), ...}``; index i is row i."""
    stitched = {}
    for video in np.unique(windows.video_names):
        mask = windows.video_names == video
        for type_idx, name in EXPRESSION_TYPES.items():
            stitched[f"{video}:{name}"] = stitch_windows(scores.apex[type_idx][mask], windows.offsets[mask])
    return stitched


def _selection_note(selection: SelectionSettings, chosen_epoch: int | None, checkpoints: dict[int, Path],
                    chosen_row: pd.Series | None) -> str | None:
    """Why best_res.csv holds zeros, when it does."""
    if chosen_row is not None:
        return None
    if chosen_epoch is None:
        return "no epoch has a proposal: TP and N counted as 0, M kept"
    if chosen_epoch not in checkpoints:
        key = f" ({selection.protocol.epoch_key})" if selection.protocol.epoch_key else ""
        return f"epoch {chosen_epoch}{key} has no checkpoint from epoch_begin on: TP and N counted as 0"
    return "the selected epoch has no proposal: TP and N counted as 0, M kept"


def select_and_write(settings: EvaluationSettings, selection: SelectionSettings, layout: FoldLayout,
                     held_out: HeldOut, checkpoints: dict[int, Path], scores: list[Scores], metrics: pd.DataFrame,
                     inner: dict | None = None) -> dict:
    """Select step: the protocol's epoch -> ``best_res.csv``, ``selected_scores.npz`` and ``eval_info.json``.

    ``inner``: the inner cross-validation's result (model/inner_cv.py), needed by a protocol that uses inner
    models (inner-cv), whose epoch it gives; the held-out labels then only count that epoch's TP, FP and FN.

    eval_info's ``selected_epoch`` is the epoch the protocol chose, also when it has no proposal (best_res
    then counts TP 0, N 0 and M); it is None only under best-on-test when no epoch has a proposal.
    ``selected_scores.npz`` holds that epoch's scores whenever it has a checkpoint.
    """
    protocol = selection.protocol
    if protocol.uses_inner_models and inner is None:
        raise ValueError(f"selection '{protocol.name}' needs the inner cross-validation's result")
    given = inner["selected_epoch"] if protocol.uses_inner_models else selection.fixed_epoch
    chosen_epoch = protocol_epoch(metrics, protocol.name, given, last_epoch=max(checkpoints))
    chosen = epoch_row(metrics, chosen_epoch)
    empty = held_out.counts_without_proposals(settings.matching)
    if chosen is None:
        best = empty_counts_row(empty[MICRO][2], empty[MACRO][2])
    else:
        best = {column: int(chosen[column]) for column in COUNT_COLUMNS}
    if chosen_epoch in checkpoints:
        apex = dict(zip(checkpoints, scores))[chosen_epoch]
        with atomic_path(layout.selected_scores) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **video_apex_scores(apex, held_out.windows))
    else:  # an earlier evaluation's scores are not this epoch's
        layout.selected_scores.unlink(missing_ok=True)
    atomic_write_csv(layout.best_res, pd.DataFrame([best], columns=COUNT_COLUMNS))
    info = {"subject": held_out.subjects[0] if len(held_out.subjects) == 1 else list(held_out.subjects),
            "matching": settings.matching, "selection": protocol.name, "selected_epoch": chosen_epoch,
            "fixed_epoch": selection.fixed_epoch,
            **({"inner_folds": selection.inner_folds} if protocol.uses_inner_models else {}),
            "checkpoints_dir": str(layout.models.resolve()),
            "checkpoints_fingerprint": checkpoints_fingerprint(checkpoints),
            "epochs_evaluated": len(checkpoints), "epochs_with_proposals": len(metrics),
            "frame_shift": int(window_frame_to_video_frame(0, 0)),
            "tie_rule": protocol.tie_rule,
            "note": _selection_note(selection, chosen_epoch, checkpoints, chosen),
            "m_without_proposals": {name: empty[t][2] for t, name in EXPRESSION_TYPES.items()}}
    if protocol.records_last_epoch:
        info["last_epoch"] = max(checkpoints)
    if inner is not None:
        info["inner_cv"] = inner
    atomic_write_text(layout.eval_info, json.dumps(info, indent=2) + "\n")
    return info


def evaluate_fold(config: DatasetConfig, subject: str, output: Path, device: torch.device,
                  show_progress: bool = True, checkpoints_root: Path | None = None, inner: dict | None = None) -> dict:
    """Evaluate every checkpoint of ``output/subject`` from ``epoch_begin``; returns the eval_info dict.

    ``checkpoints_root``: a read-only archive holding the checkpoints, or None. ``inner``: see
    :func:`select_and_write`."""
    layout = FoldLayout.of(output, subject, checkpoints_root)
    check_subject(subject, DataSettings.from_config(config).subjects)
    settings, selection = EvaluationSettings.from_config(config), SelectionSettings.from_config(config)
    checkpoints = evaluated_checkpoints(layout, settings)
    layout.eval_info.unlink(missing_ok=True)  # first: a kill from here on leaves the fold "not evaluated"
    held_out = load_held_out(config, [subject])
    save_resolved_config(config, layout.eval_config, {"subject": subject, "device": str(device)})
    scores = score_checkpoints(checkpoints, held_out, device, layout)
    tables = proposals_by_epoch(scores, held_out.windows, settings.proposals)
    results = match_epochs(list(checkpoints), tables, held_out, settings)
    metrics = write_epochs(layout, results, show_progress)
    return select_and_write(settings, selection, layout, held_out, checkpoints, scores, metrics, inner)
