"""Losses (METHOD.md section 5), against hand values and a numpy transcription of the formulas."""
import math

import numpy as np
import pytest
import torch

from model.losses import LossConfig, binary_focal_loss, loss_terms, start_end_focal_loss, total_loss
from utils.config import load_config

EPS = 1e-5


def np_binary_focal(logits, y, a, g, s):
    """Section 5, literally: pos = (y > 0); -mean(a|y-p|^g pos log(p+eps) + (1-a)|y+s-p|^g (1-pos) log(1-p+eps))."""
    p = 1.0 / (1.0 + np.exp(-logits))
    pos = (y > 0).astype(np.float64)
    return -np.mean(a * np.abs(y - p) ** g * pos * np.log(p + EPS)
                    + (1 - a) * np.abs(y + s - p) ** g * (1 - pos) * np.log(1 - p + EPS))


def np_start_end_focal(logits, classes, a, g):
    """Section 5: softmax over axis 1 (start, end, none), w = [a/2, a/2, 1-a], mean over all frames."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    q = e / e.sum(axis=1, keepdims=True)
    w = [a / 2, a / 2, 1 - a]
    total, count = 0.0, 0
    for b in range(classes.shape[0]):
        for t in range(classes.shape[1]):
            c = int(classes[b, t])
            qc = q[b, c, t]
            focus = (1 - qc) if c != 2 else max(1 - qc, 0.0)
            total += -w[c] * focus ** g * math.log(qc)
            count += 1
    return total / count


def t64(array):
    return torch.tensor(np.asarray(array, dtype=np.float64))


# ---------------------------------------------------------------- binary focal loss

def test_binary_focal_hand_value_negative_frame():
    # logit 0 -> p = 0.5; y = 0 -> (1-a) |0 + s - p|^g log(1 - p + eps)
    got = binary_focal_loss(t64([0.0]), t64([0.0]), alpha=0.9, gamma=1.0, label_smooth=0.16)
    assert got.item() == pytest.approx(-(0.1 * 0.34 * math.log(0.5 + EPS)), rel=1e-12)


def test_binary_focal_hand_value_positive_frame_gamma_2():
    # logit log(3) -> p = 0.75; y = 1 -> a |1 - p|^2 log(p + eps)
    got = binary_focal_loss(t64([math.log(3.0)]), t64([1.0]), alpha=0.8, gamma=2.0, label_smooth=0.16)
    assert got.item() == pytest.approx(-(0.8 * 0.25 ** 2 * math.log(0.75 + EPS)), rel=1e-12)


def test_binary_focal_soft_target_is_positive():
    # y = exp(-1/32) > 0 counts as positive: a |y - p|^g log(p + eps), no smoothing
    y = math.exp(-1 / 32)
    got = binary_focal_loss(t64([0.0]), t64([y]), alpha=0.9, gamma=1.0, label_smooth=0.16)
    assert got.item() == pytest.approx(-(0.9 * abs(y - 0.5) * math.log(0.5 + EPS)), rel=1e-12)


@pytest.mark.parametrize("alpha, gamma, smooth", [(0.9, 1.0, 0.16), (0.8, 2.0, 0.16), (0.7, 0.5, 0.0),
                                                  (0.6, 3.0, 0.3)])
def test_binary_focal_matches_numpy(alpha, gamma, smooth):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4, 37))
    y = np.where(rng.random((4, 37)) < 0.4, rng.choice([1.0, math.exp(-1 / 32), math.exp(-9 / 32)], (4, 37)), 0.0)
    got = binary_focal_loss(t64(logits), t64(y), alpha, gamma, smooth).item()
    assert got == pytest.approx(np_binary_focal(logits, y, alpha, gamma, smooth), rel=1e-10)


def test_binary_focal_float32():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 256)).astype(np.float32)
    y = (rng.random((2, 256)) < 0.3).astype(np.float32)
    got = binary_focal_loss(torch.from_numpy(logits), torch.from_numpy(y), 0.8, 1.0, 0.16)
    assert got.dtype == torch.float32 and got.shape == ()
    assert got.item() == pytest.approx(np_binary_focal(logits.astype(np.float64), y, 0.8, 1.0, 0.16), rel=1e-5)


# ---------------------------------------------------------------- three-class focal loss

def test_start_end_hand_value_uniform_logits():
    # q = 1/3 everywhere: class 0 -> -0.45 (2/3)^g log(1/3), class 2 -> -0.1 (2/3)^g log(1/3)
    logits = torch.zeros((1, 3, 2), dtype=torch.float64)
    classes = torch.tensor([[0, 2]])
    for gamma in (1.0, 2.0):
        expected = (-(0.45 * (2 / 3) ** gamma * math.log(1 / 3)) - (0.1 * (2 / 3) ** gamma * math.log(1 / 3))) / 2
        got = start_end_focal_loss(logits, classes, alpha=0.9, gamma=gamma)
        assert got.item() == pytest.approx(expected, rel=1e-12)


def test_start_end_hand_value_end_class():
    # logits (0, log 2, 0) -> q = (1/4, 1/2, 1/4); class 1 with alpha 0.8: -0.4 (1/2)^3 log(1/2)
    logits = torch.tensor([[[0.0], [math.log(2.0)], [0.0]]], dtype=torch.float64)
    got = start_end_focal_loss(logits, torch.tensor([[1]]), alpha=0.8, gamma=3.0)
    assert got.item() == pytest.approx(-(0.4 * 0.5 ** 3 * math.log(0.5)), rel=1e-12)


@pytest.mark.parametrize("alpha, gamma", [(0.9, 1.0), (0.9, 2.0), (0.6, 0.5)])
def test_start_end_matches_numpy(alpha, gamma):
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=2.0, size=(3, 3, 29))
    classes = rng.integers(0, 3, size=(3, 29))
    got = start_end_focal_loss(t64(logits), torch.from_numpy(classes), alpha, gamma).item()
    assert got == pytest.approx(np_start_end_focal(logits, classes, alpha, gamma), rel=1e-10)


# ---------------------------------------------------------------- named terms and the weighting

def random_batch(seed, batch=3, frames=256):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(batch, 10, frames))
    targets = {}
    for kind in ("micro", "macro"):
        targets[f"{kind}_classes"] = rng.choice([0, 1, 2], p=[0.1, 0.1, 0.8], size=(batch, frames))
        targets[f"{kind}_apex"] = np.where(rng.random((batch, frames)) < 0.1,
                                           rng.choice([1.0, math.exp(-1 / 32)], (batch, frames)), 0.0)
        targets[f"{kind}_action"] = (rng.random((batch, frames)) < 0.3).astype(np.float64)
    return logits, targets


def to_torch(targets):
    return {k: (torch.from_numpy(v) if np.issubdtype(v.dtype, np.integer) else t64(v)) for k, v in targets.items()}


def test_loss_config_defaults_are_the_published_values():
    config = LossConfig()
    assert (config.apex_alpha, config.apex_gamma, config.action_alpha, config.action_gamma,
            config.start_end_alpha, config.start_end_gamma, config.label_smooth) == (0.9, 1, 0.8, 1, 0.9, 1, 0.16)


@pytest.mark.parametrize("dataset, ratio", [("cas(me)^2", 0.5), ("samm", 0.7)])
def test_loss_config_from_repo_config(dataset, ratio):
    config = LossConfig.from_config(load_config(dataset))
    assert config == LossConfig(apex_alpha=0.9, apex_gamma=1.0, action_alpha=0.8, action_gamma=1.0,
                                start_end_alpha=0.9, start_end_gamma=1.0, label_smooth=0.16, macro_ratio=ratio)


def test_loss_terms_use_the_spec_channels_and_parameters():
    """Channels: 0-2 micro start/end/none, 3-5 macro, 6/7 micro/macro apex, 8/9 micro/macro action.

    Every parameter differs so that a swapped alpha/gamma/channel changes some term.
    """
    config = LossConfig(apex_alpha=0.7, apex_gamma=2.0, action_alpha=0.6, action_gamma=1.5,
                        start_end_alpha=0.8, start_end_gamma=3.0, label_smooth=0.1, macro_ratio=0.5)
    logits, targets = random_batch(3)
    terms = loss_terms(t64(logits), to_torch(targets), config)
    assert set(terms) == {f"{k}_{t}" for k in ("micro", "macro") for t in ("apex", "start_end", "action")}
    channels = {"micro": (slice(0, 3), 6, 8), "macro": (slice(3, 6), 7, 9)}
    for kind, (cls, apex, action) in channels.items():
        assert terms[f"{kind}_apex"].item() == pytest.approx(
            np_binary_focal(logits[:, apex], targets[f"{kind}_apex"], 0.7, 2.0, 0.1), rel=1e-10)
        assert terms[f"{kind}_action"].item() == pytest.approx(
            np_binary_focal(logits[:, action], targets[f"{kind}_action"], 0.6, 1.5, 0.1), rel=1e-10)
        assert terms[f"{kind}_start_end"].item() == pytest.approx(
            np_start_end_focal(logits[:, cls], targets[f"{kind}_classes"], 0.8, 3.0), rel=1e-10)


@pytest.mark.parametrize("ratio", [0.5, 0.7])
def test_total_loss_weighting(ratio):
    terms = {"micro_apex": 1.0, "micro_start_end": 10.0, "micro_action": 100.0,
             "macro_apex": 1000.0, "macro_start_end": 10000.0, "macro_action": 100000.0}
    got = total_loss({k: torch.tensor(v, dtype=torch.float64) for k, v in terms.items()},
                     LossConfig(macro_ratio=ratio))
    expected = 1.8 * 1 + 1.0 * 10 + 0.1 * 100 + ratio * (1.0 * 1000 + 1.0 * 10000 + 0.1 * 100000)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_total_loss_end_to_end_and_gradient():
    logits, targets = random_batch(4, batch=2, frames=40)
    config = LossConfig(macro_ratio=0.7)
    x = t64(logits).requires_grad_(True)
    loss = total_loss(loss_terms(x, to_torch(targets), config), config)
    expected = (1.8 * np_binary_focal(logits[:, 6], targets["micro_apex"], 0.9, 1.0, 0.16)
                + 1.0 * np_start_end_focal(logits[:, 0:3], targets["micro_classes"], 0.9, 1.0)
                + 0.1 * np_binary_focal(logits[:, 8], targets["micro_action"], 0.8, 1.0, 0.16)
                + 0.7 * (1.0 * np_binary_focal(logits[:, 7], targets["macro_apex"], 0.9, 1.0, 0.16)
                         + 1.0 * np_start_end_focal(logits[:, 3:6], targets["macro_classes"], 0.9, 1.0)
                         + 0.1 * np_binary_focal(logits[:, 9], targets["macro_action"], 0.8, 1.0, 0.16)))
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
