"""Reruns as researchers make them, one test per case the task graph was built for: each rerun gives what a clean
run with the same inputs gives, redoes nothing that did not change, and refuses bad input before any work.
(The Slurm cases are in test_slurm_consistency.py; the random sequences in test_rerun_invariant.py.)"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from core_fixtures import (MarkedFaces, call_main, checkpoint_adjacency, differences, edit_config, marked_frame_folder,
                           run_outputs, run_pipeline, tiny_archive)

pytestmark = pytest.mark.e2e  # whole runs

SUBJECTS = ["subj_a", "subj_b", "subj_c"]
INNER = {"selection": "inner-cv", "adjacency_scope": "train", "inner_folds": 2}


def request(root: Path, run: str = "run", **env) -> dict:
    return {"DATASET": "tiny", "CONFIG": str(root / "config.yaml"), "OUTPUT": str(root / run), "THREADS": "1", **env}


def ok(env: dict, cwd: Path | None = None):
    result = run_pipeline(env, cwd=cwd)
    assert result.returncode == 0, str(result)
    return result


def clean_copy(root: Path, fresh: Path, names=("features", "config.yaml")) -> Path:
    """The inputs of ``root`` as they are now, in a new folder (the same relative paths)."""
    fresh.mkdir()
    for name in names:
        source = root / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, fresh / name)
    return fresh


def same_as_clean(root: Path, tmp_path: Path, env: dict | None = None, **select) -> None:
    fresh = clean_copy(root, tmp_path / "clean")
    ok(request(fresh, **(env or {})))
    wrong = differences(run_outputs(root / "run", **select), run_outputs(fresh / "run", **select))
    assert not wrong, f"the rerun differs from a clean run in {wrong[:8]}"


def mtimes(folder: Path, pattern: str = "*.pth.tar") -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob(pattern))}


@pytest.fixture
def no_plots(monkeypatch):
    monkeypatch.setattr("utils.plots.plot_run", lambda *args: [])


@pytest.fixture
def tiny(tmp_path, no_plots) -> Path:
    root = tmp_path / "world"
    root.mkdir()
    tiny_archive(root, SUBJECTS)
    return root


# --------------------------------------------------------------------------- inner-cv


def test_inner_cv_learning_rate_change_retrains_the_inner_models(tiny, tmp_path):
    edit_config(tiny / "config.yaml", **INNER)
    ok(request(tiny))
    edit_config(tiny / "config.yaml", abfcm_training_lr=0.02)
    result = ok(request(tiny))
    same_as_clean(tiny, tmp_path, inner=True)
    assert "abfcm_training_lr 0.01 -> 0.02" in result.stdout
    inner = mtimes(tiny / "run" / "subj_a" / "inner")
    ok(request(tiny, FORCE="1"))  # FORCE=1 redoes the inner models too
    after = mtimes(tiny / "run" / "subj_a" / "inner")
    assert inner.keys() == after.keys() and all(after[name] != inner[name] for name in inner)


def test_inner_cv_threshold_change_re_evaluates_the_inner_models(tiny, tmp_path):
    edit_config(tiny / "config.yaml", **INNER)
    ok(request(tiny))
    checkpoints = mtimes(tiny / "run")
    edit_config(tiny / "config.yaml", micro_apex_score_threshold=0.2, macro_apex_score_threshold=0.2)
    result = ok(request(tiny))
    same_as_clean(tiny, tmp_path, inner=True)
    assert "inner 0: training and evaluating (config: macro_apex_score_threshold 0.5 -> 0.2" in result.stdout
    # the inner models are retrained with their evaluation (one task): the outer folds keep their training
    outer = {name: t for name, t in mtimes(tiny / "run").items() if "/inner/" not in name}
    assert outer == {name: t for name, t in checkpoints.items() if "/inner/" not in name}


def test_an_inner_cv_rerun_with_two_jobs_starts_no_task(tiny):
    edit_config(tiny / "config.yaml", **INNER)
    ok(request(tiny))
    started = time.monotonic()
    result = ok(request(tiny, JOBS="2"))
    assert "log:" not in result.stdout and result.stdout.count("done before") == 3 * (1 + 2 + 1) + 2
    assert time.monotonic() - started < 30


def test_force_redoes_every_task_once_with_two_jobs(tiny):
    ok(request(tiny))
    before = mtimes(tiny / "run", "*.json")
    result = ok(request(tiny, FORCE="1", JOBS="2"))
    started = re.findall(r"\] (.+?) \((.+?)\); log:", result.stdout)
    assert sorted(label for label, _ in started) == sorted(
        [f"{s}: {step}" for s in SUBJECTS for step in ("training", "evaluating")] + ["pooling", "run report"])
    # a retrained fold clears its evaluation's outputs, so that evaluation runs as incomplete, not as forced
    assert {reason for _, reason in started} <= {"FORCE=1", "its outputs are incomplete"}
    assert "done before" not in result.stdout
    after = mtimes(tiny / "run", "*.json")
    assert all(after[name] != before[name] for name in before if "/stamps/" in f"/{name}")


def test_inner_folds_change_under_best_on_test_retrains_nothing(tmp_path, no_plots):
    root = tmp_path / "world"
    root.mkdir()
    tiny_archive(root, SUBJECTS + ["subj_d"], inner_folds=2)
    ok(request(root))
    before = mtimes(root / "run", "*")
    edit_config(root / "config.yaml", inner_folds=3)
    result = ok(request(root))
    assert "training (" not in result.stdout and "evaluating (" not in result.stdout
    assert mtimes(root / "run", "*") == before


# --------------------------------------------------------------------------- features and annotations


def test_regenerated_features_retrain_the_folds(tiny, tmp_path):
    ok(request(tiny))
    record = tiny / "features" / "extraction.json"
    record.write_text(json.dumps({"flow_settings": {"method": "dis"}, "libraries": "same"}))
    shutil.copy(record, tmp_path / "record.json")
    shutil.rmtree(tiny / "features")
    tiny_archive(tiny, SUBJECTS, seed=77)  # another synthetic seed: the same record, the same annotations
    shutil.copy(tmp_path / "record.json", record)
    result = ok(request(tiny))
    same_as_clean(tiny, tmp_path)
    assert result.stdout.count("train features: subj_") >= 3


def test_one_feature_file_changed_retrains_the_folds_that_read_it(tiny, tmp_path):
    ok(request(tiny))
    before = mtimes(tiny / "run")
    path = sorted((tiny / "features" / "train" / "subj_b").glob("*.npz"))[0]
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    np.savez(path, **{**arrays, "feature": arrays["feature"] * np.float32(1.5)})
    result = ok(request(tiny))
    same_as_clean(tiny, tmp_path)
    assert "subj_b: training (" not in result.stdout  # it trains on the others only
    after = mtimes(tiny / "run")
    assert {n for n in after if after[n] != before[n]} == {n for n in after if not n.startswith("subj_b/")}


def test_an_annotation_change_redoes_what_reads_it(tiny, tmp_path):
    ok(request(tiny))
    table = tiny / "features" / "annotations.csv"
    lines = table.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",1+2"  # subj_a's first row: another AU, so another adjacency
    table.write_text("\n".join(lines) + "\n")
    result = ok(request(tiny))
    same_as_clean(tiny, tmp_path)
    assert "adjacency changed" in result.stdout


# --------------------------------------------------------------------------- moving folders


def test_a_moved_run_folder_is_done(tiny):
    ok(request(tiny))
    (tiny / "run").rename(tiny / "run_moved")
    result = ok(request(tiny, run="run_moved"))
    assert "training (" not in result.stdout and "evaluating (" not in result.stdout
    assert "pooling: done before" in result.stdout


def test_a_moved_features_folder_is_done_and_pools_from_the_new_place(tiny, tmp_path):
    ok(request(tiny))
    (tiny / "features").rename(tiny / "moved")
    edit_config(tiny / "config.yaml", segment_feat_root="moved", anno_csv="moved/annotations.csv")
    (tiny / "run" / "final_results.csv").unlink()  # pooling must run, and read the annotations where they are now
    result = ok(request(tiny))
    assert "training (" not in result.stdout and "evaluating (" not in result.stdout
    assert "pooling (its outputs are incomplete)" in result.stdout
    fresh = clean_copy(tiny, tmp_path / "clean", names=("moved", "config.yaml"))
    ok(request(fresh))
    assert not differences(run_outputs(tiny / "run"), run_outputs(fresh / "run"))


# --------------------------------------------------------------------------- the final model


def test_a_given_adjacency_reaches_the_final_model(tiny):
    given = np.random.default_rng(5).random((12, 12)).astype(np.float32)
    np.save(tiny / "given.npy", given)
    edit_config(tiny / "config.yaml", adjacency="given.npy")
    ok(request(tiny, FINAL="1"))
    final = sorted((tiny / "run" / "final" / "models").glob("*.pth.tar"))[-1]
    fold = sorted((tiny / "run" / "subj_a" / "models").glob("*.pth.tar"))[-1]
    np.testing.assert_array_equal(checkpoint_adjacency(final), given)
    np.testing.assert_array_equal(checkpoint_adjacency(fold), given)


def test_matching_change_with_final_retrains_no_final_model(tiny):
    ok(request(tiny, FINAL="1"))
    epoch = json.loads((tiny / "run" / "final" / "final_info.json").read_text())["epoch"]
    before = mtimes(tiny / "run" / "final")
    result = ok(request(tiny, FINAL="1", MATCHING="one-to-one"))
    info = json.loads((tiny / "run" / "final" / "final_info.json").read_text())
    assert info["matching"] == "one-to-one" and "final model's record (" in result.stdout
    if info["epoch"] == epoch:  # the same epoch: the same model, not trained again
        assert "final model: done before" in result.stdout and mtimes(tiny / "run" / "final") == before


def test_a_failed_final_model_keeps_the_pooled_tables(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (a stand-in)")

    monkeypatch.setattr("model.final_model.train_final", broken)
    result = run_pipeline(request(tiny, FINAL="1"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: final model failed: internal error (likely a bug) RuntimeError: out of "
                      "memory (a stand-in); fix it and rerun: finished tasks are kept"]
    assert (tiny / "run" / "final_results.csv").is_file() and (tiny / "run" / "report.html").is_file()


def test_spot_refuses_a_final_model_the_config_moved_past(tiny):
    from model.spotting.options import SpotOptions
    from pipeline.spot import spot_inputs
    from utils.errors import UserError

    edit_config(tiny / "config.yaml", abfcm_training_lr=0.02)
    ok(request(tiny, FINAL="1"))
    edit_config(tiny / "config.yaml", abfcm_training_lr=0.05)
    ok(request(tiny))  # the folds follow; the final model is left as it was
    recording = marked_frame_folder(tiny / "take", range(1, 13))
    options = dict(inputs=(recording,), run=tiny / "run", dataset="tiny", config=tiny / "config.yaml", flow="dis",
                   report=False, out=tiny / "spots")
    with pytest.raises(UserError, match=r"the final model no longer matches the run's current config "
                                        r"\(config: abfcm_training_lr 0.02 -> 0.05\); bring it up to date with "
                                        r"FINAL=1 bash pipeline.sh"):
        spot_inputs(SpotOptions(**options), landmarker=MarkedFaces())
    epoch = json.loads((tiny / "run" / "final" / "final_info.json").read_text())["epoch"]
    assert spot_inputs(SpotOptions(**options, epoch=str(epoch)), landmarker=MarkedFaces()) == 0  # named: used
    ok(request(tiny, FINAL="1"))
    assert spot_inputs(SpotOptions(**options), landmarker=MarkedFaces()) == 0


def test_spot_refuses_a_fold_model_the_features_moved_past(tiny):
    from pipeline.stale import refuse_stale_models
    from utils.config import load_config
    from utils.errors import UserError

    ok(request(tiny))
    config = load_config("tiny", tiny / "config.yaml")
    refuse_stale_models(tiny / "run", config, SUBJECTS, final=False)
    shutil.rmtree(tiny / "features")
    tiny_archive(tiny, SUBJECTS, seed=99)
    with pytest.raises(UserError, match=r"fold subj_a's model no longer matches .*train features: subj_b changed"):
        refuse_stale_models(tiny / "run", config, SUBJECTS, final=False)


# --------------------------------------------------------------------------- checks before work


def test_a_mistyped_subject_or_seed_is_refused_before_any_training(tiny):
    for env, message in (({"SUBJECTS": "subj_a subj_zz"}, "unknown subject 'subj_zz'"),
                         ({"SEEDS": "1 2x"}, "SEEDS: '2x' is not a whole number"),
                         ({"JOBS": "0"}, "JOBS must be a positive whole number")):
        result = run_pipeline(request(tiny, **env))
        assert result.returncode == 2 and result.stderr.startswith("error: ") and message in result.stderr, str(result)
        assert not (tiny / "run" / "subj_a").exists()


def test_eval_and_inner_cv_refuse_a_mistyped_subject_or_group_before_training(tiny):
    edit_config(tiny / "config.yaml", **INNER)
    import eval as evaluate
    from model import inner_cv

    common = ["--dataset", "tiny", "--config", str(tiny / "config.yaml"), "--output", str(tiny / "run"), "--quiet"]
    for main, argv, message in (
            (evaluate.main, [*common, "--subject", "S1"], "unknown subject 'S1'"),
            (inner_cv.main, [*common, "--subject", "typo", "--group", "0"], "unknown subject 'typo'"),
            (inner_cv.main, [*common, "--subject", "subj_a", "--group", "2"], "inner group 2: must be 0 .. 1")):
        result = call_main(main, argv)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert not (tiny / "run").exists()


# --------------------------------------------------------------------------- what the old resume rule checked


def test_evaluation_settings_re_evaluate_without_training(tiny):
    ok(request(tiny))
    checkpoints = mtimes(tiny / "run")
    for env, values, named in (({"MATCHING": "one-to-one"}, {}, "config: matching published -> one-to-one"),
                               ({"SELECTION": "fixed-epoch"}, {}, "fixed epoch None -> 47"),
                               ({}, {"nms_top_K_micro": 2}, "nms_top_K_micro 5 -> 2"),
                               ({}, {"epoch_begin": 2}, "epoch_begin 1 -> 2")):
        edit_config(tiny / "config.yaml", **values)
        result = ok(request(tiny, **env))
        assert result.stdout.count(named) == len(SUBJECTS) and "training (" not in result.stdout, result.stdout
    assert mtimes(tiny / "run") == checkpoints


def test_missing_checkpoints_retrain_and_a_lost_table_re_evaluates(tiny):
    ok(request(tiny))
    (tiny / "run" / "subj_b" / "models" / "checkpoint_epoch_002.pth.tar").unlink()
    (tiny / "run" / "subj_c" / "best_res.csv").unlink()
    result = ok(request(tiny))
    assert "subj_b: training (its outputs are incomplete)" in result.stdout
    assert "subj_c: evaluating (its outputs are incomplete)" in result.stdout
    assert "subj_a: training: done before" in result.stdout


def test_eval_only_is_keyed_on_the_checkpoints_themselves(tiny, tmp_path):
    ok(request(tiny))
    archive = tmp_path / "archive"
    shutil.copytree(tiny / "run", archive)
    ok(request(tiny, run="new", CHECKPOINTS=str(archive)))
    assert run_outputs(tiny / "new", stamps=False).keys() - {"report.html"}
    path = archive / "subj_a" / "models" / "checkpoint_epoch_002.pth.tar"
    shutil.copy(archive / "subj_a" / "models" / "checkpoint_epoch_001.pth.tar", path)  # other weights, same name
    result = ok(request(tiny, run="new", CHECKPOINTS=str(archive)))
    assert "subj_a: evaluating (checkpoints: 2 changed)" in result.stdout
    assert "subj_b: evaluating: done before" in result.stdout


@pytest.mark.parametrize("force", ["0", "1"])
def test_an_archive_given_as_output_is_refused_and_left_alone(tiny, tmp_path, force):
    ok(request(tiny))
    archive = tmp_path / "archive"
    shutil.copytree(tiny / "run" / "subj_a", archive / "subj_a")
    (archive / "subj_a" / "eval_info.json").unlink()  # the published layout: best_res.csv without eval_info.json
    shutil.rmtree(archive / "subj_a" / "stamps")
    before = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    result = run_pipeline({**request(tiny), "OUTPUT": str(archive), "SUBJECTS": "subj_a", "EVAL_ONLY": "1",
                           "FORCE": force})
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 1 and len(errors) == 1 and "CHECKPOINTS=<archive> OUTPUT=<new folder>" in errors[0]
    assert {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()} == before
