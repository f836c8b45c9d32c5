"""The run's models a spot uses: its folds, one checkpoint per fold (``selected``, ``last`` or an epoch), or the
final model (model/final_model.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from utils.errors import UserError
from utils.layout import FoldLayout, RunLayout
from utils.metrics import read_eval_info

FINAL_FOLDER = RunLayout(Path()).final.root.name  # where model/final_model.py writes the final model


@dataclass(frozen=True)
class FoldModel:
    subject: str
    epoch: int
    path: Path


def run_folds(run_dir: Path) -> list[str]:
    """Subjects of ``run_dir`` that hold checkpoints (``<subject>/models/checkpoint_epoch_NNN.pth.tar``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run folder not found")
    folds = sorted(p.name for p in run_dir.iterdir()
                   if p.is_dir() and p.name != FINAL_FOLDER and FoldLayout(p).checkpoints())
    if not folds:
        raise UserError(f"{run_dir}: no checkpoints in <subject>/models/checkpoint_epoch_NNN.pth.tar "
                        "(not a run folder pipeline.sh wrote, nor the published checkpoint layout)")
    return folds


def chosen_folds(run_dir: Path, wanted: tuple[str, ...] | None) -> list[str]:
    """The run's folds (:func:`run_folds`), or the ``wanted`` ones, each of which must be among them."""
    folds = run_folds(run_dir)
    if wanted is None:
        return folds
    unknown = [s for s in wanted if s not in folds]
    if unknown:
        raise UserError(f"{run_dir}: no fold {', '.join(unknown)} (folds: {', '.join(folds)})")
    return list(wanted)


def choose_models(run_dir: Path, folds: list[str], epoch: str) -> list[FoldModel]:
    """One checkpoint per fold: ``selected`` (eval_info.json's epoch), ``last`` or a fixed epoch number."""
    chosen = []
    for subject in folds:
        layout = FoldLayout.of(run_dir, subject)
        checkpoints = layout.checkpoints()
        if not checkpoints:
            raise UserError(f"{layout.models}: no checkpoint_epoch_NNN.pth.tar")
        if epoch == "last":
            number = max(checkpoints)
        elif epoch == "selected":
            if not layout.eval_info.is_file():
                raise UserError(f"{layout.eval_info}: missing, so fold {subject} has no selected epoch "
                                "(run eval.py, or use --epoch last|N)")
            try:
                number = read_eval_info(layout.eval_info)["selected_epoch"]
            except KeyError as error:
                raise UserError(f"{layout.eval_info}: unreadable ({error})") from None
            if number is None:
                raise UserError(f"{layout.eval_info}: fold {subject} selected no epoch; use --epoch last|N")
        else:
            number = int(epoch)
        if number not in checkpoints:
            raise UserError(f"{layout.checkpoint(number)}: no checkpoint for epoch {number} of fold {subject}")
        chosen.append(FoldModel(subject, int(number), checkpoints[number]))
    return chosen


def final_checkpoint(run_dir: Path, epoch: str = "selected") -> tuple[int, Path] | None:
    """``(epoch, checkpoint)`` of the run's final model, or None when the run has none. ``epoch``:
    ``selected`` (final_info.json's), ``last`` or a number, as spot.py's --epoch."""
    run_layout = RunLayout(Path(run_dir))
    layout, info_path = run_layout.final, run_layout.final_info
    if not info_path.is_file():
        return None
    checkpoints = layout.checkpoints()
    if epoch == "selected":
        try:
            number = int(json.loads(info_path.read_text())["epoch"])
        except (ValueError, KeyError) as error:
            raise UserError(f"{info_path}: unreadable ({error})") from None
    else:
        number = max(checkpoints, default=-1) if epoch == "last" else int(epoch)
    if number not in checkpoints:
        raise UserError(f"{layout.models}: no checkpoint for epoch {number} of the final model")
    return int(number), checkpoints[number]


def run_models(run_dir: Path, folds: list[str], epoch: str, every_fold: bool) -> tuple[list[FoldModel], bool]:
    """``(the models, whether it is the final model)``: with ``every_fold`` (no ``--folds``) the run's final model
    when it has one (FINAL=1 bash pipeline.sh), else :func:`choose_models`."""
    final = final_checkpoint(run_dir, epoch) if every_fold else None
    if final:
        return [FoldModel(FINAL_FOLDER, *final)], True
    return choose_models(run_dir, folds, epoch), False


def models_line(models: list[FoldModel], final: bool) -> str:
    """The line naming the models a spot uses."""
    if final:
        return f"models: the final model (every subject, {FINAL_FOLDER}/) @{models[0].epoch}"
    return f"models: {len(models)} fold(s): " + ", ".join(f"{m.subject}@{m.epoch}" for m in models)
