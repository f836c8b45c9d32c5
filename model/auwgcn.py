"""AUW-GCN: an AU-weighted graph convolution over 12 facial ROIs, then temporal convolutions.

Input ``(B, T=270, N=12, C=2)`` ROI motion features; output logits ``(B, 10, T)``.
Output channels (METHOD.md section 4.5): 0-2 micro start/end/none, 3-5 macro
start/end/none, 6 micro apex, 7 macro apex, 8 micro action, 9 macro action.
Module names reproduce the published state_dict keys (FORMATS.md) so published
checkpoints load with ``strict=True``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from utils.annotations import MACRO, MICRO
from utils.indexing import NUM_ROIS, ROI_CHANNELS

GRAPH_CHANNELS = 16
HIDDEN_CHANNELS = 64
NUM_OUTPUTS = 10

# Output channel layout, shared by losses and evaluation, per type_idx.
CLASS_CHANNELS = {MICRO: slice(0, 3), MACRO: slice(3, 6)}  # start, end, none
APEX_CHANNEL = {MICRO: 6, MACRO: 7}
ACTION_CHANNEL = {MICRO: 8, MACRO: 9}


class GraphConvolution(nn.Module):
    """``H = A (X W) + b`` per frame on the 12 ROI nodes; A is a fixed buffer (``adj``).

    ``forward``: ``(B, T, N, C_in)`` -> ``(B, N * C_out, T)``, node-major
    (index ``n * C_out + c``), the layout the temporal convolutions read. A and W
    are folded into one ``(N*C_in) -> (N*C_out)`` map (entry ``A[n, m] W[k, c]``),
    so a frame costs one small matmul and no transposes.
    """

    def __init__(self, in_features: int, out_features: int, adjacency: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.register_buffer("adj", adjacency.clone().float())
        bound = 1.0 / math.sqrt(out_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def folded_weight(self) -> torch.Tensor:
        """``(N*C_out, N*C_in, 1)``: entry ``[n*C_out + c, m*C_in + k] = A[n, m] W[k, c]``, a kernel-1 conv."""
        num_nodes, out_features = self.adj.shape[0], self.weight.shape[1]
        return torch.einsum("nm,kc->ncmk", self.adj, self.weight).reshape(num_nodes * out_features, -1, 1)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        return F.conv1d(frames_as_channels(nodes), self.folded_weight(), self.bias.repeat(self.adj.shape[0]))


def frames_as_channels(nodes: torch.Tensor) -> torch.Tensor:
    """``(B, T, N, C)`` node features -> ``(B, N*C, T)``, index ``m*C + k``: the layout convolutions read."""
    batch, frames, num_nodes, in_features = nodes.shape
    return nodes.reshape(batch, frames, num_nodes * in_features).transpose(1, 2)


class GraphEmbedding(nn.Module):
    """Graph convolution, BatchNorm over the 16 channels (statistics over frames and nodes), ReLU.

    ``(B, T, 12, 2)`` -> ``(B, 192, T)`` node-major.
    """

    def __init__(self, adjacency: torch.Tensor):
        super().__init__()
        self.gc1 = GraphConvolution(ROI_CHANNELS, GRAPH_CHANNELS, adjacency)
        self.bn1 = nn.BatchNorm1d(GRAPH_CHANNELS)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.gc1(features)                                   # (B, 192, T)
        batch, _, frames = hidden.shape
        per_node = hidden.reshape(batch * NUM_ROIS, GRAPH_CHANNELS, frames)  # BN stats over (B, nodes, T)
        return torch.relu_(self.bn1(per_node)).reshape(batch, -1, frames)


def _conv_block(in_channels: int, out_channels: int, kernel: int, padding: int, dilation: int) -> list[nn.Module]:
    return [nn.Conv1d(in_channels, out_channels, kernel, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm1d(out_channels), nn.ReLU(inplace=True)]


class AUWGCN(nn.Module):
    """The published network: 39,248 parameters.

    ``forward(features)``: features ``(B, T, 12, 2)`` (normalised, see
    dataset.targets.normalise_features) -> logits ``(B, 10, T)``.
    """

    def __init__(self, adjacency: torch.Tensor | np.ndarray):
        super().__init__()
        adjacency = torch.as_tensor(np.asarray(adjacency, dtype=np.float32))
        if adjacency.shape != (NUM_ROIS, NUM_ROIS):
            raise ValueError(f"adjacency must be {NUM_ROIS}x{NUM_ROIS}, got {tuple(adjacency.shape)}")
        self.graph_embedding = nn.Sequential(GraphEmbedding(adjacency))
        self._sequential = nn.Sequential(
            *_conv_block(NUM_ROIS * GRAPH_CHANNELS, HIDDEN_CHANNELS, kernel=1, padding=0, dilation=1),
            *_conv_block(HIDDEN_CHANNELS, HIDDEN_CHANNELS, kernel=3, padding=1, dilation=1),
            *_conv_block(HIDDEN_CHANNELS, HIDDEN_CHANNELS, kernel=3, padding=2, dilation=2),
        )
        self._classification = nn.Conv1d(HIDDEN_CHANNELS, NUM_OUTPUTS, 3, padding=2, dilation=2, bias=False)
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self._classification(self._sequential(self.graph_embedding(features)))


@dataclass(frozen=True)
class PlainConv:
    """One layer of the eval-mode network as a convolution over frames, then ReLU where ``relu``.

    ``weight`` ``(C_out, C_in, kernel)``, ``bias`` ``(C_out,)`` or None; zero padding ``padding`` frames."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    dilation: int
    padding: int
    relu: bool


def _batchnorm_scale_shift(norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``x * scale + shift`` per channel (running statistics)."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return scale, norm.bias - norm.running_mean * scale


@torch.no_grad()
def eval_convolutions(model: AUWGCN) -> list[PlainConv]:
    """``model`` in eval mode as five :class:`PlainConv` layers, each BatchNorm folded into the conv before it.

    Applied in order to :func:`frames_as_channels` of the features ``(B, T, 12, 2)``, they give the
    model's eval-mode logits ``(B, 10, T)`` to float precision (a few 1e-6: the fold reorders roundings)
    with one pass over the activations per layer instead of three.
    """
    graph = model.graph_embedding[0]
    scale, shift = (v.repeat(NUM_ROIS) for v in _batchnorm_scale_shift(graph.bn1))  # node-major channels
    layers = [PlainConv(graph.gc1.folded_weight() * scale[:, None, None],
                        graph.gc1.bias.repeat(NUM_ROIS) * scale + shift, 1, 0, True)]
    blocks = list(model._sequential)
    for conv, norm in zip(blocks[0::3], blocks[1::3]):
        scale, shift = _batchnorm_scale_shift(norm)
        layers.append(PlainConv(conv.weight * scale[:, None, None], shift, conv.dilation[0], conv.padding[0], True))
    head = model._classification
    # a copy: the module may be loaded with another state next
    layers.append(PlainConv(head.weight.detach().clone(), None, head.dilation[0], head.padding[0], False))
    return layers


def decay_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on conv weights and the graph weight W, none on biases and BatchNorm."""
    decayed, plain = [], []
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            is_weight = name == "weight" and isinstance(module, (nn.Conv1d, GraphConvolution))
            (decayed if is_weight else plain).append(parameter)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
