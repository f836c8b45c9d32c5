"""Windows -> per-frame scores: loading checkpoints, the forward pass, the fold ensemble average.

Shared by the fold evaluation (:mod:`model.evaluation`, ``eval.py``) and by
spotting (:mod:`model.spotting`, ``spot.py``). Inputs are normalised windows
``(W, 270, 12, 2)`` (``dataset.targets.normalise_features``); every score
array covers the middle 256 frames of each window, ``(W, 256)``.

Many checkpoints of one architecture are run as one computation: their
parameters are stacked and the model is called through
``torch.func.functional_call`` under ``torch.vmap`` (:func:`batched_scores`),
which gives the per-checkpoint forward pass's numbers to float precision.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.auwgcn import ACTION_CHANNEL, APEX_CHANNEL, AUWGCN, CLASS_CHANNELS
from utils.errors import UserError
from utils.indexing import middle

TYPES = {2: "micro", 1: "macro"}
INFERENCE_BATCH = 256
# Checkpoints x windows run together in one vmap call: bounds the live activations (~0.3 MB a pass) to ~300 MB.
MAX_BATCHED_PASSES = 1024
ADJACENCY_KEY = "graph_embedding.0.gc1.adj"


@dataclass(frozen=True)
class Scores:
    """Per-type probabilities of W test windows on the middle 256 frames, each ``(W, 256)``.

    ``action`` (sigmoid of the action channel) is for display only; proposals use start, end and apex."""

    start: dict[int, np.ndarray]
    end: dict[int, np.ndarray]
    apex: dict[int, np.ndarray]
    action: dict[int, np.ndarray] | None = None


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint in the published layout; one-line error naming the file."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        # torch's own message suggests weights_only=False, unsafe advice for files from elsewhere: keep the gist.
        reason = str(error).splitlines()[0].split(". ")[0]
        raise UserError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise UserError(f"{path}: checkpoint has no 'state_dict' mapping")
    return checkpoint["state_dict"]


def build_model(state: dict[str, torch.Tensor], path: Path, device: torch.device) -> AUWGCN:
    """An eval-mode AUWGCN holding ``state`` (strict); a state that does not fit is a UserError naming ``path``."""
    try:
        model = AUWGCN(state.get(ADJACENCY_KEY, torch.eye(12)))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as error:
        raise UserError(f"{path}: state_dict does not fit AUW-GCN ({str(error).splitlines()[0]})") from None
    return model.to(device).eval()


def scores_from_logits(logits: torch.Tensor) -> Scores:
    """Logits ``(W, 10, 270)`` -> :class:`Scores` (softmax over start/end/none, sigmoid apex) on the middle 256."""
    logits = middle(logits, axis=-1).float().cpu()
    start, end, apex, action = {}, {}, {}, {}
    for type_idx in TYPES:
        classes = torch.softmax(logits[:, CLASS_CHANNELS[type_idx]], dim=1).numpy()
        start[type_idx], end[type_idx] = classes[:, 0], classes[:, 1]
        apex[type_idx] = torch.sigmoid(logits[:, APEX_CHANNEL[type_idx]]).numpy()
        action[type_idx] = torch.sigmoid(logits[:, ACTION_CHANNEL[type_idx]]).numpy()
    return Scores(start, end, apex, action)


@torch.no_grad()
def predict(model: AUWGCN, inputs: torch.Tensor) -> Scores:
    """Eval-mode forward of normalised windows ``(W, 270, 12, 2)`` -> scores (one checkpoint)."""
    model.eval()
    return scores_from_logits(torch.cat([model(chunk) for chunk in inputs.split(INFERENCE_BATCH)]))


@torch.no_grad()
def batched_scores(states: list[dict[str, torch.Tensor]], paths: list[Path], inputs: torch.Tensor,
                   device: torch.device) -> list[Scores]:
    """Scores of every checkpoint in ``states`` on the same windows ``(W, 270, 12, 2)``, in one computation.

    The states' tensors are stacked (K, ...) and the model runs under ``torch.vmap`` over them, in groups
    of at most :data:`MAX_BATCHED_PASSES` checkpoint x window passes. Each state is first checked against
    the model (:func:`build_model`), so a state that does not fit is named.
    """
    if not states:
        return []
    template = build_model(states[0], paths[0], device)
    for state, path in zip(states[1:], paths[1:]):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            build_model(state, path, torch.device("cpu"))  # raises the one-line error naming the file
    keys = list(states[0].keys())
    n_windows = inputs.shape[0]
    group = max(1, MAX_BATCHED_PASSES // max(n_windows, 1))

    def forward(stacked_state: dict[str, torch.Tensor], windows: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(template, stacked_state, (windows,))

    batched = torch.vmap(forward, in_dims=(0, None))
    results = []
    for first in range(0, len(states), group):
        chunk = states[first:first + group]
        stacked = {key: torch.stack([state[key] for state in chunk]).to(device) for key in keys}
        logits = torch.cat([batched(stacked, part) for part in inputs.split(INFERENCE_BATCH)], dim=1)
        results.extend(scores_from_logits(per_checkpoint) for per_checkpoint in logits)
    return results


def average_scores(scores: list[Scores]) -> Scores:
    """The fold ensemble: per type and channel, the mean over models of the per-frame probabilities.

    Averaging happens after softmax / sigmoid (probabilities, not logits), so the result is again a
    probability per frame. All entries must cover the same windows.
    """
    if not scores:
        raise ValueError("average_scores: no scores to average")

    def mean(field: str) -> dict[int, np.ndarray]:
        return {t: np.mean(np.stack([getattr(s, field)[t] for s in scores]), axis=0, dtype=np.float64)
                .astype(np.float32) for t in TYPES}

    if len(scores) == 1:
        return scores[0]
    return Scores(mean("start"), mean("end"), mean("apex"),
                  mean("action") if all(s.action is not None for s in scores) else None)


def device_error_message(error: BaseException, device: torch.device) -> str | None:
    """A one-line description when ``error`` is a device or memory failure (not a model mismatch), else None."""
    if isinstance(error, torch.cuda.OutOfMemoryError) or isinstance(error, MemoryError):
        return f"out of memory on {device} ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
    text = str(error)
    if any(marker in text for marker in ("CUDA", "cuda", "out of memory", "device-side", "DefaultCPUAllocator")):
        return f"device error on {device} ({text.splitlines()[0]})"
    return None
