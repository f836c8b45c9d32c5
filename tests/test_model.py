"""AUW-GCN model (METHOD.md sections 4 and 6, FORMATS.md "Model state_dict")."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.auwgcn import AUWGCN, decay_parameter_groups, eval_convolutions, frames_as_channels

BN_EPS = 1e-5
BN_MOMENTUM = 0.1

# FORMATS.md, "Model state_dict (names and shapes, strict)"
EXPECTED_STATE = {
    "graph_embedding.0.gc1.weight": (2, 16),
    "graph_embedding.0.gc1.bias": (16,),
    "graph_embedding.0.gc1.adj": (12, 12),
    "graph_embedding.0.bn1.weight": (16,),
    "graph_embedding.0.bn1.bias": (16,),
    "graph_embedding.0.bn1.running_mean": (16,),
    "graph_embedding.0.bn1.running_var": (16,),
    "graph_embedding.0.bn1.num_batches_tracked": (),
    "_sequential.0.weight": (64, 192, 1),
    "_sequential.3.weight": (64, 64, 3),
    "_sequential.6.weight": (64, 64, 3),
    "_classification.weight": (10, 64, 3),
}
for _bn in ("_sequential.1", "_sequential.4", "_sequential.7"):
    EXPECTED_STATE.update({f"{_bn}.{name}": (64,) for name in ("weight", "bias", "running_mean", "running_var")})
    EXPECTED_STATE[f"{_bn}.num_batches_tracked"] = ()
BN_PREFIXES = ("graph_embedding.0.bn1", "_sequential.1", "_sequential.4", "_sequential.7")
DECAYED = {"graph_embedding.0.gc1.weight", "_sequential.0.weight", "_sequential.3.weight", "_sequential.6.weight",
           "_classification.weight"}


def adjacency(seed=0):
    rng = np.random.default_rng(seed)
    matrix = rng.random((12, 12)) * (rng.random((12, 12)) < 0.4) + np.eye(12)
    return (matrix / matrix.sum(axis=1, keepdims=True)).astype(np.float32)


def random_state(seed=0, dtype=torch.float64):
    """A state_dict built by hand from FORMATS.md's names and shapes, with non-trivial BN statistics."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in EXPECTED_STATE.items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(5, dtype=torch.long)
        elif name.endswith("running_var"):
            state[name] = (0.5 + torch.rand(shape, generator=gen)).to(dtype)
        elif name.endswith("adj"):
            state[name] = torch.from_numpy(adjacency(seed)).to(dtype)
        else:
            state[name] = (0.3 * torch.randn(shape, generator=gen)).to(dtype)
    return state


def batch_norm(x, state, prefix, training, channel_dims):
    """BatchNorm over channel dim 1 of x; in training the statistics come from ``channel_dims`` (biased var)."""
    shape = [1] * x.dim()
    shape[1] = -1
    if training:
        mean = x.mean(dim=channel_dims, keepdim=True)
        var = x.var(dim=channel_dims, unbiased=False, keepdim=True)
    else:
        mean = state[f"{prefix}.running_mean"].reshape(shape)
        var = state[f"{prefix}.running_var"].reshape(shape)
    return ((x - mean) / torch.sqrt(var + BN_EPS) * state[f"{prefix}.weight"].reshape(shape)
            + state[f"{prefix}.bias"].reshape(shape))


