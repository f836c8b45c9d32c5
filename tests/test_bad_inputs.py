"""Bad input: one clear line naming the file and the problem, exit code 2, nothing half-written."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from core_fixtures import assert_one_line_error, copy_dataset, make_tiny_dataset, run_script
from utils.io import atomic_path, atomic_write_text


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    return root, make_tiny_dataset(root, epochs=2, epoch_begin=0)


def test_missing_feature_root(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    shutil.rmtree(tmp_path / "features" / "train")
    result = run_script("train.py", config)
    assert_one_line_error(result, str(tmp_path / "features"), "train/")
    assert not (tmp_path / "run" / "subj_a" / "models").exists()


def test_empty_subject_folder(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    for path in (tmp_path / "features" / "train" / "subj_b").iterdir():
        path.unlink()
    assert_one_line_error(run_script("train.py", config), str(tmp_path / "features" / "train" / "subj_b"),
                          "no segment files")


def test_unknown_subject(dataset):
    _, config = dataset
    # as its own process too: the one line and the exit status are what a shell sees
    assert_one_line_error(run_script("train.py", config, subject="subj_zz", in_process=False), "unknown subject 'subj_zz'")
    assert_one_line_error(run_script("eval.py", config, subject="subj_zz"), "unknown subject 'subj_zz'")


def test_corrupt_npz(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    victim = sorted((tmp_path / "features" / "train" / "subj_b").iterdir())[0]
    victim.write_bytes(b"this is not a zip archive")
    assert_one_line_error(run_script("train.py", config), str(victim), "not a readable npz")


def test_wrongly_shaped_npz(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    victim = sorted((tmp_path / "features" / "train" / "subj_c").iterdir())[0]
    np.savez(victim.with_suffix(""), feature=np.zeros((256, 12, 2), np.float32), label=np.zeros((270, 8), np.int32),
             video_name=np.array("subj_c_0000"))
    assert_one_line_error(run_script("train.py", config), str(victim), "(270, 12, 2)", "(256, 12, 2)")


def test_bad_segment_file_name(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    source = sorted((tmp_path / "features" / "train" / "subj_c").iterdir())[0]
    shutil.copy(source, source.parent / "no_offset_here.npz")
    assert_one_line_error(run_script("train.py", config), "no_offset_here.npz", "not a segment file name")


def test_unknown_config_key(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    document = yaml.safe_load(config.read_text())
    document["tiny"]["learning_rate"] = 0.1
    config.write_text(yaml.safe_dump(document))
    assert_one_line_error(run_script("train.py", config), str(config), "unknown key 'learning_rate'")


def test_wrong_type_in_config(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    document = yaml.safe_load(config.read_text())
    document["tiny"]["epochs"] = "ten"
    config.write_text(yaml.safe_dump(document))
    assert_one_line_error(run_script("train.py", config), str(config), "'epochs' must be int")


def test_eval_problems(dataset, tmp_path):
    root, _ = dataset
    config = copy_dataset(root, tmp_path)
    result = run_script("eval.py", config)  # nothing trained yet
    assert_one_line_error(result, str(tmp_path / "run" / "subj_a" / "models"), "no checkpoint")

    assert run_script("train.py", config).returncode == 0
    (tmp_path / "features" / "annotations.csv").rename(tmp_path / "features" / "moved.csv")
    assert_one_line_error(run_script("eval.py", config), str(tmp_path / "features" / "annotations.csv"), "not found")
    (tmp_path / "features" / "moved.csv").rename(tmp_path / "features" / "annotations.csv")

    checkpoint = tmp_path / "run" / "subj_a" / "models" / "checkpoint_epoch_001.pth.tar"
    checkpoint.write_bytes(b"\x00truncated")
    assert_one_line_error(run_script("eval.py", config), str(checkpoint), "not a readable checkpoint")
    assert not (tmp_path / "run" / "subj_a" / "best_res.csv").exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "table.csv"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
