"""One model to use on new recordings: trained on every subject, at the epoch the LOSO picked.

The epoch is the one with the best overall F1 (``all_f1``) of the per-epoch counts summed over every outer
fold's ``epoch_metrics.csv`` (under the run's matching rule; an epoch without proposals in a fold counts
TP 0, N 0 and the fold's M, utils.metrics.summed_epoch_metrics), earliest on ties. The model trains on
every subject of ``subject_list`` with the folds' adjacency (a given ``adjacency:`` read as is, else the one
built from every subject), hyperparameters and seed, for that epoch + 1 epochs (the first checkpoints of a
longer training are the same).

Writes ``<output>/final/``: ``models/`` in the published checkpoint layout, ``logs/``, ``adjacency.npy`` (when
built) and ``final_info.json`` (``epoch``, ``all_f1`` the summed counts give there, the per-epoch summed
``all_f1``, the subjects). The LOSO under ``inner-cv`` estimates how well this whole procedure does.
pipeline.sh runs the training and the record as two tasks (pipeline/tasks.py), so that a record changed by
another matching rule alone trains nothing; this module's command line does both, unconditionally.

python -m model.final_model --dataset D --output DIR --subjects S1 S2 ... [--config FILE] [--seed N]
                            [--device DEV] [--quiet]
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from dataset.segments import expression_windows
from model.adjacency import model_adjacency
from model.settings import FinalModelSettings
from model.training import train_model
from utils.config import DatasetConfig
from utils.errors import UserError, exit_process
from utils.io import atomic_write_text
from utils.layout import FoldLayout, RunLayout
from utils.metrics import read_epoch_metrics, read_eval_info, summed_epoch_metrics
from utils.selection import select_epoch


def final_layout(output: Path) -> FoldLayout:
    return RunLayout(Path(output)).final


def loso_epoch(config: DatasetConfig, output: Path, subjects: list[str]) -> tuple[int, pd.DataFrame]:
    """``(epoch, summed per-epoch metrics)`` from the outer folds' tables; one-line errors naming a fold's file."""
    settings = FinalModelSettings.from_config(config)
    parts = []
    for subject in subjects:
        layout = FoldLayout.of(output, subject)
        if not layout.epoch_metrics.is_file() or not layout.eval_info.is_file():
            raise UserError(f"{layout.epoch_metrics}: missing; run the LOSO first (bash pipeline.sh)")
        info = read_eval_info(layout.eval_info)
        if info.get("matching") != settings.matching:
            raise UserError(f"{layout.eval_info}: fold evaluated with matching {info.get('matching')}, "
                            f"asked {settings.matching}")
        if "m_without_proposals" not in info:
            raise UserError(f"{layout.eval_info}: written before folds recorded their M without proposals; "
                            "re-evaluate (FORCE=1 EVAL_ONLY=1 bash pipeline.sh)")
        parts.append((read_epoch_metrics(layout.epoch_metrics), info["m_without_proposals"]))
    summed = summed_epoch_metrics(parts, settings.epochs)
    return int(select_epoch(summed, "best-on-test")["epoch"]), summed


def final_info(config: DatasetConfig, output: Path, subjects: list[str]) -> dict:
    """The record of the final model of ``subjects``' LOSO: its epoch and what the summed counts give."""
    epoch, summed = loso_epoch(config, output, subjects)
    settings = FinalModelSettings.from_config(config)
    return {"epoch": epoch, "all_f1": float(summed.loc[summed["epoch"] == epoch, "all_f1"].iloc[0]),
            "summed_all_f1": {str(e): float(f) for e, f in zip(summed["epoch"], summed["all_f1"])},
            "matching": settings.matching, "seed": settings.training.seed, "loso_folds": subjects,
            "subjects": list(settings.data.subjects)}


def train_final(config: DatasetConfig, output: Path, epoch: int, device: torch.device,
                show_progress: bool = True) -> FoldLayout:
    """Train the final model on every subject for ``epoch`` + 1 epochs (its old outputs are cleared first)."""
    data = FinalModelSettings.from_config(config).data
    windows = expression_windows(data.features, data.subjects)
    if len(windows) == 0:
        raise UserError(f"{data.features}: no training window with an expression")
    layout = final_layout(output)
    adjacency = model_adjacency(config, layout.adjacency, [])
    return train_model(config.with_overrides(epochs=epoch + 1), layout, windows, adjacency, device, show_progress,
                       {"subject": None, "train_subjects": list(data.subjects)})


def write_final_info(output: Path, info: dict) -> Path:
    return atomic_write_text(RunLayout(Path(output)).final_info, json.dumps(info, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    import argparse

    from utils.cli import add_config, add_dataset, add_output, config_device, reuse_freed_memory
    from utils.config import load_config
    from utils.errors import run_cli

    parser = argparse.ArgumentParser(description="Train the final model on every subject at the LOSO's epoch.")
    add_dataset(parser)
    add_config(parser)
    add_output(parser, "the LOSO's run folder")
    parser.add_argument("--subjects", required=True, nargs="+", help="the LOSO's folds")
    parser.add_argument("--matching", default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    def run() -> None:
        reuse_freed_memory()
        config = load_config(args.dataset, args.config).with_overrides(device=args.device, seed=args.seed,
                                                                       matching=args.matching)
        info = final_info(config, args.output, args.subjects)
        train_final(config, args.output, info["epoch"], config_device(config), show_progress=not args.quiet)
        write_final_info(args.output, info)
        print(f"final model: every subject ({len(info['subjects'])}), epoch {info['epoch']} (summed LOSO "
              f"all_f1 {info['all_f1']:.4f}) in {final_layout(args.output).models}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