def reference_forward(features, state, training):
    """Section 4 written out literally. features (B, T, 12, 2) -> logits (B, 10, T)."""
    batch, frames = features.shape[:2]
    W, b, A = state["graph_embedding.0.gc1.weight"], state["graph_embedding.0.gc1.bias"], state["graph_embedding.0.gc1.adj"]
    hidden = torch.matmul(A, torch.matmul(features, W)) + b  # H = A (X W) + b, per (batch, frame): (B, T, 12, 16)
    # BatchNorm1d over the 16 channels, statistics over batch, frames and nodes
    channels_first = hidden.permute(0, 3, 1, 2)              # (B, 16, T, 12)
    normed = torch.relu(batch_norm(channels_first, state, "graph_embedding.0.bn1", training, (0, 2, 3)))
    hidden = normed.permute(0, 2, 3, 1)                      # (B, T, 12, 16)
    flat = torch.empty(batch, 192, frames, dtype=features.dtype)
    for n in range(12):
        for c in range(16):
            flat[:, n * 16 + c, :] = hidden[:, :, n, c]      # node-major: index n*16 + c
    x = flat
    for conv, bn, padding, dilation in (("_sequential.0", "_sequential.1", 0, 1),
                                        ("_sequential.3", "_sequential.4", 1, 1),
                                        ("_sequential.6", "_sequential.7", 2, 2)):
        x = F.conv1d(x, state[f"{conv}.weight"], padding=padding, dilation=dilation)
        x = torch.relu(batch_norm(x, state, bn, training, (0, 2)))
    return F.conv1d(x, state["_classification.weight"], padding=2, dilation=2)


def model_with(state):
    model = AUWGCN(state["graph_embedding.0.gc1.adj"].float().numpy()).double()
    model.load_state_dict(state, strict=True)
    return model


