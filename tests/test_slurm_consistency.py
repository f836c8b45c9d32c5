"""LAUNCHER=slurm against the real one-node Slurm of tests/slurm_cluster.py: the run lock comes before any work,
a failed task is named with its log and leaves no stale table, a failed final model keeps the pooled tables,
squeue failures are asked again, and sharded extraction after a flow change gives what a local run gives."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core_fixtures import REPO_ROOT, differences, edit_config, make_tiny_dataset, run_outputs, run_pipeline

pytestmark = pytest.mark.e2e  # whole runs

HELD = "--begin=now+3600"  # sbatch option: the jobs stay queued for the length of the test


@pytest.fixture()
def tiny(tmp_path):
    config = make_tiny_dataset(tmp_path, epochs=4, epoch_begin=2)
    return tmp_path, {"DATASET": "tiny", "CONFIG": str(config), "SUBJECTS": "subj_a subj_b", "THREADS": "1",
                      "PYTHON": sys.executable, "LAUNCHER": "slurm"}


def pipeline(env: dict, cwd: Path, timeout: float = 600):
    """``bash pipeline.sh`` with exactly ``env`` (Slurm's clients read the process environment)."""
    return run_pipeline({}, cwd=cwd, base=env, timeout=timeout, process=True)


def submitted_jobs(output: Path) -> list[str]:
    return (output / "slurm" / "run.lock").read_text().split(":", 1)[1].split()


def cancel(env: dict, root: Path) -> None:
    """Cancel this test's jobs: those whose working folder is ``root``."""
    listed = subprocess.run(["squeue", "-h", "-o", "%A %Z"], env=env, capture_output=True, text=True, timeout=60)
    jobs = [line.split()[0] for line in listed.stdout.splitlines() if line.split()[1:] == [str(root)]]
    if jobs:
        subprocess.run(["scancel", *jobs], env=env, capture_output=True, timeout=60)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file()}


def raw_world(root: Path, flow: str = "dis") -> Path:
    """Two subjects of two nine-frame videos (generic layout) and a section extracting them."""
    from fx_footage import face_frames, write_frames

    frames = face_frames(10, face_px=160, brow_raise_px=2.0)
    rows = ["subject,video_name,start_frame,apex_frame,end_frame,type_idx,au"]
    for index, subject in enumerate(("s1", "s2")):
        for video in (1, 2):
            write_frames(root / "raw" / subject / f"{subject}_v{video}", frames[(index + video) % 2:][:9])
            rows += [f"{subject},{subject}_v{video},2,4,7,1,12", f"{subject},{subject}_v{video},3,4,5,2,4"]
    (root / "anno.csv").write_text("\n".join(rows) + "\n")
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(raw_root="raw", raw_anno="anno.csv", raw_layout="generic", extraction_flow=flow,
                   segment_feat_root="features", anno_csv="features/annotations.csv", adjacency=None,
                   subject_list=["s1", "s2"], epochs=2, epoch_begin=0, batch_size=2, device="cpu")
    (root / "config.yaml").write_text(yaml.safe_dump({"raw": section}))
    return root / "config.yaml"


def test_a_rerun_while_the_jobs_are_queued_submits_nothing_and_touches_nothing(tmp_path, slurm_env):
    """After a flow change too: the lock comes first, so nothing is extracted or rewritten locally."""
    root = tmp_path
    config = raw_world(root)
    output = root / "run"
    env = {**slurm_env, "DATASET": "raw", "CONFIG": str(config), "OUTPUT": str(output), "THREADS": "1",
           "PYTHON": sys.executable, "LAUNCHER": "slurm", "SBATCH_ARGS": HELD}
    try:
        first = pipeline({**env, "SLURM_WAIT": "1", "SLURM_WAIT_S": "3"}, cwd=root, timeout=300)
        jobs = submitted_jobs(output)
        # waves: extraction, merge, trainings, evaluations, pooling, report
        assert first.returncode == 2 and len(jobs) == 6, first.stdout + first.stderr
        assert "waited SLURM_WAIT_S=3 s: jobs " + " ".join(jobs) + " go on" in first.stderr
        edit_config(config, section="raw", extraction_flow="farneback")
        before = snapshot(root)
        again = pipeline(env, cwd=root)
        assert again.returncode == 1
        assert f"jobs of this run are still queued or running: {' '.join(jobs)}; nothing submitted" in again.stdout
        assert snapshot(root) == before
        cancel(slurm_env, root)
        third = pipeline(env, cwd=root)  # the jobs are gone: the lock is stale
        assert third.returncode == 0, third.stderr
        assert "have ended: submitting anew" in third.stdout and "submitted wave 0" in third.stdout
    finally:
        cancel(slurm_env, root)


