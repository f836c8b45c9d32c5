"""Windows -> per-frame scores: loading checkpoints, the forward pass, the fold ensemble average.

Shared by the fold evaluation (:mod:`model.evaluation`, ``eval.py``) and by
spotting (:mod:`model.spotting`, ``spot.py``: :func:`ensemble_scores`). Inputs are normalised windows
``(W, 270, 12, 2)`` (``dataset.targets.normalise_features``); every score
array covers the middle 256 frames of each window, ``(W, 256)``.

Evaluation runs many checkpoints of one architecture (:func:`batched_scores`):
each becomes five plain convolutions with its BatchNorm folded in
(:func:`model.auwgcn.eval_convolutions`), and several checkpoints run as one
grouped convolution per layer (:func:`stacked_logits`) where the device gains
from it. The numbers equal the module's eval forward to float precision.
"""
from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dataset.targets import normalise_features
from model.auwgcn import (ACTION_CHANNEL, APEX_CHANNEL, AUWGCN, CLASS_CHANNELS, PlainConv, eval_convolutions,
                          frames_as_channels)
from utils.annotations import EXPRESSION_TYPES
from utils.errors import UserError
from utils.indexing import NUM_ROIS, middle

INFERENCE_BATCH = 32
SCORED_WINDOWS = 8 * INFERENCE_BATCH  # windows :func:`ensemble_scores` scores per block (whole inference batches)
# Checkpoint x window passes run as one grouped computation: bounds the live activations (~0.3 MB a pass) to ~300 MB.
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
    return load_into(AUWGCN(state.get(ADJACENCY_KEY, torch.eye(NUM_ROIS))), state, path).to(device).eval()


def load_into(model: AUWGCN, state: dict[str, torch.Tensor], path: Path) -> AUWGCN:
    """``model`` with ``state`` loaded strictly (adjacency included); a misfit is a UserError naming ``path``."""
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as error:
        raise UserError(f"{path}: state_dict does not fit AUW-GCN ({str(error).splitlines()[0]})") from None
    return model


def scores_of_checkpoints(logits: torch.Tensor) -> list[Scores]:
    """Logits ``(K, W, 10, 270)`` of K checkpoints -> K :class:`Scores`, each type's softmax and sigmoid
    computed for all checkpoints at once (contiguous, one call each)."""
    logits = middle(logits, axis=-1).float().cpu()
    # channel-first copies, so that every (W, 256) score array handed out is contiguous
    classes = {t: torch.softmax(logits[:, :, CLASS_CHANNELS[t]], dim=2).movedim(2, 0).contiguous().numpy()
               for t in EXPRESSION_TYPES}
    first = min(APEX_CHANNEL.values())  # apex and action channels are the last four
    sigmoid = torch.sigmoid(logits[:, :, first:]).movedim(2, 0).contiguous().numpy()
    return [Scores(start={t: classes[t][0, k] for t in EXPRESSION_TYPES},
                   end={t: classes[t][1, k] for t in EXPRESSION_TYPES},
                   apex={t: sigmoid[APEX_CHANNEL[t] - first, k] for t in EXPRESSION_TYPES},
                   action={t: sigmoid[ACTION_CHANNEL[t] - first, k] for t in EXPRESSION_TYPES})
            for k in range(logits.shape[0])]


