"""Selection ``inner-cv``: each outer fold's epoch chosen on its training subjects alone.

For the fold holding out subject S, the training subjects are split into ``inner_folds`` groups
(utils/inner_split.py). Inner model k trains on the training subjects outside group k, with the outer
model's hyperparameters, seed and training code, and an adjacency built from its own training subjects;
it is evaluated on group k's test windows at every epoch from ``epoch_begin`` with the outer evaluation's
steps (model/evaluation.py). The groups' per-epoch counts are summed (utils.metrics.summed_epoch_metrics)
and the epoch with the best summed ``all_f1``, earliest on ties, is the fold's epoch. S's labels are read
only afterwards, to count that epoch's TP, FP and FN.

Inner run k lives in ``<output>/<S>/inner/<k>/`` in the fold layout (models/, logs/, output_csv/, nms_csv/,
epoch_metrics.csv, eval_info.json). pipeline.sh runs each inner model as a task of its own, redone when what
it reads changes (pipeline/tasks.py).

python -m model.inner_cv --dataset D --output DIR --subject S --group K [--config FILE] [--seed N]
                         [--matching M] [--device DEV] [--quiet]      trains and evaluates one inner model
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from dataset.segments import WindowSet, expression_windows, load_subject
from model.adjacency import model_adjacency
from model.evaluation import (evaluated_checkpoints, load_held_out, match_epochs,
                              proposals_by_epoch, score_checkpoints, write_epochs)
from utils.annotations import EXPRESSION_TYPES
from model.settings import InnerModelSettings
from model.training import train_model
from utils.config import DatasetConfig, check_subject
from utils.errors import UserError, exit_process
from utils.io import atomic_write_text
from utils.layout import FoldLayout, checkpoints_fingerprint
from utils.metrics import read_epoch_metrics, read_eval_info, summed_epoch_metrics
from utils.selection import select_epoch


class SegmentCache:
    """Subjects' windows read once per process: a fold's K inner models share their subjects' files."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[Path, str], WindowSet] = {}

    def load(self, folder: Path, subject: str) -> WindowSet:
        key = (Path(folder), subject)
        if key not in self._loaded:
            self._loaded[key] = load_subject(folder, subject)
        return self._loaded[key]

    def test(self, segment_feat_root: Path, subject: str) -> WindowSet:
        return self.load(Path(segment_feat_root) / "test", subject)


def train_inner(config: DatasetConfig, output: Path, subject: str, group: int, device: torch.device,
                cache: SegmentCache, show_progress: bool = True) -> FoldLayout:
    """Train inner model ``group`` of the fold holding out ``subject``."""
    inner = InnerModelSettings.from_config(config)
    held_out = inner.groups(subject)[group]
    subjects = inner.training_subjects(subject, held_out)
    features = inner.data.features
    windows = expression_windows(features, subjects, load=cache.load)
    if len(windows) == 0:
        raise UserError(f"{features}: no training window with an expression in "
                        f"{', '.join(subjects)} (inner model {group} of fold {subject})")
    layout = FoldLayout.of(output, subject).inner_run(group)
    adjacency = model_adjacency(config, layout.adjacency, [subject, *held_out])
    return train_model(config, layout, windows, adjacency, device, show_progress,
                       {"subject": subject, "inner_group": group, "inner_held_out": held_out,
                        "train_subjects": subjects})


