"""The resume rule: done only for the same request over the same checkpoints, foreign results refused."""
from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

from core_fixtures import REPO_ROOT, make_tiny_dataset
from utils.config import load_config
from utils.errors import UserError
from utils.fold_status import fold_decision
from utils.layout import FoldLayout, checkpoints_fingerprint
from utils.resume_key import evaluation_key, training_key, write_training_key


@pytest.fixture()
def config(tmp_path):
    return load_config("tiny", make_tiny_dataset(tmp_path, epochs=6, epoch_begin=3))


def make_checkpoints(root, epochs, config=None):
    """Checkpoint files of subj_a; with ``config``, the training key its training would have recorded."""
    layout = FoldLayout.of(root, "subj_a")
    layout.models.mkdir(parents=True, exist_ok=True)
    for epoch in epochs:
        layout.checkpoint(epoch).write_bytes(b"weights %d" % epoch)
    if config is not None:
        layout.logs.mkdir(parents=True, exist_ok=True)
        write_training_key(config, layout.logs)
    return layout


def mark_evaluated(layout, config, **changes):
    evaluated = {e: p for e, p in layout.checkpoints().items() if e >= config["epoch_begin"]}
    info = {"matching": "published", "selection": "best-on-test", "fixed_epoch": None,
            "checkpoints_dir": str(layout.models.resolve()),
            "checkpoints_fingerprint": checkpoints_fingerprint(evaluated),
            "evaluation_key": evaluation_key(config)}
    layout.eval_info.write_text(json.dumps({**info, **changes}))
    layout.best_res.write_text("micro_tp\n0\n")


@pytest.fixture()
def done_fold(config, tmp_path):
    """subj_a with all 6 checkpoints, trained and evaluated as ``config`` asks: a done fold."""
    layout = make_checkpoints(tmp_path / "run", range(6), config)
    mark_evaluated(layout, config)
    return layout


def test_fresh_fold_trains_complete_one_evaluates(config, tmp_path):
    assert fold_decision(config, tmp_path / "run", "subj_a")[0] == "train"
    make_checkpoints(tmp_path / "run", range(5), config)  # epoch 5 missing
    action, reason = fold_decision(config, tmp_path / "run", "subj_a")
    assert action == "train" and "5 of 6 checkpoints" in reason
    make_checkpoints(tmp_path / "run", [5], config)
    assert fold_decision(config, tmp_path / "run", "subj_a") == (
        "evaluate", "not evaluated yet; all 6 checkpoints present, evaluated again")


def test_done_only_for_the_same_request(config, tmp_path, done_fold):
    layout = done_fold
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


def test_other_checkpoint_folder_is_not_done(config, tmp_path, done_fold):
    layout = done_fold
    make_checkpoints(tmp_path / "archive", range(6))
    action, reason = fold_decision(config, tmp_path / "run", "subj_a", checkpoints_root=tmp_path / "archive")
    assert action == "evaluate" and "checkpoints from" in reason


@pytest.mark.parametrize("force", [False, True])
def test_foreign_results_are_refused(config, tmp_path, force):
    layout = make_checkpoints(tmp_path / "run", range(6), config)
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


def test_a_fold_without_checkpoints_is_never_done(config, tmp_path, done_fold):
    layout = done_fold
    for path in layout.checkpoints().values():
        path.unlink()
    assert fold_decision(config, tmp_path / "run", "subj_a") == (
        "train", "no checkpoints; 0 of 6 checkpoints present")


