"""LAUNCHER=slurm against the real one-node Slurm of tests/slurm_cluster.py: a run stays consistent when
its extraction fails, when it is rerun while its jobs are queued, when squeue fails, and with relative paths."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core_fixtures import REPO_ROOT, make_tiny_dataset
from slurm_cluster import slurm_env  # noqa: F401 (a fixture)

HELD = "--begin=now+3600"  # sbatch option: the jobs stay queued for the length of the test


@pytest.fixture()
def tiny(tmp_path):
    config = make_tiny_dataset(tmp_path, epochs=4, epoch_begin=2)
    return tmp_path, {"DATASET": "tiny", "CONFIG": str(config), "SUBJECTS": "subj_a subj_b", "THREADS": "1",
                      "PYTHON": sys.executable, "LAUNCHER": "slurm"}


def pipeline(env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def submitted_jobs(output: Path) -> list[str]:
    return (output / "slurm" / "run.lock").read_text().split(":", 1)[1].split()


def cancel(env: dict, root: Path) -> None:
    """Cancel this test's jobs: those whose working folder is ``root``."""
    listed = subprocess.run(["squeue", "-h", "-o", "%A %Z"], env=env, capture_output=True, text=True, timeout=60)
    jobs = [line.split()[0] for line in listed.stdout.splitlines() if line.split()[1:] == [str(root)]]
    if jobs:
        subprocess.run(["scancel", *jobs], env=env, capture_output=True, timeout=60)


def test_a_rerun_while_the_jobs_are_queued_submits_nothing(tiny, slurm_env):
    root, env = tiny
    output = root / "run"
    env = {**slurm_env, **env, "OUTPUT": str(output), "SBATCH_ARGS": HELD}
    try:
        first = pipeline({**env, "SLURM_WAIT": "1", "SLURM_WAIT_S": "3"}, cwd=root, timeout=120)
        jobs = submitted_jobs(output)
        assert first.returncode == 1 and len(jobs) == 2, first.stdout + first.stderr  # fold array, pooling job
        assert "waited SLURM_WAIT_S=3 s: jobs " + " ".join(jobs) + " go on" in first.stderr
        submissions = sorted((output / "slurm").iterdir())
        again = pipeline(env, cwd=root)
        assert again.returncode == 1
        assert f"jobs of this run are still queued or running: {' '.join(jobs)}; nothing submitted" in again.stdout
        assert "submitted fold array" not in again.stdout and sorted((output / "slurm").iterdir()) == submissions
        cancel(slurm_env, root)
        third = pipeline(env, cwd=root)  # the jobs are gone: the lock is stale
        assert third.returncode == 0, third.stderr
        assert "have ended: submitting anew" in third.stdout and "submitted fold array" in third.stdout
    finally:
        cancel(slurm_env, root)


def test_a_failing_squeue_is_asked_again_and_a_failed_pooling_leaves_no_old_table(tiny, slurm_env, tmp_path):
    root, env = tiny
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "squeue_calls"
    real = shutil.which("squeue")
    (fake / "squeue").write_text(  # fails its first two calls, as a busy controller does
        f"#!/bin/sh\necho x >> '{calls}'\n[ $(wc -l < '{calls}') -gt 2 ] || {{ echo 'squeue: error: "
        f"Socket timed out on send/recv operation' >&2; exit 1; }}\nexec {real} \"$@\"\n")
    (fake / "squeue").chmod(0o755)
    output = root / "run"
    (output / "seed_1").mkdir(parents=True)
    for name in ("final_results.csv", "final_results.json"):
        (output / "seed_1" / name).write_text("an earlier run's table\n")
    # EVAL_ONLY over a run without checkpoints: the fold fails in eval.py, so does the pooling job.
    result = pipeline({**slurm_env, **env, "PATH": f"{fake}:{slurm_env['PATH']}", "SQUEUE_RETRY_S": "1",
                       "OUTPUT": str(output), "SLURM_WAIT": "1", "EVAL_ONLY": "1", "SEEDS": "1",
                       "SUBJECTS": "subj_b"}, cwd=root)
    assert result.returncode == 1
    assert "ended without a result" not in result.stderr
    assert "fold failed: subj_b (seed 1) (task 0, exit 1)" in result.stderr
    assert len(calls.read_text().split()) > 2
    assert not list((output / "seed_1").glob("final_results.*"))


def test_a_failed_extraction_stops_every_fold_naming_the_shard_and_its_log(tiny, slurm_env):
    """Relative CONFIG and OUTPUT (with a quote) mean the same files in the shards as in the folds."""
    root, env = tiny
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["tiny"].update(raw_root="raw_missing", segment_feat_root="new_features", raw_layout="generic")
    (root / "sub").mkdir()
    (root / "sub" / "shards.yaml").write_text(yaml.safe_dump(config))
    output = "it's a run"
    result = pipeline({**slurm_env, **env, "CONFIG": "sub/shards.yaml", "OUTPUT": output, "EXTRACT_SHARDS": "2",
                       "SLURM_WAIT": "1"}, cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    array_id = re.search(r"submitted extraction array (\d+)", result.stdout).group(1)
    submission = next((root / output / "slurm").glob("*-*"))
    for k in (1, 2):
        log = submission / f"extract_{array_id}_{k}.out"
        assert f"extraction shard {k}/2 failed (exit 2); log: {log}" in result.stderr
        assert "raw_missing" in log.read_text()  # the shard read the config given, relative to the caller
    for status in (submission / "status").iterdir():  # each fold task ended at once
        assert status.read_text().split()[0] == "3"
    assert not (root / output / "subj_a" / "models").exists()


def test_a_missing_sbatch_is_named_before_any_local_work(tiny, tmp_path):
    root, env = tiny
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(":"):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if tool.name != "sbatch" and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    result = pipeline({**os.environ, **env, "PATH": str(bin_dir), "OUTPUT": str(root / "run")}, cwd=root)
    assert result.returncode == 1
    assert result.stderr.strip() == "[pipeline] error: LAUNCHER=slurm but sbatch is not on PATH"
    assert result.stdout == "" and not (root / "run").exists()
