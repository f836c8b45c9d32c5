"""Windows -> scores: the batched (BatchNorm-folded, grouped) forward pass equals the per-checkpoint one, the fold-ensemble
average, and evaluation's vectorised proposals equal a plain per-epoch loop."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core_fixtures import make_tiny_dataset, predict, run_script
from dataset import segments
from dataset.targets import normalise_features
from model.auwgcn import AUWGCN
from model.evaluation import epoch_proposals, proposals_by_epoch
from model.scoring import (Scores, average_scores, batched_scores, build_model, device_error_message,
                           load_state_dict)
from utils.config import load_config
from utils.cores import usable_cores
from utils.errors import UserError
from utils.layout import FoldLayout
from utils.matching import count_matches
from utils.metrics import EPOCH_METRIC_COLUMNS, epoch_metrics_row
from utils.annotations import EXPRESSION_TYPES, read_annotation_table, subject_ground_truth
from utils.nms import nms
from utils.proposals import proposal_params


def _random_states(count: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    states = []
    for _ in range(count):
        model = AUWGCN(torch.rand(12, 12))
        for module in model.modules():  # non-trivial BatchNorm statistics, as after training
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    return states


@pytest.mark.parametrize("per_pass", [None, 2, 5])  # CPU default (one a pass), grouped with a remainder, all
def test_batched_scores_equal_per_checkpoint_forward(per_pass):
    states = _random_states(5)
    inputs = torch.randn(3, 270, 12, 2)
    batched = batched_scores(states, [Path(f"ckpt{i}") for i in range(5)], inputs, torch.device("cpu"), per_pass)
    assert len(batched) == 5
    for state, got in zip(states, batched):
        expected = predict(build_model(state, Path("x"), torch.device("cpu")), inputs)
        for field in ("start", "end", "apex"):
            for t in EXPRESSION_TYPES:
                np.testing.assert_allclose(getattr(got, field)[t], getattr(expected, field)[t], rtol=0, atol=2e-6)


def test_a_state_that_does_not_fit_is_named():
    states = _random_states(2)
    del states[1]["_classification.weight"]
    with pytest.raises(UserError, match="ckpt1: state_dict does not fit"):
        batched_scores(states, [Path("ckpt0"), Path("ckpt1")], torch.randn(1, 270, 12, 2), torch.device("cpu"))


def test_average_scores_by_hand():
    def make(value_start, value_apex):
        full = lambda v: {t: np.full((1, 256), v, np.float32) for t in EXPRESSION_TYPES}  # noqa: E731
        return Scores(full(value_start), full(1 - value_start), full(value_apex))

    mean = average_scores([make(0.2, 0.9), make(0.4, 0.3), make(0.9, 0.0)])
    for t in EXPRESSION_TYPES:
        np.testing.assert_allclose(mean.start[t], 0.5, atol=1e-7)
        np.testing.assert_allclose(mean.end[t], 0.5, atol=1e-7)
        np.testing.assert_allclose(mean.apex[t], 0.4, atol=1e-7)
    # frame-wise, not a global mean
    def per_type(*row):
        return {t: np.array([row], np.float32) for t in EXPRESSION_TYPES}

    a = Scores(per_type(0.0, 1.0), per_type(0.0, 0.0), per_type(1.0, 0.0))
    b = Scores(per_type(1.0, 1.0), per_type(1.0, 1.0), per_type(0.0, 0.0))
    mean = average_scores([a, b])
    np.testing.assert_array_equal(mean.start[2], [[0.5, 1.0]])
    np.testing.assert_array_equal(mean.apex[1], [[0.5, 0.0]])
    with pytest.raises(ValueError):
        average_scores([])


def test_device_errors_are_told_apart_from_model_errors():
    cpu = torch.device("cuda")
    assert "out of memory" in device_error_message(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried"), cpu)
    assert "device error" in device_error_message(RuntimeError("CUDA error: device-side assert triggered"), cpu)
    assert device_error_message(RuntimeError("size mismatch for weight"), cpu) is None


def test_workers_follow_the_available_cores():
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_evaluation_matches_a_per_checkpoint_loop_and_keeps_thread_settings(tmp_path):
    config_path = make_tiny_dataset(tmp_path, epochs=16, epoch_begin=6)
    output = tmp_path / "run"
    trained = run_script("train.py", config_path, subject="subj_b", output=output)
    assert trained.returncode == 0, trained.stderr
    config = load_config("tiny", config_path)
    from model.evaluation import evaluate_fold

    threads = torch.get_num_threads()
    evaluate_fold(config, "subj_b", output, torch.device("cpu"), show_progress=False)
    assert torch.get_num_threads() == threads  # library code leaves process-wide settings alone

    layout = FoldLayout.of(output, "subj_b")
    windows = segments.test_windows(Path(config["segment_feat_root"]), "subj_b")
    inputs = torch.from_numpy(normalise_features(windows.features))
    truth = subject_ground_truth(read_annotation_table(config["anno_csv"]), "subj_b", config["RATIO_SCALE"])
    top_k = {2: config["nms_top_K_micro"], 1: config["nms_top_K_macro"]}
    rows, all_scores = [], []
    for epoch, path in layout.checkpoints().items():
        if epoch < config["epoch_begin"]:
            continue
        scores = predict(build_model(load_state_dict(path), path, torch.device("cpu")), inputs)
        all_scores.append(scores)
        proposals = epoch_proposals(scores, windows, proposal_params(config))
        if proposals.empty:
            assert not layout.nms_csv(epoch).exists()
            continue
        kept = nms(proposals, top_k)
        written = pd.read_csv(layout.nms_csv(epoch))
        assert list(written.columns) == list(kept.columns)
        assert (written["video_name"].astype(str).tolist(), written["start_frame"].tolist(),
                written["end_frame"].tolist()) == (kept["video_name"].tolist(), kept["start_frame"].tolist(),
                                                    kept["end_frame"].tolist())
        np.testing.assert_allclose(written["score"], kept["score"], rtol=1e-5, atol=1e-7)
        rows.append(epoch_metrics_row(count_matches(kept, truth, config["matching"]), epoch))
    metrics = pd.read_csv(layout.epoch_metrics)
    expected = pd.DataFrame(rows, columns=EPOCH_METRIC_COLUMNS)
    assert len(expected) > 0
    assert metrics["epoch"].tolist() == expected["epoch"].tolist()
    np.testing.assert_allclose(metrics.drop(columns="epoch").to_numpy(float),
                               expected[metrics.columns.drop("epoch")].to_numpy(float), atol=1e-9)
    # the vectorised proposals equal one call per epoch, row for row
    for scores, table in zip(all_scores, proposals_by_epoch(all_scores, windows, proposal_params(config))):
        pd.testing.assert_frame_equal(table, epoch_proposals(scores, windows, proposal_params(config)))
