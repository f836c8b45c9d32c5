"""A published checkpoint archive is only read (eval.py --checkpoints), foreign results are
never written over, and --output pointing at a file is one line."""
from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest

from core_fixtures import assert_one_line_error, make_tiny_dataset, run_script


def tree_state(root):
    """Every path under ``root`` with its sha256 and mtime: equal means nothing was written, renamed or deleted."""
    state = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        stat = path.stat()
        state[key] = (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir", stat.st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A look-alike of the authors' ckpt archive: ``<archive>/subj_a/models/`` plus their own CSVs in the fold."""
    root = tmp_path_factory.mktemp("archive")
    config = make_tiny_dataset(root, epochs=3, epoch_begin=0)
    done = run_script("train.py", config, output=root / "trained")
    assert done.returncode == 0, done.stderr[-2000:]
    fold = root / "ckpt" / "subj_a"
    shutil.copytree(root / "trained" / "subj_a" / "models", fold / "models")
    # The authors' own results, in their layout (FORMATS.md "Run output"), with made-up values.
    pd.DataFrame([[9] * 9], columns=[f"c{i}" for i in range(9)]).to_csv(fold / "best_res.csv", index=False)
    (fold / "epoch_metrics.csv").write_text("epoch,all_f1\n0,0.99\n")
    for folder, name in (("nms_csv", "final_proposals_epoch_001.csv"), ("output_csv", "proposals_epoch_001.csv")):
        (fold / folder).mkdir()
        (fold / folder / name).write_text("video_name,start_frame,end_frame,score,type_idx\nv,1,2,0.9,1\n")
    return root, config


def test_eval_with_checkpoints_writes_only_under_output(archive):
    root, config = archive
    before = tree_state(root / "ckpt")
    assert len(before) == 11  # fold, models, 3 checkpoints, 2 CSVs, 2 folders and their CSVs
    done = run_script("eval.py", config, "--checkpoints", str(root / "ckpt"), output=root / "new")
    assert done.returncode == 0, done.stderr[-2000:]
    assert tree_state(root / "ckpt") == before
    fold = root / "new" / "subj_a"
    info = json.loads((fold / "eval_info.json").read_text())
    assert info["checkpoints_dir"] == str((root / "ckpt" / "subj_a" / "models").resolve())
    assert info["epochs_evaluated"] == 3 and not (fold / "models").exists()
    assert (fold / "epoch_metrics.csv").is_file() and (fold / "logs" / "eval_config.txt").is_file()

    # The same checkpoints evaluated in place give the same numbers: the archive was really what was read.
    same = run_script("eval.py", config, output=root / "trained")
    assert same.returncode == 0, same.stderr[-2000:]
    assert (fold / "best_res.csv").read_text() == (root / "trained" / "subj_a" / "best_res.csv").read_text()


@pytest.mark.parametrize("script, extra, output, fragment", [
    ("eval.py", (), "ckpt", "CHECKPOINTS=<archive> OUTPUT=<new folder>"),   # the README's old archive command
    ("train.py", (), "ckpt", "best_res.csv without eval_info.json"),         # training would clear their files
    ("eval.py", ("--checkpoints", "ckpt"), "ckpt/out", "--output is inside --checkpoints"),
    ("eval.py", ("--checkpoints", "ckpt"), "ckpt", "--output is inside --checkpoints"),
    ("eval.py", ("--checkpoints", "no_such"), "new2", "--checkpoints is not a folder"),
])
def test_foreign_results_and_the_archive_are_refused_in_one_line(archive, script, extra, output, fragment):
    root, config = archive
    before = tree_state(root / "ckpt")
    extra = [str(root / e) if not e.startswith("--") else e for e in extra]
    done = run_script(script, config, *extra, output=root / output)
    assert_one_line_error(done, fragment)
    assert tree_state(root / "ckpt") == before


@pytest.mark.parametrize("script", ["train.py", "eval.py"])
def test_output_that_is_a_file_is_one_line(archive, tmp_path, script):
    config = archive[1]
    (tmp_path / "run.txt").write_text("not a folder")
    done = run_script(script, config, output=tmp_path / "run.txt")
    assert_one_line_error(done, "run.txt: --output exists and is not a folder")
    assert (tmp_path / "run.txt").read_text() == "not a folder"
