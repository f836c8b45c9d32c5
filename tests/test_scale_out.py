"""Tasks in parallel, seeds, and Slurm: the same bytes whatever runs the tasks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core_fixtures
from core_fixtures import make_tiny_dataset

pytestmark = pytest.mark.e2e  # whole runs

SUBJECTS = ["subj_a", "subj_b"]
SEEDS = ["1", "2"]
RESULT_FILES = ["final_results.csv", "final_results.json"]
FOLD_FILES = ["best_res.csv", "epoch_metrics.csv"]


def run_pipeline(env: dict, cwd: Path, base: dict | None = None):
    """Local runs in this process; under Slurm (``base``: the cluster's environment) ``bash pipeline.sh``."""
    return core_fixtures.run_pipeline(env, cwd=cwd, base=base, timeout=600, process=base is not None)


def run_files(output: Path) -> dict[str, bytes]:
    """Every file the tables depend on, by path relative to the run folder."""
    files = {}
    for seed in SEEDS:
        for name in RESULT_FILES:
            files[f"seed_{seed}/{name}"] = (output / f"seed_{seed}" / name).read_bytes()
        for subject in SUBJECTS:
            for name in FOLD_FILES:
                files[f"seed_{seed}/{subject}/{name}"] = (output / f"seed_{seed}" / subject / name).read_bytes()
    for name in ("seed_results.csv", "seed_results.json"):
        files[name] = (output / name).read_bytes()
    return files


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    config = make_tiny_dataset(root, epochs=6, epoch_begin=3)
    env = {"DATASET": "tiny", "CONFIG": str(config), "SUBJECTS": " ".join(SUBJECTS), "SEEDS": " ".join(SEEDS),
           "THREADS": "1", "PYTHON": os.sys.executable}
    return root, env


@pytest.fixture(scope="module")
def serial_run(tiny):
    root, env = tiny
    result = run_pipeline({**env, "JOBS": "1", "OUTPUT": str(root / "serial")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "serial", result


def test_seed_table_pools_each_seed(serial_run):
    output, result = serial_run
    table = pd.read_csv(output / "seed_results.csv").set_index("type")
    document = json.loads((output / "seed_results.json").read_text())
    f1 = {s: json.loads((output / f"seed_{s}" / "final_results.json").read_text())["scores"] for s in SEEDS}
    for kind in ("micro", "macro", "overall"):
        values = [f1[s][kind]["f1"] for s in SEEDS]
        assert [table.loc[kind, f"f1_seed_{s}"] for s in SEEDS] == pytest.approx(values)
        assert table.loc[kind, "f1_mean"] == pytest.approx(sum(values) / 2)
        assert table.loc[kind, "f1_std"] == pytest.approx(abs(values[0] - values[1]) / np.sqrt(2))  # ddof 1
        assert document["f1"][kind]["per_seed"] == pytest.approx(dict(zip(SEEDS, values)))
    # The seed reaches training: the two seeds' checkpoints differ.
    weights = [(output / f"seed_{s}" / "subj_a" / "models" / "checkpoint_epoch_005.pth.tar").read_bytes() for s in SEEDS]
    assert weights[0] != weights[1]
    assert "F1 over 2 seeds" in result.stdout


def test_two_tasks_at_once_give_the_same_bytes(tiny, serial_run):
    root, env = tiny
    result = run_pipeline({**env, "JOBS": "2", "OUTPUT": str(root / "parallel")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run_files(root / "parallel") == run_files(serial_run[0])
    events = [line for line in result.stdout.splitlines() if line.startswith("[pipeline")]
    assert sum("subj_a (seed 1): training: finished" in line for line in events) == 1
    assert (root / "parallel" / "pipeline_logs" / "train.seed_1.subj_a.log").is_file()


def test_a_failing_task_stops_the_pool_and_is_named(tiny, tmp_path):
    root, env = tiny
    output = tmp_path / "run"
    (output / "seed_1" / "subj_a" / "models").mkdir(parents=True)  # a folder where a checkpoint file must go
    (output / "seed_1" / "subj_a" / "models" / "checkpoint_epoch_000.pth.tar").mkdir()
    result = run_pipeline({**env, "JOBS": "2", "SEEDS": "1", "OUTPUT": str(output)}, cwd=root)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: subj_a (seed 1): training failed (exit 1; log: ")
    assert "[train.seed_1.subj_a] " in result.stderr  # the tail of its log
    assert not (output / "seed_1" / "final_results.csv").exists()


def test_a_mistyped_subject_is_refused_before_any_task(tiny, tmp_path):
    root, env = tiny
    result = run_pipeline({**env, "JOBS": "2", "SEEDS": "1", "OUTPUT": str(tmp_path / "run"),
                           "SUBJECTS": "subj_zz subj_a subj_b"}, cwd=root)
    assert result.returncode == 2 and "unknown subject 'subj_zz'" in result.stderr
    assert not (tmp_path / "run" / "seed_1").exists()


def test_rerun_with_another_rule_evaluates_without_training(tiny, serial_run, tmp_path):
    root, env = tiny
    import shutil
    shutil.copytree(serial_run[0], tmp_path / "run")
    checkpoint = tmp_path / "run" / "seed_1" / "subj_a" / "models" / "checkpoint_epoch_004.pth.tar"
    before = checkpoint.stat().st_mtime_ns
    result = run_pipeline({**env, "SEEDS": "1", "OUTPUT": str(tmp_path / "run"), "MATCHING": "one-to-one"}, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training (" not in result.stdout and checkpoint.stat().st_mtime_ns == before
    assert result.stdout.count("(config: matching published -> one-to-one)") == len(SUBJECTS)
    info = json.loads((tmp_path / "run" / "seed_1" / "subj_a" / "eval_info.json").read_text())
    assert info["matching"] == "one-to-one"


def test_slurm_run_equals_the_local_one(tiny, serial_run, slurm_env):
    root, env = tiny
    output = root / "slurm"
    result = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "OUTPUT": str(output)}, cwd=root,
                          base=slurm_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "submitted wave 0" in result.stdout and "squeue -j" in result.stdout
    assert run_files(output) == run_files(serial_run[0])
    # A rerun submits nothing: every task is done.
    again = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "OUTPUT": str(output)}, cwd=root,
                         base=slurm_env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "submitted wave" not in again.stdout and "every task is done; nothing submitted" in again.stdout


def test_slurm_failed_task_is_named(tiny, slurm_env, tmp_path):
    root, env = tiny
    # EVAL_ONLY over an empty run folder: every task fails in eval.py (no checkpoints).
    result = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "EVAL_ONLY": "1", "SEEDS": "1",
                           "SUBJECTS": "subj_b", "OUTPUT": str(tmp_path / "run")}, cwd=root, base=slurm_env)
    assert result.returncode != 0
    assert "Slurm run failed: subj_b (seed 1): evaluating failed: " in result.stderr


def test_checkpoints_archive_is_read_only(tiny, serial_run, tmp_path):
    """CHECKPOINTS=<archive> OUTPUT=<new>: results in OUTPUT, the archive (with the authors' CSVs) untouched."""
    root, env = tiny
    import shutil
    archive = tmp_path / "archive"
    shutil.copytree(serial_run[0] / "seed_1", archive)
    for info in archive.glob("*/eval_info.json"):
        info.unlink()  # published layout: best_res.csv, nms_csv/ ... without our eval_info.json
    before = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    stats = {p: p.stat().st_mtime_ns for p in archive.rglob("*")}
    result = run_pipeline({**env, "SEEDS": "", "CHECKPOINTS": str(archive), "OUTPUT": str(tmp_path / "new")},
                          cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "training" not in result.stdout
    assert {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()} == before
    assert {p: p.stat().st_mtime_ns for p in archive.rglob("*")} == stats
    for subject in SUBJECTS:
        assert (tmp_path / "new" / subject / "best_res.csv").read_bytes() == \
            (serial_run[0] / "seed_1" / subject / "best_res.csv").read_bytes()


@pytest.fixture(scope="module")
def tiny_inner(tmp_path_factory):
    """inner-cv with K = 2 on the three tiny subjects, and the final model, run one fold at a time."""
    import yaml

    root = tmp_path_factory.mktemp("inner")
    config = make_tiny_dataset(root, epochs=6, epoch_begin=3)
    values = yaml.safe_load(config.read_text())
    values["tiny"].update(adjacency_scope="train", inner_folds=2, selection="inner-cv")
    config.write_text(yaml.safe_dump(values, sort_keys=False))
    env = {"DATASET": "tiny", "CONFIG": str(config), "THREADS": "1", "FINAL": "1", "PYTHON": os.sys.executable}
    result = run_pipeline({**env, "JOBS": "1", "OUTPUT": str(root / "serial")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, env


def inner_run_files(output: Path) -> dict[str, bytes]:
    """Checkpoints, tables, matrices, the final model's record and every stamp: what must not depend on the
    launcher."""
    files = {str(path.relative_to(output)): path.read_bytes() for path in sorted(output.rglob("*"))
             if path.suffix in (".tar", ".csv", ".npy") or path.name == "final_info.json"
             or path.parent.name == "stamps" and path.suffix == ".json"}
    return {name: data for name, data in files.items() if not name.startswith(("slurm/", "pipeline_logs/"))}


def test_inner_cv_trainings_as_their_own_tasks_give_the_same_bytes(tiny_inner):
    root, env = tiny_inner
    serial = inner_run_files(root / "serial")
    final_epochs = json.loads(serial["final/final_info.json"])["epoch"] + 1  # the final model stops at its epoch
    assert sum(name.endswith(".tar") for name in serial) == 3 * 3 * 6 + final_epochs  # 3 folds x (K + 1)
    assert {"subj_a/inner/1/epoch_metrics.csv", "final/final_info.json"} <= set(serial)
    result = run_pipeline({**env, "JOBS": "2", "OUTPUT": str(root / "parallel")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert inner_run_files(root / "parallel") == serial
    assert (root / "parallel" / "pipeline_logs" / "inner.subj_b.inner1.log").is_file()


def test_inner_cv_under_slurm_is_one_training_array_and_the_same_bytes(tiny_inner, slurm_env):
    root, env = tiny_inner
    output = root / "slurm"
    result = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "OUTPUT": str(output)}, cwd=root,
                          base=slurm_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "submitted wave 0 as array" in result.stdout and "9 task(s) (inner, train)" in result.stdout
    (submission,) = [path for path in (output / "slurm").iterdir() if path.is_dir()]
    waves = json.loads((submission / "graph.json").read_text())["waves"]
    assert waves[0][:3] == ["train/subj_a", "inner/subj_a/inner0", "inner/subj_a/inner1"] and len(waves[0]) == 9
    assert inner_run_files(output) == inner_run_files(root / "serial")