def features(batch, frames=270, seed=1):
    return torch.randn(batch, frames, 12, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- names, shapes, parameters

def test_parameter_count():
    model = AUWGCN(adjacency())
    assert sum(p.numel() for p in model.parameters()) == 39248


def test_state_dict_names_and_shapes_exactly():
    state = AUWGCN(adjacency()).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == EXPECTED_STATE


def test_adjacency_is_a_buffer_holding_the_matrix():
    matrix = adjacency(3)
    model = AUWGCN(matrix)
    assert "graph_embedding.0.gc1.adj" not in dict(model.named_parameters())
    assert "graph_embedding.0.gc1.adj" in dict(model.named_buffers())
    np.testing.assert_array_equal(model.state_dict()["graph_embedding.0.gc1.adj"].numpy(), matrix)


def test_hand_built_state_dict_loads_strict():
    state = random_state(seed=4, dtype=torch.float32)
    model = AUWGCN(np.eye(12, dtype=np.float32))
    model.load_state_dict(state, strict=True)
    loaded = model.state_dict()
    for name, value in state.items():
        assert torch.equal(loaded[name], value), name


# ---------------------------------------------------------------- forward = section 4

def test_output_shape():
    model = AUWGCN(adjacency())
    assert model(torch.randn(3, 270, 12, 2)).shape == (3, 10, 270)


def test_eval_forward_equals_literal_section_4():
    state = random_state(seed=5)
    model = model_with(state).eval()
    x = features(3)
    with torch.no_grad():
        got = model(x)
    torch.testing.assert_close(got, reference_forward(x, state, training=False), rtol=1e-9, atol=1e-9)


def test_train_forward_equals_literal_section_4_and_bn_statistics():
    state = random_state(seed=6)
    model = model_with(state).train()
    x = features(2, seed=7)
    got = model(x)
    torch.testing.assert_close(got, reference_forward(x, state, training=True), rtol=1e-9, atol=1e-9)
    # The graph BatchNorm's running statistics come from all frames and nodes of the batch.
    W, b, A = (state[f"graph_embedding.0.gc1.{k}"] for k in ("weight", "bias", "adj"))
    hidden = torch.einsum("nm,btmk,kc->btnc", A, x, W) + b   # (B, T, 12, 16)
    values = hidden.reshape(-1, 16)
    after = model.state_dict()
    torch.testing.assert_close(after["graph_embedding.0.bn1.running_mean"],
                               (1 - BN_MOMENTUM) * state["graph_embedding.0.bn1.running_mean"]
                               + BN_MOMENTUM * values.mean(0), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(after["graph_embedding.0.bn1.running_var"],
                               (1 - BN_MOMENTUM) * state["graph_embedding.0.bn1.running_var"]
                               + BN_MOMENTUM * values.var(0, unbiased=True), rtol=1e-9, atol=1e-9)


def test_eval_one_window_alone_equals_inside_a_batch():
    model = model_with(random_state(seed=8)).eval()
    x = features(4, seed=9)
    with torch.no_grad():
        together = model(x)
        for i in range(4):
            torch.testing.assert_close(model(x[i:i + 1])[0], together[i], rtol=1e-10, atol=1e-10)


def test_frames_only_mix_through_the_temporal_convolutions():
    """Receptive field: k=1, then k=3 (1 each side), k=3 dil 2 (2), head k=3 dil 2 (2) -> 5 frames each side."""
    model = model_with(random_state(seed=10)).eval()
    x = features(1, seed=11)
    y = x.clone()
    y[0, 100] += 1.0
    with torch.no_grad():
        changed = (model(x) - model(y)).abs().amax(dim=1)[0] > 0
    assert changed.nonzero().flatten().tolist() == list(range(95, 106))


# ---------------------------------------------------------------- initialisation and weight decay

def test_graph_weight_and_bias_init_within_quarter():
    torch.manual_seed(0)
    for _ in range(5):
        state = AUWGCN(adjacency()).state_dict()
        for name in ("graph_embedding.0.gc1.weight", "graph_embedding.0.gc1.bias"):
            values = state[name]
            assert values.abs().max() <= 0.25, name
    torch.manual_seed(1)
    pooled = torch.cat([AUWGCN(adjacency()).state_dict()["graph_embedding.0.gc1.weight"].flatten()
                        for _ in range(40)])
    # uniform(-1/4, 1/4): std 0.25 / sqrt(3) = 0.144, max close to the bound
    assert pooled.std().item() == pytest.approx(0.25 / 3 ** 0.5, rel=0.1)
    assert pooled.abs().max() > 0.24


def test_conv_weights_kaiming_normal():
    torch.manual_seed(0)
    state = AUWGCN(adjacency()).state_dict()
    for name, fan_in in (("_sequential.0.weight", 192), ("_sequential.3.weight", 192),
                         ("_sequential.6.weight", 192), ("_classification.weight", 192)):
        values = state[name]
        assert values.std().item() == pytest.approx((2.0 / fan_in) ** 0.5, rel=0.08), name
        assert values.mean().abs().item() < 0.01, name


def test_weight_decay_groups():
    model = AUWGCN(adjacency())
    groups = decay_parameter_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = [names[id(p)] for g in groups if g["weight_decay"] == 0.1 for p in g["params"]]
    plain = [names[id(p)] for g in groups if g["weight_decay"] == 0.0 for p in g["params"]]
    assert sorted(decayed) == sorted(DECAYED)
    expected_plain = {"graph_embedding.0.gc1.bias"} | {f"{p}.{k}" for p in BN_PREFIXES for k in ("weight", "bias")}
    assert sorted(plain) == sorted(expected_plain)
    assert sum(len(g["params"]) for g in groups) == len(names)  # every parameter exactly once, nothing else
    torch.optim.AdamW(groups, lr=0.01)  # usable as given


def test_eval_convolutions_equal_the_eval_forward():
    """BatchNorm folded into the convolutions: the five plain layers give the module's eval logits."""
    torch.manual_seed(3)
    model = AUWGCN(torch.rand(12, 12))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):  # statistics and affine terms far from the identity
            module.running_mean.uniform_(-1.0, 1.0)
            module.running_var.uniform_(0.2, 3.0)
            module.weight.data.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.5, 0.5)
    model.eval()
    features = torch.randn(2, 270, 12, 2)
    hidden = frames_as_channels(features)
    layers = eval_convolutions(model)
    assert [(tuple(layer.weight.shape), layer.dilation, layer.padding, layer.relu) for layer in layers] == [
        ((192, 24, 1), 1, 0, True), ((64, 192, 1), 1, 0, True), ((64, 64, 3), 1, 1, True),
        ((64, 64, 3), 2, 2, True), ((10, 64, 3), 2, 2, False)]
    for layer in layers:
        hidden = F.conv1d(hidden, layer.weight, layer.bias, padding=layer.padding, dilation=layer.dilation)
        hidden = torch.relu(hidden) if layer.relu else hidden
    with torch.no_grad():
        expected = model(features)
    torch.testing.assert_close(hidden, expected, rtol=0, atol=2e-5)
