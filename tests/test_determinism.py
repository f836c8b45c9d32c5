"""The same command twice on CPU gives equal checkpoints and byte-identical metrics."""
from __future__ import annotations

import subprocess
import sys

import torch

from core_fixtures import REPO_ROOT, make_tiny_dataset


def train_and_evaluate(config, output) -> None:
    for script in ("train.py", "eval.py"):
        result = subprocess.run([sys.executable, str(REPO_ROOT / script), "--dataset", "tiny", "--config", str(config),
                                 "--output", str(output), "--subject", "subj_b", "--quiet"],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]


def test_same_command_twice_gives_same_results(tmp_path):
    config = make_tiny_dataset(tmp_path, epochs=16, epoch_begin=6)
    first, second = tmp_path / "first", tmp_path / "second"
    train_and_evaluate(config, first)
    train_and_evaluate(config, second)
    for name in ("epoch_metrics.csv", "best_res.csv"):
        assert (first / "subj_b" / name).read_bytes() == (second / "subj_b" / name).read_bytes()
    checkpoints = sorted((first / "subj_b" / "models").iterdir())
    assert len(checkpoints) == 16
    for path in checkpoints:
        a = torch.load(path, weights_only=True)
        b = torch.load(second / "subj_b" / "models" / path.name, weights_only=True)
        assert a["epoch"] == b["epoch"]
        assert a["state_dict"].keys() == b["state_dict"].keys()
        for key in a["state_dict"]:
            assert torch.equal(a["state_dict"][key], b["state_dict"][key]), (path.name, key)
