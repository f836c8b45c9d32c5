"""A new training run of a fold starts clean; last-epoch selection never falls back on the test outputs."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from core_fixtures import make_tiny_dataset, run_script
from utils.selection import select_epoch


def run(script: str, config) -> None:
    result = run_script(script, config)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.e2e
def test_shorter_retraining_leaves_no_old_checkpoints_or_results(tmp_path):
    config = make_tiny_dataset(tmp_path, epochs=5, epoch_begin=0)
    run("train.py", config)
    run("eval.py", config)
    fold = tmp_path / "run" / "subj_a"
    assert (fold / "best_res.csv").is_file() and len(list((fold / "models").iterdir())) == 5

    document = yaml.safe_load(config.read_text())
    document["tiny"]["epochs"] = 2
    config.write_text(yaml.safe_dump(document))
    run("train.py", config)
    assert sorted(p.name for p in (fold / "models").iterdir()) == ["checkpoint_epoch_000.pth.tar",
                                                                  "checkpoint_epoch_001.pth.tar"]
    for stale in ("best_res.csv", "epoch_metrics.csv", "eval_info.json", "output_csv", "nms_csv"):
        assert not (fold / stale).exists(), stale
    assert len(list((fold / "logs").glob("events.out.tfevents.*"))) == 1


def test_last_epoch_is_the_final_checkpoint_or_nothing():
    metrics = pd.DataFrame({"epoch": [3, 4, 6], "all_f1": [0.1, 0.5, 0.2]})
    assert select_epoch(metrics, "last-epoch", last_epoch=6)["epoch"] == 6
    assert select_epoch(metrics, "last-epoch", last_epoch=7) is None  # epoch 7 had no proposal: no fallback to 6