def test_a_failing_squeue_is_asked_again_and_a_failed_task_leaves_no_old_table(tiny, slurm_env, tmp_path):
    root, env = tiny
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "squeue_calls"
    real = shutil.which("squeue", path=slurm_env["PATH"])
    (fake / "squeue").write_text(  # fails its first two calls, as a busy controller does
        f"#!/bin/sh\necho x >> '{calls}'\n[ $(wc -l < '{calls}') -gt 2 ] || {{ echo 'squeue: error: "
        f"Socket timed out on send/recv operation' >&2; exit 1; }}\nexec {real} \"$@\"\n")
    (fake / "squeue").chmod(0o755)
    output = root / "run"
    (output / "seed_1").mkdir(parents=True)
    for name in ("final_results.csv", "final_results.json"):
        (output / "seed_1" / name).write_text("an earlier run's table\n")
    # EVAL_ONLY over a run without checkpoints: the fold fails in its evaluation; pooling cannot run.
    result = pipeline({**slurm_env, **env, "PATH": f"{fake}:{slurm_env['PATH']}", "SQUEUE_RETRY_S": "1",
                       "OUTPUT": str(output), "SLURM_WAIT": "1", "EVAL_ONLY": "1", "SEEDS": "1",
                       "SUBJECTS": "subj_b"}, cwd=root)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors[0].startswith("error: Slurm run failed: subj_b (seed 1): evaluating failed: ")
    assert "no checkpoint_epoch_<NNN>.pth.tar" in errors[0] and "; log: " in errors[0]
    assert errors[1] == "error: ... and 3 task(s) that needed them did not run"  # pooling, report, seed table
    assert len(calls.read_text().split()) > 2
    assert not list((output / "seed_1").glob("final_results.*"))


def test_a_failed_final_model_keeps_the_pooled_tables_and_is_one_line(tiny, slurm_env, tmp_path):
    root, env = tiny
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(  # every Python of the run, Slurm's included, breaks the final model
        "import os\nif os.environ.get('BREAK_FINAL'):\n    import model.final_model as m\n"
        "    def broken(*args, **kwargs):\n        raise MemoryError('the final model does not fit (a stand-in)')\n"
        "    m.train_final = broken\n")
    output = root / "run"
    result = pipeline({**slurm_env, **env, "OUTPUT": str(output), "SLURM_WAIT": "1", "FINAL": "1", "BREAK_FINAL": "1",
                       "PYTHONPATH": str(hook)}, cwd=root)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and errors[0].startswith(
        "error: Slurm run failed: final model failed: internal error (likely a bug) MemoryError: "
        "the final model does not fit (a stand-in); log: ")
    assert errors[1] == "error: ... and 1 task(s) that needed them did not run"  # its record
    assert (output / "final_results.csv").is_file() and (output / "report.html").is_file()
    assert not (output / "final" / "final_info.json").exists()


def test_a_missing_raw_tree_is_named_before_anything_is_submitted(tiny, slurm_env):
    root, env = tiny
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["tiny"].update(raw_root="raw_missing", segment_feat_root="new_features", raw_layout="generic")
    (root / "sub").mkdir()
    (root / "sub" / "shards.yaml").write_text(yaml.safe_dump(config))
    result = pipeline({**slurm_env, **env, "CONFIG": "sub/shards.yaml", "OUTPUT": "it's a run", "EXTRACT_SHARDS": "2",
                       "SLURM_WAIT": "1"}, cwd=root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().endswith(f"{root / 'sub' / 'raw_missing'}: raw dataset folder not found")
    assert "submitted" not in result.stdout and not (root / "it's a run" / "slurm" / "run.lock").exists()


def test_a_missing_sbatch_is_named_before_any_local_work(tiny, tmp_path):
    root, env = tiny
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(":"):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if tool.name != "sbatch" and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    result = pipeline({**os.environ, **env, "PATH": str(bin_dir), "OUTPUT": str(root / "run")}, cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: LAUNCHER=slurm but sbatch is not on PATH"
    assert result.stdout == "" and not (root / "run").exists()


def test_shards_after_a_flow_change_give_what_a_local_run_gives(tmp_path, slurm_env):
    """EXTRACT_SHARDS=2 under Slurm, then the flow changed and a sharded rerun: the folds are decided after the
    new extraction (they retrain on its features), the record names the new flow, and everything equals a local
    run from nothing with the new flow (relative paths, a quote in the run folder's name)."""
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    raw_world(sharded)
    env = {**slurm_env, "DATASET": "raw", "CONFIG": "config.yaml", "OUTPUT": "it's a run", "THREADS": "1",
           "PYTHON": sys.executable, "LAUNCHER": "slurm", "EXTRACT_SHARDS": "2", "SLURM_WAIT": "1"}
    first = pipeline(env, cwd=sharded, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "2 task(s) (extract)" in first.stdout
    edit_config(sharded / "config.yaml", section="raw", extraction_flow="farneback")
    again = pipeline(env, cwd=sharded, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    record = json.loads((sharded / "features" / "extraction.json").read_text())
    assert record["flow_settings"]["method"] == "farneback"
    for subject in ("s1", "s2"):
        logged = json.loads((sharded / "it's a run" / subject / "logs" / "extraction.json").read_text())
        assert logged["flow_settings"]["method"] == "farneback"

    local = tmp_path / "local"
    local.mkdir()
    raw_world(local, flow="farneback")
    done = pipeline({**os.environ, "DATASET": "raw", "CONFIG": "config.yaml", "OUTPUT": "run", "THREADS": "1",
                     "PYTHON": sys.executable}, cwd=local, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not differences(run_outputs(sharded / "it's a run"), run_outputs(local / "run"))
    windows = {str(p.relative_to(local / "features")): p.read_bytes() for p in (local / "features").glob("t*/*/*.npz")}
    assert windows and windows == {str(p.relative_to(sharded / "features")): p.read_bytes()
                                   for p in (sharded / "features").glob("t*/*/*.npz")}
