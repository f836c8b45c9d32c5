"""What a fold needs now: the one resume rule of pipeline.sh and its Slurm tasks.

python -m utils.fold_status --dataset D --output DIR --subject S [--config FILE] [--checkpoints DIR]
                            [--matching M] [--selection S] [--seed N] [--eval-only] [--force]

Prints ``<action>\\t<reason>`` with action ``done`` (skip), ``evaluate`` (checkpoints kept) or ``train``.
A fold is done only when it has checkpoints and its ``eval_info.json`` records the matching rule,
selection protocol and fixed epoch asked for now, over the same checkpoints (folder and fingerprint),
with the same evaluation key, and its training recorded the same training key (utils/resume_key.py:
the resolved config, the annotation table's content, the adjacency, the features' extraction record).
A changed training key retrains the fold, a changed evaluation key only re-evaluates it; the reason
names what changed. Checkpoints read from an archive (``--checkpoints``) or with ``--eval-only`` are
never retrained, so their training key is not asked. A fold of OUTPUT holding results this project did
not write (``best_res.csv`` without ``eval_info.json``) is refused: they are never overwritten nor
taken as done.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from utils.config import DatasetConfig, check_subject, load_config
from utils.errors import UserError, run_cli
from utils.inner_split import fold_inner_groups, inner_training_subjects
from utils.layout import FoldLayout, checkpoints_fingerprint
from utils.matching import MATCHING_RULES
from utils.metrics import SELECTION_PROTOCOLS, fixed_epoch
from utils.resume_key import evaluation_key, key_changes, read_training_key, training_key


def _mismatches(info: dict, asked: dict) -> list[str]:
    return [f"{key} {info.get(key)!s} (asked: {value!s})" for key, value in asked.items() if info.get(key) != value]


def fold_decision(config: DatasetConfig, output: Path, subject: str, checkpoints_root: Path | None = None,
                  eval_only: bool = False, force: bool = False) -> tuple[str, str]:
    """``(action, reason)`` for one fold; see the module docstring. Raises UserError for a foreign fold."""
    check_subject(subject, config["subject_list"])
    layout = FoldLayout.of(output, subject)
    if layout.has_foreign_results():
        raise UserError(f"{layout.best_res}: results this project did not write (no eval_info.json beside it); "
                        f"they are left alone: use CHECKPOINTS=<archive> OUTPUT=<new folder>")
    source = FoldLayout.of(checkpoints_root or output, subject)
    read_only = eval_only or checkpoints_root is not None
    all_checkpoints = source.checkpoints()
    complete = all(epoch in all_checkpoints for epoch in range(config["epochs"]))
    if force:
        return ("evaluate", "FORCE=1, checkpoints kept") if read_only else ("train", "FORCE=1")

    asked = {"matching": config["matching"], "selection": config["selection"],
             "fixed_epoch": fixed_epoch(config),
             "inner_folds": config["inner_folds"] if config["selection"] == "inner-cv" else None}
    training_changes = [] if read_only else key_changes(read_training_key(layout.logs), training_key(config))
    if not all_checkpoints:
        why = "no checkpoints"
    elif training_changes:
        return "train", (f"training key changed ({', '.join(training_changes)}); "
                         f"{len(all_checkpoints)} of {config['epochs']} checkpoints present, trained again")
    elif not layout.eval_info.is_file() or not layout.best_res.is_file():
        why = "not evaluated yet"
    else:
        try:
            info = json.loads(layout.eval_info.read_text())
        except json.JSONDecodeError:
            info = {}
        evaluated = {e: p for e, p in all_checkpoints.items() if e >= config["epoch_begin"]}
        differences = _mismatches(info, asked)
        if evaluated and info.get("checkpoints_dir") != str(source.models.resolve()):
            differences.append(f"checkpoints from {info.get('checkpoints_dir')} (asked: {source.models.resolve()})")
        elif evaluated and info.get("checkpoints_fingerprint") != checkpoints_fingerprint(evaluated):
            differences.append("checkpoints changed since")
        evaluation_changes = key_changes(info.get("evaluation_key"), evaluation_key(config))
        if evaluation_changes:
            differences.append(f"another evaluation key ({', '.join(evaluation_changes)})")
        if not differences:
            return "done", (f"done before (matching {asked['matching']}, selection {asked['selection']}), "
                            f"skipped (FORCE=1 redoes it)")
        why = "evaluated with " + ", ".join(differences)
    if read_only:
        return "evaluate", why
    if complete:
        return "evaluate", f"{why}; all {config['epochs']} checkpoints present, evaluated again"
    return "train", f"{why}; {len(all_checkpoints)} of {config['epochs']} checkpoints present"


def inner_decision(config: DatasetConfig, output: Path, subject: str, group: int) -> tuple[str, str]:
    """``(action, reason)`` for inner run ``group`` of a fold (selection inner-cv), by the fold's rule: done
    when its eval_info.json records the same group, training subjects, matching rule and checkpoints;
    evaluate when all checkpoints of a training on the same subjects and seed are there; else train (a
    killed training starts again, as a fold's does)."""
    layout = FoldLayout.of(output, subject).inner_run(group)
    held_out = fold_inner_groups(config, subject)[group]
    trained_on = inner_training_subjects(config, subject, held_out)
    checkpoints = layout.checkpoints()
    try:
        facts = json.loads((layout.logs / "config.txt").read_text())
    except (OSError, json.JSONDecodeError):
        facts = {}
    same_training = facts.get("train_subjects") == trained_on and facts.get("seed") == config["seed"]
    if not same_training or not all(epoch in checkpoints for epoch in range(config["epochs"])):
        return "train", f"{len(checkpoints)} of {config['epochs']} checkpoints of a training on {', '.join(trained_on)}"
    try:
        info = json.loads(layout.eval_info.read_text())
    except (OSError, json.JSONDecodeError):
        return "evaluate", "not evaluated yet"
    evaluated = {e: p for e, p in checkpoints.items() if e >= config["epoch_begin"]}
    differences = _mismatches(info, {"inner_held_out": held_out, "matching": config["matching"],
                                     "checkpoints_fingerprint": checkpoints_fingerprint(evaluated),
                                     "epochs_evaluated": len(evaluated)})
    if differences:
        return "evaluate", "evaluated with " + ", ".join(differences)
    return "done", "done before"


def main() -> None:
    parser = argparse.ArgumentParser(description="Print what one fold needs now: done, evaluate or train.")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--checkpoints", default=None, type=Path, help="read-only checkpoint root (an archive)")
    parser.add_argument("--matching", default=None, choices=MATCHING_RULES)
    parser.add_argument("--selection", default=None, choices=SELECTION_PROTOCOLS)
    parser.add_argument("--seed", type=int, default=None, help="the fold's training seed (default: the config's)")
    parser.add_argument("--eval-only", action="store_true", help="never train")
    parser.add_argument("--force", action="store_true", help="redo the fold")
    args = parser.parse_args()

    def run() -> None:
        config = load_config(args.dataset, args.config).with_overrides(matching=args.matching,
                                                                       selection=args.selection, seed=args.seed)
        action, reason = fold_decision(config, args.output, args.subject, args.checkpoints, args.eval_only,
                                       args.force)
        print(f"{action}\t{reason}")

    run_cli(run)


if __name__ == "__main__":
    main()