def evaluate_inner(config: DatasetConfig, output: Path, subject: str, group: int, device: torch.device,
                   cache: SegmentCache, show_progress: bool = True) -> dict:
    """Evaluate inner model ``group`` on its group's test windows; writes its per-epoch tables and
    ``eval_info.json`` (no epoch is selected here: the groups are summed first)."""
    inner = InnerModelSettings.from_config(config)
    held_out_subjects = inner.groups(subject)[group]
    layout = FoldLayout.of(output, subject).inner_run(group)
    settings = inner.evaluation
    checkpoints = evaluated_checkpoints(layout, settings)
    held_out = load_held_out(config, held_out_subjects, windows_of=cache.test)
    scores = score_checkpoints(checkpoints, held_out, device, layout)
    tables = proposals_by_epoch(scores, held_out.windows, settings.proposals)
    metrics = write_epochs(layout, match_epochs(list(checkpoints), tables, held_out, settings), show_progress)
    empty = held_out.counts_without_proposals(settings.matching)
    info = {"subject": subject, "inner_group": group, "inner_held_out": held_out_subjects,
            "train_subjects": inner.training_subjects(subject, held_out_subjects),
            "matching": settings.matching, "checkpoints_dir": str(layout.models.resolve()),
            "checkpoints_fingerprint": checkpoints_fingerprint(checkpoints),
            "epochs_evaluated": len(checkpoints), "epochs_with_proposals": len(metrics),
            "m_without_proposals": {name: empty[t][2] for t, name in EXPRESSION_TYPES.items()}}
    atomic_write_text(layout.eval_info, json.dumps(info, indent=2) + "\n")
    return info


def check_inner_model(config: DatasetConfig, subject: str, group: int) -> None:
    """A known fold and an inner group 0 .. inner_folds - 1: else one line, before any training."""
    settings = InnerModelSettings.from_config(config)
    check_subject(subject, settings.data.subjects)
    if not 0 <= group < settings.inner_folds:
        raise UserError(f"inner group {group}: must be 0 .. {settings.inner_folds - 1} (inner_folds)")


def run_inner(config: DatasetConfig, output: Path, subject: str, group: int, device: torch.device,
              cache: SegmentCache | None = None, show_progress: bool = True) -> dict:
    """Train inner model ``group`` of the fold holding out ``subject``, then evaluate it; its eval_info."""
    check_inner_model(config, subject, group)
    cache = cache or SegmentCache()
    train_inner(config, output, subject, group, device, cache, show_progress)
    return evaluate_inner(config, output, subject, group, device, cache, show_progress)


def choose_inner_epoch(config: DatasetConfig, output: Path, subject: str) -> dict:
    """The fold's epoch from its inner runs' ``epoch_metrics.csv`` and ``eval_info.json``: groups summed, the
    best summed all_f1, earliest on ties."""
    fold = FoldLayout.of(output, subject)
    inner = InnerModelSettings.from_config(config)
    groups = inner.groups(subject)
    parts = []
    for group in range(len(groups)):
        layout = fold.inner_run(group)
        parts.append((read_epoch_metrics(layout.epoch_metrics), read_eval_info(layout.eval_info)["m_without_proposals"]))
    summed = summed_epoch_metrics(parts, inner.epochs)
    chosen = select_epoch(summed, "best-on-test")
    return {"inner_folds": len(groups), "groups": groups, "split": "training subjects sorted by name, dealt round robin",
            "inner_all_f1": {str(e): float(f) for e, f in zip(summed["epoch"], summed["all_f1"])},
            "selected_epoch": int(chosen["epoch"]), "tie_rule": "earliest epoch among equal summed all_f1"}


def main(argv: list[str] | None = None) -> int:
    from utils.cli import config_device, fold_parser, reuse_freed_memory
    from utils.config import load_config
    from utils.errors import run_cli

    parser = fold_parser("Train and evaluate one inner model of a fold (selection inner-cv).")
    parser.add_argument("--group", required=True, type=int, help="inner group, 0 .. inner_folds - 1")
    parser.add_argument("--seed", type=int, default=None, help="training seed (default: the config's seed)")
    parser.add_argument("--matching", default=None, help="matching rule (default: the config's)")
    args = parser.parse_args(argv)

    def run() -> None:
        config = load_config(args.dataset, args.config).with_overrides(device=args.device, seed=args.seed,
                                                                       matching=args.matching, selection="inner-cv")
        check_inner_model(config, args.subject, args.group)
        reuse_freed_memory()
        run_inner(config, args.output, args.subject, args.group, config_device(config),
                  show_progress=not args.quiet)
        print(f"inner model {args.group} of {args.subject}: trained and evaluated")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
