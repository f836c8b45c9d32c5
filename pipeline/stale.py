"""spot.py's check that the models it is about to use still match the run's current config.

A fold's model or the final model made by pipeline.sh has a stamp holding the key of what it was trained on
(pipeline/graph.py). The key is asked again with the config spot.py loads, the run's own seed, thread count and
device as the stamp recorded them, and the feature files as they are now. A model whose key changed is refused
in one line saying how to bring it up to date; a model without a stamp (the published checkpoints, a model of
train.py) is used as it is, and so is one the user names explicitly (spot.py ``--folds`` or ``--epoch N``).
"""
from __future__ import annotations

from pathlib import Path

from model.settings import TrainingSettings
from utils.config import DatasetConfig
from utils.errors import UserError
from utils.layout import RunLayout

from pipeline.graph import Decider, changes
from pipeline.request import Request
from pipeline.run import Run, Task, read_stamp


def _check(run_dir: Path, config: DatasetConfig, task: Task, stamp: dict, what: str, fix: str,
           subjects: tuple[str, ...] | None = None) -> None:
    """UserError when ``task``'s key asked now differs from its ``stamp``'s."""
    recorded = stamp.get("reads") or {}
    seed = (recorded.get("config") or {}).get("seed", TrainingSettings.from_config(config).seed)
    request = Request(dataset=config.name, config=config.source, output=Path(run_dir).resolve(), subjects=subjects,
                      threads=int(recorded.get("threads") or 1), device=recorded.get("device"))
    run = Run(request, config.with_overrides(seed=seed))
    try:
        status = Decider(run, {task.id: task}).status(task.id, ignore_deps=True)
    except UserError as error:  # what it was trained from is gone (a fold's outputs, a feature folder)
        raise UserError(f"{what} cannot be checked against the run ({error}); {fix}") from None
    if status.key != stamp["key"]:
        raise UserError(f"{what} no longer matches the run's current config ({changes(recorded, status.reads)}); "
                        f"{fix}")


def refuse_stale_models(run_dir: Path, config: DatasetConfig, folds: list[str], final: bool) -> None:
    """UserError when the final model (``final``) or a fold model of ``folds`` is out of date."""
    from pipeline.tasks import Final, FinalInfo, Train

    layout = RunLayout(Path(run_dir))
    if final:
        stamp = read_stamp(layout.final.stamp(Final.name))
        if stamp is not None:
            record = read_stamp(layout.final.stamp(FinalInfo.name)) or {}
            loso_folds = tuple(record.get("reads", {}).get("folds", {})) or None
            _check(run_dir, config, Task(Final.name), stamp, f"{layout.final.root}: the final model",
                   "bring it up to date with FINAL=1 bash pipeline.sh (same OUTPUT), or name an epoch (--epoch N) "
                   "to use it as it is", loso_folds)
        return
    for subject in folds:
        stamp = read_stamp(layout.fold(subject).stamp(Train.name))
        if stamp is not None:
            _check(run_dir, config, Task(Train.name, subject=subject), stamp, f"fold {subject}'s model",
                   "bring it up to date with bash pipeline.sh (same OUTPUT), or name the folds (--folds) or an "
                   "epoch (--epoch N) to use them as they are")
