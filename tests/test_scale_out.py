"""Folds in parallel, seeds, and Slurm: the same bytes whatever runs the folds."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core_fixtures import REPO_ROOT, make_tiny_dataset, run_demo_pipeline
from slurm_cluster import slurm_env  # noqa: F401 (a fixture)

SUBJECTS = ["subj_a", "subj_b"]
SEEDS = ["1", "2"]
RESULT_FILES = ["final_results.csv", "final_results.json"]
FOLD_FILES = ["best_res.csv", "epoch_metrics.csv"]


def run_pipeline(env: dict, cwd: Path, base: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], cwd=cwd, env={**(base or os.environ), **env},
                          capture_output=True, text=True, timeout=600)


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
    config = make_tiny_dataset(root, epochs=20, epoch_begin=12)
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
    weights = [(output / f"seed_{s}" / "subj_a" / "models" / "checkpoint_epoch_019.pth.tar").read_bytes() for s in SEEDS]
    assert weights[0] != weights[1]
    assert "F1 over 2 seeds" in result.stdout


def test_two_folds_at_once_give_the_same_bytes(tiny, serial_run):
    root, env = tiny
    result = run_pipeline({**env, "JOBS": "2", "OUTPUT": str(root / "parallel")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run_files(root / "parallel") == run_files(serial_run[0])
    events = [line for line in result.stdout.splitlines() if line.startswith("[pipeline")]
    assert sum("subj_a (seed 1): finished" in line for line in events) == 1
    assert (root / "parallel" / "seed_1" / "pipeline_logs" / "subj_a.log").is_file()


def test_parallel_failure_stops_and_names_the_fold(tiny, tmp_path):
    root, env = tiny
    result = run_pipeline({**env, "JOBS": "2", "SEEDS": "1", "OUTPUT": str(tmp_path / "run"),
                           "SUBJECTS": "subj_zz subj_a subj_b subj_a"}, cwd=root)
    assert result.returncode != 0
    assert "subj_zz" in result.stderr and "unknown subject" in result.stderr
    assert not (tmp_path / "run" / "seed_1" / "subj_b").exists()  # started no fold after the failure


def test_rerun_with_another_rule_evaluates_without_training(tiny, serial_run, tmp_path):
    root, env = tiny
    import shutil
    shutil.copytree(serial_run[0], tmp_path / "run")
    checkpoint = tmp_path / "run" / "seed_1" / "subj_a" / "models" / "checkpoint_epoch_015.pth.tar"
    before = checkpoint.stat().st_mtime_ns
    result = run_pipeline({**env, "SEEDS": "1", "OUTPUT": str(tmp_path / "run"), "MATCHING": "one-to-one"}, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training" not in result.stdout and checkpoint.stat().st_mtime_ns == before
    assert result.stdout.count("evaluated with matching published (asked: one-to-one)") == len(SUBJECTS)
    info = json.loads((tmp_path / "run" / "seed_1" / "subj_a" / "eval_info.json").read_text())
    assert info["matching"] == "one-to-one"


def test_slurm_run_equals_the_local_one(tiny, serial_run, slurm_env):
    root, env = tiny
    output = root / "slurm"
    result = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "OUTPUT": str(output)}, cwd=root,
                          base=slurm_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "submitted fold array" in result.stdout and "squeue -j" in result.stdout
    assert run_files(output) == run_files(serial_run[0])
    # A rerun submits no fold, only the pooling job.
    again = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "OUTPUT": str(output)}, cwd=root,
                         base=slurm_env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "submitted fold array" not in again.stdout and again.stdout.count("skipped") == 4


def test_slurm_extraction_shards_equal_one_local_run(slurm_env, tmp_path):
    """EXTRACT_SHARDS=2 with LAUNCHER=slurm on a reduced demo: rendered once by the submitting shell, extracted
    as a 2-task array, the folds after it. Segments, annotations and the pooled table equal a local run's."""
    reduced = dict(synth_subjects=2, synth_videos_per_subject=2, synth_frames_per_video=300, epochs=4,
                   epoch_begin=2, batch_size=2, subject_list=["casme_015", "casme_016"], device="cpu")
    local = run_demo_pipeline(tmp_path / "local", timeout=900, env={"THREADS": "1"}, **reduced)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    sharded = run_demo_pipeline(tmp_path / "slurm", timeout=900, base=slurm_env, env={
        "LAUNCHER": "slurm", "EXTRACT_SHARDS": "2", "SLURM_WAIT": "1", "THREADS": "1"}, **reduced)
    assert sharded.returncode == 0, sharded.stdout[-3000:] + sharded.stderr[-3000:]
    assert "submitted extraction array" in sharded.stdout and ": 2 shards" in sharded.stdout

    def tree(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
                if p.is_file() and p.suffix in (".npz", ".csv") and p.relative_to(folder).parts[0] != "cache"}
        # (cache/ records each video's source path, which differs between the two trees)

    local_features, sharded_features = tree(tmp_path / "local" / "features"), tree(tmp_path / "slurm" / "features")
    assert sum(name.endswith(".npz") for name in local_features) >= 8  # 4 videos, train and test windows
    assert sharded_features == local_features
    for name in RESULT_FILES:
        assert (tmp_path / "slurm" / "run" / name).read_bytes() == (tmp_path / "local" / "run" / name).read_bytes()