def checkpoints_per_pass(device: torch.device, n_windows: int) -> int:
    """How many checkpoints :func:`batched_scores` runs as one grouped computation on ``device``.

    On CPU, one: there a grouped convolution over G checkpoints took 2-3x the time of G single ones
    (85 checkpoints x 74 windows, 2-core AVX-512 EPYC: 0.9 s single, 2.2-3.6 s for G = 2..17), since the
    small per-checkpoint convolutions already use the cores fully. On an accelerator, as many as
    :data:`MAX_BATCHED_PASSES` checkpoint x window passes allow.
    """
    if device.type == "cpu":
        return 1
    return max(1, MAX_BATCHED_PASSES // max(n_windows, 1))


def stacked_logits(layer_stacks: list[list[PlainConv]], inputs: torch.Tensor) -> torch.Tensor:
    """Logits ``(G, W, 10, 270)`` of G checkpoints on the same windows ``(W, 270, 12, 2)``.

    ``layer_stacks[g]`` is checkpoint g's :func:`model.auwgcn.eval_convolutions`. The G networks run as
    one grouped convolution per layer (group g = checkpoint g), so a pass reads every window once.
    """
    count = len(layer_stacks)
    grouped = []
    for depth, layer in enumerate(layer_stacks[0]):
        weight = torch.cat([stack[depth].weight for stack in layer_stacks])
        bias = None if layer.bias is None else torch.cat([stack[depth].bias for stack in layer_stacks])
        grouped.append((weight, bias, layer))
    parts = []
    for chunk in inputs.split(INFERENCE_BATCH):
        hidden = frames_as_channels(chunk)
        if count > 1:
            hidden = hidden.repeat(1, count, 1)
        for weight, bias, layer in grouped:
            hidden = F.conv1d(hidden, weight, bias, padding=layer.padding, dilation=layer.dilation, groups=count)
            if layer.relu:
                hidden = torch.relu_(hidden)
        parts.append(hidden.reshape(chunk.shape[0], count, -1, hidden.shape[-1]).transpose(0, 1))
    return torch.cat(parts, dim=1)


@torch.no_grad()
def batched_scores(states: Iterable[dict[str, torch.Tensor]], paths: list[Path], inputs: torch.Tensor,
                   device: torch.device, per_pass: int | None = None) -> list[Scores]:
    """Scores of every checkpoint in ``states`` on the same windows ``(W, 270, 12, 2)``.

    Each state is loaded into the model strictly (:func:`build_model`, so a state that does not fit is
    named), turned into its BatchNorm-folded eval convolutions, and ``per_pass`` checkpoints at a time
    (default :func:`checkpoints_per_pass`) run through :func:`stacked_logits`. ``states`` may be an
    iterator still loading (:func:`load_in_background`): each pass runs as soon as its states are in.
    Equal to a plain eval-mode forward of each checkpoint within a few 1e-7 in probability.
    """
    if per_pass is None:
        per_pass = checkpoints_per_pass(device, inputs.shape[0])
    inputs = inputs.to(device)
    model, pending, logits = None, [], []
    for state, path in zip(states, paths):
        # one module, each later state loaded into it in turn
        model = build_model(state, path, device) if model is None else load_into(model, state, path)
        pending.append(eval_convolutions(model))
        if len(pending) == per_pass:
            logits.append(stacked_logits(pending, inputs))
            pending = []
    if pending:
        logits.append(stacked_logits(pending, inputs))
    return scores_of_checkpoints(torch.cat(logits)) if logits else []


def load_in_background(paths: list[Path]) -> Iterator[dict[str, torch.Tensor]]:
    """The checkpoints' state_dicts in order, read by one background thread while the caller computes."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield from pool.map(load_state_dict, paths)


def average_scores(scores: list[Scores]) -> Scores:
    """The fold ensemble: per type and channel, the mean over models of the per-frame probabilities.

    Averaging happens after softmax / sigmoid (probabilities, not logits), so the result is again a
    probability per frame. All entries must cover the same windows.
    """
    if not scores:
        raise ValueError("average_scores: no scores to average")

    def mean(field: str) -> dict[int, np.ndarray]:
        return {t: np.mean(np.stack([getattr(s, field)[t] for s in scores]), axis=0, dtype=np.float64)
                .astype(np.float32) for t in EXPRESSION_TYPES}

    if len(scores) == 1:
        return scores[0]
    return Scores(mean("start"), mean("end"), mean("apex"),
                  mean("action") if all(s.action is not None for s in scores) else None)


def ensemble_scores(paths: list[Path], features: np.ndarray, device: torch.device, on_windows=None) -> Scores:
    """The checkpoints' (a fold ensemble's) scores on raw windows ``features`` (W, 270, 12, 2), normalised here,
    averaged per frame over the checkpoints. ``on_windows(n)`` is told of each block of ``n`` windows scored (a
    progress bar); blocks are :data:`SCORED_WINDOWS` windows, whole inference batches, so the numbers are those
    of one pass over all windows."""
    states = [load_state_dict(path) for path in paths]
    parts = []
    for first in range(0, len(features), SCORED_WINDOWS):
        block = torch.from_numpy(normalise_features(features[first:first + SCORED_WINDOWS])).to(device)
        parts.append(average_scores(batched_scores(states, paths, block, device)))
        if on_windows is not None:
            on_windows(block.shape[0])
    return joined_scores(parts)


def joined_scores(parts: list[Scores]) -> Scores:
    """Scores of consecutive blocks of windows as one, block after block."""
    if len(parts) == 1:
        return parts[0]

    def joined(field: str):
        if getattr(parts[0], field) is None:
            return None
        return {t: np.concatenate([getattr(part, field)[t] for part in parts]) for t in EXPRESSION_TYPES}

    return Scores(joined("start"), joined("end"), joined("apex"), joined("action"))


def device_error_message(error: BaseException, device: torch.device) -> str | None:
    """A one-line description when ``error`` is a device or memory failure (not a model mismatch), else None."""
    if isinstance(error, torch.cuda.OutOfMemoryError) or isinstance(error, MemoryError):
        return f"out of memory on {device} ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
    text = str(error)
    if any(marker in text for marker in ("CUDA", "cuda", "out of memory", "device-side", "DefaultCPUAllocator")):
        return f"device error on {device} ({text.splitlines()[0]})"
    return None
