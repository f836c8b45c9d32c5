"""The protocol table's layout: one row per protocol and scope, F1 mean ± sd per type, the thread count named."""
from __future__ import annotations

import pytest
import yaml

from core_fixtures import REPO_ROOT
from utils.config import load_config
from utils.selection import SELECTION_PROTOCOLS
from pipeline.protocol_table import RUNS, format_protocol_table, scope_config


def _document(f1: dict[str, tuple[float, float | None]]) -> dict:
    return {"seeds": ["1", "2"], "f1": {t: {"mean": mean, "std": std} for t, (mean, std) in f1.items()}}


def test_rows_follow_the_runs_with_hand_values():
    runs = {"best-on-test | all": _document({"micro": (0.5, 0.125), "macro": (0.25, None), "overall": (1 / 3, 0.0)}),
            "inner-cv | train": _document({"micro": (0.0, 0.0), "macro": (0.75, 0.05), "overall": (0.6, 0.01)})}
    lines = format_protocol_table({"threads": 1, "runs": runs}).splitlines()
    assert lines[0] == "F1, mean ± sd over seeds 1 2 (THREADS=1)"
    assert lines[2] == "| selection | adjacency | micro | macro | overall |"
    assert lines[4] == "| best-on-test | all | 0.5000 ± 0.1250 | 0.2500 | 0.3333 ± 0.0000 |"
    assert lines[5] == "| inner-cv | train | 0.0000 ± 0.0000 | 0.7500 ± 0.0500 | 0.6000 ± 0.0100 |"
    assert len(lines) == 6


@pytest.mark.parametrize("own_selection", ["inner-cv", "last-epoch"])
def test_every_run_gets_a_config_it_accepts(tmp_path, own_selection):
    """Whatever the section's own selection (inner-cv refuses adjacency_scope all), each run's config loads
    under the run's scope and protocol, and together the runs cover every protocol."""
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(selection=own_selection, adjacency=None, adjacency_scope="train")
    given = tmp_path / "config.yaml"
    given.write_text(yaml.safe_dump({"ds": section}))
    for scope, selection in RUNS:
        config = load_config("ds", scope_config("ds", str(given), tmp_path / "table", scope)).with_overrides(
            selection=selection)
        assert (config["adjacency_scope"], config["selection"], config["adjacency"]) == (scope, selection, None)
        assert config["subject_list"] == section["subject_list"]
    assert {selection for _, selection in RUNS} == set(SELECTION_PROTOCOLS)


def test_the_plot_has_one_bar_per_run_and_type(tmp_path):
    from matplotlib.image import imread

    from utils.plots import plot_protocol_table

    runs = {"best-on-test | all": _document({"micro": (0.5, 0.1), "macro": (0.25, None), "overall": (0.4, 0.0)}),
            "inner-cv | train": _document({"micro": (0.0, 0.0), "macro": (0.75, 0.05), "overall": (0.6, 0.01)})}
    path = plot_protocol_table(tmp_path / "table.png", runs, "title")
    image = imread(path)
    assert image.ndim == 3 and image.shape[1] > image.shape[0] > 100
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary name