def test_slurm_failed_task_is_named(tiny, slurm_env, tmp_path):
    root, env = tiny
    # EVAL_ONLY over an empty run folder: every task fails in eval.py (no checkpoints).
    result = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "EVAL_ONLY": "1", "SEEDS": "1",
                           "SUBJECTS": "subj_b", "OUTPUT": str(tmp_path / "run")}, cwd=root, base=slurm_env)
    assert result.returncode != 0
    assert "fold failed: subj_b (seed 1) (task 0, exit 1)" in result.stderr


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
    config = make_tiny_dataset(root, epochs=12, epoch_begin=6)
    values = yaml.safe_load(config.read_text())
    values["tiny"].update(adjacency_scope="train", inner_folds=2, selection="inner-cv")
    config.write_text(yaml.safe_dump(values, sort_keys=False))
    env = {"DATASET": "tiny", "CONFIG": str(config), "THREADS": "1", "FINAL": "1", "PYTHON": os.sys.executable}
    result = run_pipeline({**env, "JOBS": "1", "OUTPUT": str(root / "serial")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, env


def inner_run_files(output: Path) -> dict[str, bytes]:
    """Checkpoints, tables, matrices and the final model's record: what must not depend on the launcher."""
    files = {str(path.relative_to(output)): path.read_bytes() for path in sorted(output.rglob("*"))
             if path.suffix in (".tar", ".csv", ".npy") or path.name == "final_info.json"}
    return {name: data for name, data in files.items() if not name.startswith(("slurm/", "pipeline_logs/"))}


def test_inner_cv_trainings_as_their_own_tasks_give_the_same_bytes(tiny_inner):
    root, env = tiny_inner
    serial = inner_run_files(root / "serial")
    final_epochs = json.loads(serial["final/final_info.json"])["epoch"] + 1  # the final model stops at its epoch
    assert sum(name.endswith(".tar") for name in serial) == 3 * 3 * 12 + final_epochs  # 3 folds x (K + 1)
    assert {"subj_a/inner/1/epoch_metrics.csv", "final/final_info.json"} <= set(serial)
    result = run_pipeline({**env, "JOBS": "2", "OUTPUT": str(root / "parallel")}, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "9 trainings (inner-cv: 3 folds x 3)" in result.stdout
    assert inner_run_files(root / "parallel") == serial
    assert (root / "parallel" / "pipeline_logs" / "subj_b.inner1.log").is_file()


def test_inner_cv_under_slurm_is_one_training_array_and_the_same_bytes(tiny_inner, slurm_env):
    root, env = tiny_inner
    output = root / "slurm"
    result = run_pipeline({**env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "OUTPUT": str(output)}, cwd=root,
                          base=slurm_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "9 trainings (inner-cv: 3 folds x 3)" in result.stdout
    (submission,) = [path for path in (output / "slurm").iterdir() if path.is_dir()]
    assert (submission / "training_tasks.txt").read_text().splitlines()[:3] == ["- subj_a outer", "- subj_a 0",
                                                                                "- subj_a 1"]
    assert inner_run_files(output) == inner_run_files(root / "serial")
