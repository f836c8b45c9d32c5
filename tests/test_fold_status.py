"""The resume rule: done only for the same request over the same checkpoints, foreign results refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core_fixtures import REPO_ROOT, make_tiny_dataset
from utils.config import load_config
from utils.errors import UserError
from utils.fold_status import fold_decision
from utils.layout import FoldLayout, checkpoints_fingerprint


@pytest.fixture()
def config(tmp_path):
    return load_config("tiny", make_tiny_dataset(tmp_path, epochs=6, epoch_begin=3))


def make_checkpoints(root, epochs):
    layout = FoldLayout.of(root, "subj_a")
    layout.models.mkdir(parents=True, exist_ok=True)
    for epoch in epochs:
        layout.checkpoint(epoch).write_bytes(b"weights %d" % epoch)
    return layout


def mark_evaluated(layout, config, **changes):
    evaluated = {e: p for e, p in layout.checkpoints().items() if e >= config["epoch_begin"]}
    info = {"matching": "published", "selection": "best-on-test", "fixed_epoch": None,
            "checkpoints_dir": str(layout.models.resolve()), "checkpoints_fingerprint": checkpoints_fingerprint(evaluated)}
    layout.eval_info.write_text(json.dumps({**info, **changes}))
    layout.best_res.write_text("micro_tp\n0\n")


def test_fresh_fold_trains_complete_one_evaluates(config, tmp_path):
    assert fold_decision(config, tmp_path / "run", "subj_a")[0] == "train"
    make_checkpoints(tmp_path / "run", range(5))  # epoch 5 missing
    action, reason = fold_decision(config, tmp_path / "run", "subj_a")
    assert action == "train" and "5 of 6 checkpoints" in reason
    make_checkpoints(tmp_path / "run", [5])
    assert fold_decision(config, tmp_path / "run", "subj_a") == (
        "evaluate", "not evaluated yet; all 6 checkpoints present, evaluated again")


def test_done_only_for_the_same_request(config, tmp_path):
    layout = make_checkpoints(tmp_path / "run", range(6))
    mark_evaluated(layout, config)
    assert fold_decision(config, tmp_path / "run", "subj_a")[0] == "done"
    action, reason = fold_decision(config.with_overrides(matching="one-to-one"), tmp_path / "run", "subj_a")
    assert action == "evaluate" and "matching published (asked: one-to-one)" in reason
    action, reason = fold_decision(config.with_overrides(selection="fixed-epoch"), tmp_path / "run", "subj_a")
    assert action == "evaluate" and "selection best-on-test (asked: fixed-epoch)" in reason and "fixed_epoch" in reason
    mark_evaluated(layout, config, selection="fixed-epoch", fixed_epoch=3)  # another fixed epoch than the config's
    action, reason = fold_decision(config.with_overrides(selection="fixed-epoch"), tmp_path / "run", "subj_a")
    assert action == "evaluate" and f"fixed_epoch 3 (asked: {config['abfcm_best_epoch']})" in reason
    mark_evaluated(layout, config)
    layout.checkpoint(4).write_bytes(b"retrained, longer")
    action, reason = fold_decision(config, tmp_path / "run", "subj_a")
    assert action == "evaluate" and "checkpoints changed" in reason
    mark_evaluated(layout, config)
    assert fold_decision(config, tmp_path / "run", "subj_a", force=True) == ("train", "FORCE=1")
    assert fold_decision(config, tmp_path / "run", "subj_a", eval_only=True, force=True)[0] == "evaluate"


def test_other_checkpoint_folder_is_not_done(config, tmp_path):
    layout = make_checkpoints(tmp_path / "run", range(6))
    mark_evaluated(layout, config)
    make_checkpoints(tmp_path / "archive", range(6))
    action, reason = fold_decision(config, tmp_path / "run", "subj_a", checkpoints_root=tmp_path / "archive")
    assert action == "evaluate" and "checkpoints from" in reason


@pytest.mark.parametrize("force", [False, True])
def test_foreign_results_are_refused(config, tmp_path, force):
    layout = make_checkpoints(tmp_path / "run", range(6))
    layout.best_res.write_text("authors' own\n")
    with pytest.raises(UserError, match=r"CHECKPOINTS=<archive> OUTPUT=<new folder>"):
        fold_decision(config, tmp_path / "run", "subj_a", eval_only=True, force=force)


def test_pipeline_refuses_an_archive_as_output_and_leaves_it_alone(tmp_path):
    config_path = make_tiny_dataset(tmp_path, epochs=6, epoch_begin=3)
    layout = make_checkpoints(tmp_path / "archive", range(6))
    layout.best_res.write_text("authors' own\n")
    (layout.root / "nms_csv").mkdir()
    (layout.root / "nms_csv" / "final_proposals_epoch_005.csv").write_text("authors' own\n")
    before = {p: p.read_bytes() for p in (tmp_path / "archive").rglob("*") if p.is_file()}
    for force in ("0", "1"):
        env = {**os.environ, "DATASET": "tiny", "CONFIG": str(config_path), "OUTPUT": str(tmp_path / "archive"),
               "SUBJECTS": "subj_a", "EVAL_ONLY": "1", "FORCE": force, "PYTHON": sys.executable}
        result = subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode != 0
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "CHECKPOINTS=<archive> OUTPUT=<new folder>" in errors[0]
    assert {p: p.read_bytes() for p in (tmp_path / "archive").rglob("*") if p.is_file()} == before
