"""The published losses (METHOD.md section 5), on the middle 256 frames.

``loss_terms`` returns the six named, unweighted terms; ``total_loss`` is the
one place that weights them.
"""
from __future__ import annotations

import torch

from model.auwgcn import ACTION_CHANNEL, APEX_CHANNEL, CLASS_CHANNELS
from model.settings import LossConfig
from utils.annotations import EXPRESSION_TYPES

EPS = 1e-5


def binary_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float,
                      label_smooth: float) -> torch.Tensor:
    """Focal loss on ``p = sigmoid(logits)`` against soft targets ``y`` in [0, 1]; any equal shapes.

    ``-mean(a |y-p|^g [y>0] log(p+eps) + (1-a) |y+s-p|^g [y<=0] log(1-p+eps))``.
    """
    probability = torch.sigmoid(logits)
    positive = (targets > 0).to(probability.dtype)
    pos_term = alpha * (targets - probability).abs().pow(gamma) * positive * torch.log(probability + EPS)
    neg_term = ((1 - alpha) * (targets + label_smooth - probability).abs().pow(gamma) * (1 - positive)
                * torch.log(1 - probability + EPS))
    return -(pos_term + neg_term).mean()


def start_end_focal_loss(logits: torch.Tensor, classes: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Three-class focal loss; ``logits (B, 3, T)`` over (start, end, none), ``classes (B, T)`` in {0, 1, 2}.

    Class weights ``[a/2, a/2, 1-a]``; a frame of class c contributes
    ``-w_c (1-q_c)^g log q_c`` (``max(1-q_2, 0)`` for class 2); mean over all frames.
    """
    log_q = torch.log_softmax(logits, dim=1)
    log_q_true = log_q.gather(1, classes.unsqueeze(1)).squeeze(1)
    weights = torch.tensor([alpha / 2, alpha / 2, 1 - alpha], dtype=logits.dtype, device=logits.device)[classes]
    focus = (1 - log_q_true.exp()).clamp_min(0).pow(gamma)
    return -(weights * focus * log_q_true).mean()


def loss_terms(logits: torch.Tensor, targets: dict[str, torch.Tensor], config: LossConfig) -> dict[str, torch.Tensor]:
    """Unweighted terms ``{micro,macro}_{apex,start_end,action}``.

    ``logits (B, 10, 256)``; ``targets``: ``{kind}_classes (B, 256)`` long,
    ``{kind}_apex (B, 256)`` and ``{kind}_action (B, 256)`` float, kind in micro/macro.
    """
    terms = {}
    for type_idx, kind in EXPRESSION_TYPES.items():
        terms[f"{kind}_apex"] = binary_focal_loss(logits[:, APEX_CHANNEL[type_idx]], targets[f"{kind}_apex"],
                                                  config.apex_alpha, config.apex_gamma, config.label_smooth)
        terms[f"{kind}_start_end"] = start_end_focal_loss(logits[:, CLASS_CHANNELS[type_idx]],
                                                          targets[f"{kind}_classes"], config.start_end_alpha,
                                                          config.start_end_gamma)
        terms[f"{kind}_action"] = binary_focal_loss(logits[:, ACTION_CHANNEL[type_idx]], targets[f"{kind}_action"],
                                                    config.action_alpha, config.action_gamma, config.label_smooth)
    return terms


def total_loss(terms: dict[str, torch.Tensor], config: LossConfig) -> torch.Tensor:
    """``1.8 micro-apex + 1.0 micro-start/end + 0.1 micro-action + m (1.0 macro-apex + 1.0 macro-start/end + 0.1 macro-action)``."""
    micro = 1.8 * terms["micro_apex"] + 1.0 * terms["micro_start_end"] + 0.1 * terms["micro_action"]
    macro = 1.0 * terms["macro_apex"] + 1.0 * terms["macro_start_end"] + 0.1 * terms["macro_action"]
    return micro + config.macro_ratio * macro