def test_a_changed_training_input_retrains_and_names_it(config, tmp_path, done_fold):
    layout = done_fold
    assert fold_decision(config, tmp_path / "run", "subj_a")[0] == "done"
    lr = config["abfcm_training_lr"]
    action, reason = fold_decision(config.with_overrides(abfcm_training_lr=lr * 2), tmp_path / "run", "subj_a")
    assert action == "train" and f"training key changed (abfcm_training_lr {lr} (asked: {lr * 2}))" in reason
    seed = config["seed"]  # a SEEDS run's fold trains with its own seed (fold_status --seed)
    action, reason = fold_decision(config.with_overrides(seed=seed + 1), tmp_path / "run", "subj_a")
    assert action == "train" and f"seed {seed} (asked: {seed + 1})" in reason
    anno = tmp_path / "run" / "anno.csv"  # the same path, other content: the path alone would not show it
    anno.write_text(open(config["anno_csv"]).read())
    moved = config.with_overrides(anno_csv=str(anno))
    make_checkpoints(tmp_path / "run", range(6), moved)
    mark_evaluated(layout, moved)
    assert fold_decision(moved, tmp_path / "run", "subj_a")[0] == "done"
    anno.write_text(anno.read_text().replace(",2,", ",1,", 1))
    action, reason = fold_decision(moved, tmp_path / "run", "subj_a")
    assert action == "train" and "annotation table content changed" in reason


def test_re_extracted_features_retrain(config, tmp_path, done_fold):
    layout = done_fold
    record = Path(config["segment_feat_root"]) / "extraction.json"
    record.write_text(json.dumps({"flow_settings": {"method": "dis"}, "libraries": "opencv=9"}))
    action, reason = fold_decision(config, tmp_path / "run", "subj_a")
    assert action == "train" and "extraction record changed" in reason
    # read-only checkpoints (an archive, EVAL_ONLY) are never retrained: the evaluation key says it
    action, reason = fold_decision(config, tmp_path / "run", "subj_a", eval_only=True)
    assert action == "evaluate" and "another evaluation key (extraction record changed)" in reason


def test_a_changed_evaluation_input_only_re_evaluates(config, tmp_path, done_fold):
    layout = done_fold
    top_k = config["nms_top_K_micro"]
    for change, named in (({"nms_top_K_micro": top_k + 1}, f"nms_top_K_micro {top_k} (asked: {top_k + 1})"),
                          ({"micro_apex_score_threshold": 0.25}, "micro_apex_score_threshold"),
                          ({"epoch_begin": 4}, "epoch_begin 3 (asked: 4)")):
        action, reason = fold_decision(config.with_overrides(**change), tmp_path / "run", "subj_a")
        assert action == "evaluate" and "another evaluation key (" in reason and named in reason, change
    mark_evaluated(layout, config, evaluation_key=None)  # evaluated by a version that kept no key
    assert fold_decision(config, tmp_path / "run", "subj_a")[0] == "evaluate"


def test_clear_run_removes_eval_info_before_anything_else(config, tmp_path, done_fold):
    """A clear_run that stops part-way (here: a checkpoint it cannot remove) leaves no 'evaluated' fold."""
    layout = done_fold
    layout.checkpoint(2).unlink()
    layout.checkpoint(2).mkdir()  # unlink() fails on it
    with pytest.raises(OSError):
        layout.clear_run()
    assert not layout.eval_info.exists()


def test_evaluate_fold_removes_the_old_eval_info_before_it_counts(config, tmp_path):
    import torch

    from model.evaluation import evaluate_fold
    layout = make_checkpoints(tmp_path / "run", range(6), config)  # not loadable: evaluation fails part-way
    mark_evaluated(layout, config)
    with pytest.raises(Exception):
        evaluate_fold(config, "subj_a", tmp_path / "run", torch.device("cpu"), show_progress=False)
    assert not layout.eval_info.exists()


def test_a_moved_raw_tree_keeps_the_fold_done(config):
    """raw_root says where the frames were read, not what the features are: no key may change with it."""
    record = Path(config["segment_feat_root"]) / "extraction.json"
    settings = {"flow_settings": {"method": "dis"}, "libraries": "opencv=5"}
    record.write_text(json.dumps({**settings, "raw_root": "/data/casme2"}))
    before = training_key(config), evaluation_key(config)
    record.write_text(json.dumps({**settings, "raw_root": "/mnt/copy/casme2"}))
    assert (training_key(config), evaluation_key(config)) == before
    record.write_text(json.dumps({**settings, "libraries": "opencv=6", "raw_root": "/mnt/copy/casme2"}))
    assert training_key(config) != before[0] and evaluation_key(config) != before[1]
