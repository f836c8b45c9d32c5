"""Library code leaves process-wide state as it found it (deterministic switches, the
matplotlib backend), a built adjacency goes to the run folder (never the source tree), and
adjacency_scope: train keeps the held-out subject's AU labels out of its fold's matrix."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import model.training as training
from core_fixtures import REPO_ROOT, make_tiny_dataset
from utils.config import load_config
from utils.make_coc_matrix import cooccurrence_matrix


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("side")
    return make_tiny_dataset(root, epochs=1, epoch_begin=0)


@pytest.mark.parametrize("scope", ["all", "train"])
def test_training_restores_switches_and_builds_its_adjacency_in_the_run(tiny, monkeypatch, scope):
    document = yaml.safe_load(tiny.read_text())
    document["tiny"]["adjacency_scope"] = scope
    # One AU combination only the held-out subject shows: scope 'train' must not see it.
    table = pd.read_csv(tiny.parent / "features" / "annotations.csv", dtype={"au": str})
    extra = pd.DataFrame([["subj_a", "subj_a_0000", 600, 610, 620, 1, "1+12+25"]], columns=table.columns)
    pd.concat([table, extra]).to_csv(tiny.parent / "anno_extra.csv", index=False)
    document["tiny"]["anno_csv"] = "anno_extra.csv"
    tiny.write_text(yaml.safe_dump(document))
    config = load_config("tiny", tiny)
    output = tiny.parent / f"run_{scope}"
    seen = []
    real_seed = training.seed_everything
    monkeypatch.setattr(training, "seed_everything",
                        lambda seed: seen.append(torch.are_deterministic_algorithms_enabled()) or real_seed(seed))
    assets = sorted((REPO_ROOT / "model").rglob("*.npy"))
    assert not torch.are_deterministic_algorithms_enabled()
    layout = training.train_fold(config, "subj_a", output, torch.device("cpu"), show_progress=False)
    assert seen == [True] and not torch.are_deterministic_algorithms_enabled()  # on inside, off again after
    assert sorted((REPO_ROOT / "model").rglob("*.npy")) == assets  # nothing new in the source tree

    table = pd.read_csv(config["anno_csv"], dtype={"au": str})
    kept = table if scope == "all" else table[table["subject"] != "subj_a"]
    expected = cooccurrence_matrix(kept["au"].tolist())
    where = output / "adjacency_all.npy" if scope == "all" else output / "subj_a" / "adjacency.npy"
    assert sorted(p.relative_to(output).as_posix() for p in output.rglob("*.npy")) == \
        [where.relative_to(output).as_posix()]
    np.testing.assert_allclose(np.load(where), expected, rtol=1e-6)
    state = torch.load(layout.checkpoint(0), weights_only=True)["state_dict"]
    np.testing.assert_allclose(state["graph_embedding.0.gc1.adj"].numpy(), expected, rtol=1e-6)
    assert np.allclose(expected, cooccurrence_matrix(table["au"].tolist())) == (scope == "all")


def test_plots_never_switch_the_backend(tmp_path):
    script = f"""
import sys; sys.path.insert(0, {str(REPO_ROOT)!r})
import matplotlib
matplotlib.use("svg")
import numpy as np, pandas as pd
import utils.plots as plots
truth = pd.DataFrame({{"start_frame": [3], "end_frame": [9], "type_idx": [1]}})
spotted = pd.DataFrame({{"start_frame": [4], "end_frame": [8], "type_idx": [1], "matched": [True]}})
path = plots.plot_video_timeline("v", {{1: np.zeros(20), 2: np.ones(20)}}, 1, truth, spotted, {str(tmp_path / 'v.png')!r})
assert open(path, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
print(matplotlib.get_backend())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"
