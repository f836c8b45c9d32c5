"""The same command twice on CPU gives equal checkpoints and byte-identical metrics: once as its own process,
once in this process after other work (leftover global state must not matter either)."""
from __future__ import annotations

import pytest
import torch

from core_fixtures import make_tiny_dataset, run_script

pytestmark = pytest.mark.e2e  # whole runs


def train_and_evaluate(config, output, in_process: bool) -> None:
    for script in ("train.py", "eval.py"):
        result = run_script(script, config, subject="subj_b", output=output, in_process=in_process)
        assert result.returncode == 0, result.stderr[-2000:]


def test_same_command_twice_gives_same_results(tmp_path):
    config = make_tiny_dataset(tmp_path, epochs=6, epoch_begin=2)
    first, second = tmp_path / "first", tmp_path / "second"
    train_and_evaluate(config, first, in_process=False)
    train_and_evaluate(config, second, in_process=True)
    for name in ("epoch_metrics.csv", "best_res.csv"):
        assert (first / "subj_b" / name).read_bytes() == (second / "subj_b" / name).read_bytes()
    checkpoints = sorted((first / "subj_b" / "models").iterdir())
    assert len(checkpoints) == 6
    for path in checkpoints:
        a = torch.load(path, weights_only=True)
        b = torch.load(second / "subj_b" / "models" / path.name, weights_only=True)
        assert a["epoch"] == b["epoch"]
        assert a["state_dict"].keys() == b["state_dict"].keys()
        for key in a["state_dict"]:
            assert torch.equal(a["state_dict"][key], b["state_dict"][key]), (path.name, key)
