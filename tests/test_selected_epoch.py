"""eval_info.json records the epoch the selection protocol chose, also when the held-out subject has no proposal
there (best_res.csv then counts TP 0, N 0 and M), and spot.py --epoch selected takes that fold; null stays only
for best-on-test when no epoch has a proposal."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dataset.segments import WindowSet
from model.evaluation import HeldOut, select_and_write
from model.settings import EvaluationSettings
from model.scoring import Scores
from model.spotting import choose_models
from utils.annotations import EXPRESSION_TYPES, MACRO, MICRO
from utils.config import load_config
from utils.errors import UserError
from utils.indexing import SEGMENT_LENGTH, WINDOW_ROWS
from utils.layout import FoldLayout
from utils.metrics import COUNT_COLUMNS, EPOCH_METRIC_COLUMNS, epoch_metrics_row
from utils.selection import SelectionSettings

SUBJECT = "s1"
EPOCHS = (3, 4, 5)
# Two micro and one macro expression: M = 2 and 1 whatever the epoch.
TRUTH = pd.DataFrame({"subject": SUBJECT, "video_name": "v", "start_frame": [10, 60, 120], "apex_frame": [12, 64, 130],
                      "end_frame": [20, 70, 150], "type_idx": [MICRO, MICRO, MACRO], "au": "4"})


def _held_out() -> HeldOut:
    windows = WindowSet(np.zeros((1, WINDOW_ROWS, 12, 2), np.float32), np.zeros((1, WINDOW_ROWS, 8), np.int32),
                        np.array(["v"]), np.array([0]))
    return HeldOut((SUBJECT,), windows, {SUBJECT: np.array(["v"])}, {SUBJECT: TRUTH})


def _scores(epoch: int) -> Scores:
    """Apex scores that say which epoch they are: every frame holds epoch / 10."""
    track = {t: np.full((1, SEGMENT_LENGTH), epoch / 10, np.float32) for t in EXPRESSION_TYPES}
    return Scores(track, track, track)


def _evaluate(tmp_path, selection: str, with_proposals: tuple[int, ...], **overrides) -> tuple[dict, FoldLayout]:
    """select_and_write on a fold whose epochs ``with_proposals`` have a metrics row (1 micro TP of 2 proposals)."""
    anno = tmp_path / "anno.csv"
    TRUTH.to_csv(anno, index=False)
    scope = {"adjacency": None, "adjacency_scope": "train"} if selection == "inner-cv" else {}
    config = load_config("cas(me)^2").with_overrides(selection=selection, anno_csv=str(anno), **scope, **overrides)
    run = tmp_path / "run"
    layout = FoldLayout.of(run, SUBJECT)
    layout.models.mkdir(parents=True)
    checkpoints = {}
    for epoch in EPOCHS:
        checkpoints[epoch] = layout.checkpoint(epoch)
        checkpoints[epoch].write_bytes(b"a checkpoint")
    metrics = pd.DataFrame([epoch_metrics_row({MICRO: (1, 2, 2), MACRO: (0, 0, 1)}, e) for e in with_proposals],
                           columns=EPOCH_METRIC_COLUMNS)
    inner = {"selected_epoch": 4} if selection == "inner-cv" else None
    info = select_and_write(EvaluationSettings.from_config(config), SelectionSettings.from_config(config), layout,
                            _held_out(), checkpoints, [_scores(e) for e in EPOCHS], metrics, inner)
    assert json.loads(layout.eval_info.read_text()) == info
    return info, layout


@pytest.mark.parametrize("selection, overrides, with_proposals", [
    ("fixed-epoch", {"abfcm_best_epoch": 4}, (3, 5)),
    ("inner-cv", {}, (3, 5)),
    ("last-epoch", {}, (3, 4)),  # the last checkpoint is epoch 5
])
def test_the_chosen_epoch_is_recorded_when_it_has_no_proposal(tmp_path, selection, overrides, with_proposals):
    info, layout = _evaluate(tmp_path, selection, with_proposals, **overrides)
    chosen = 5 if selection == "last-epoch" else 4
    assert info["selected_epoch"] == chosen
    assert "no proposal" in info["note"]
    best = pd.read_csv(layout.best_res).iloc[0]
    assert [int(best[c]) for c in COUNT_COLUMNS] == [0, 0, 2, 0, 0, 1, 0, 0, 3]
    with np.load(layout.selected_scores) as archive:  # the chosen epoch's scores, for the plots and the report
        assert np.allclose(archive["v:micro"][:SEGMENT_LENGTH], chosen / 10)
    [model] = choose_models(layout.root.parent, [SUBJECT], "selected")
    assert (model.epoch, model.path) == (chosen, layout.checkpoint(chosen))


def test_a_chosen_epoch_with_proposals_counts_its_row(tmp_path):
    info, layout = _evaluate(tmp_path, "fixed-epoch", (3, 4, 5), abfcm_best_epoch=4)
    assert info["selected_epoch"] == 4 and info["note"] is None
    assert pd.read_csv(layout.best_res)[["micro_tp", "micro_n", "all_m"]].iloc[0].tolist() == [1, 2, 3]


def test_best_on_test_without_any_proposal_selects_nothing(tmp_path):
    (tmp_path / "run" / SUBJECT).mkdir(parents=True)
    stale = FoldLayout.of(tmp_path / "run", SUBJECT).selected_scores
    stale.write_bytes(b"an earlier evaluation's scores")
    info, layout = _evaluate(tmp_path, "best-on-test", ())
    assert info["selected_epoch"] is None and "no epoch has a proposal" in info["note"]
    assert not layout.selected_scores.exists()
    assert pd.read_csv(layout.best_res)["all_m"].iloc[0] == 3
    with pytest.raises(UserError, match="selected no epoch"):
        choose_models(layout.root.parent, [SUBJECT], "selected")


def test_a_fixed_epoch_without_a_checkpoint_is_named(tmp_path):
    info, layout = _evaluate(tmp_path, "fixed-epoch", (3, 4, 5), abfcm_best_epoch=9)
    assert info["selected_epoch"] == 9 and "epoch 9 (abfcm_best_epoch) has no checkpoint" in info["note"]
    assert not layout.selected_scores.exists()
    with pytest.raises(UserError, match="no checkpoint for epoch 9"):
        choose_models(layout.root.parent, [SUBJECT], "selected")


def test_the_megc_predictions_of_a_chosen_epoch_without_proposals_are_empty(tmp_path):
    from utils.megc import MEGC_COLUMNS, prediction_table

    _, layout = _evaluate(tmp_path, "fixed-epoch", (3, 5), abfcm_best_epoch=4)
    pd.DataFrame([epoch_metrics_row({MICRO: (1, 2, 2), MACRO: (0, 0, 1)}, e) for e in (3, 5)]).to_csv(
        layout.epoch_metrics, index=False)
    empty = prediction_table(layout.root.parent, SUBJECT, 4)
    assert empty.empty and list(empty.columns) == MEGC_COLUMNS
    with pytest.raises(UserError, match="final_proposals_epoch_005.csv: missing"):  # a row, so a file was written
        prediction_table(layout.root.parent, SUBJECT, 5)
