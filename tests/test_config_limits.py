"""Config values the loader refuses beyond types: fixed published constants, ranges, names, encodings."""
from __future__ import annotations

import pytest

from core_fixtures import write_config
from utils.config import load_config
from utils.errors import UserError


@pytest.mark.parametrize("extra, message", [
    ({"SEGMENT_LENTH": 128}, "fixed at 256"),
    ({"RECEPTIVE_FILED": 9}, "fixed at 15"),
    ({"batch_size": 0}, "'batch_size' is 0, must be at least 1"),
    ({"epochs": 0}, "'epochs' is 0, must be at least 1"),
    ({"macro_normal_range": -1}, "must be at least 0"),
    ({"abfcm_training_lr": "1e-2"}, "write 1.0e-2"),
    ({"subject_list": ["casme 015"]}, "without spaces"),
])
def test_config_values_out_of_range_are_named(tmp_path, extra, message):
    with pytest.raises(UserError, match=message):
        write_config(tmp_path, "cas(me)^2", **extra)


def test_config_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"cas(me)^2:\n  epochs: \xff\xfe\n")
    with pytest.raises(UserError, match="not a UTF-8 text file"):
        load_config("cas(me)^2", path)


# Values that pass their type but cannot work together are refused before any work (a swapped pair once
# trained for hours, then failed in evaluation), in one line naming the key and the file.
@pytest.mark.parametrize("extra, key", [
    ({"micro_left_min_dis": 8}, "'micro_left_min_dis' (8) is above 'micro_left_max_dis' (7)"),
    ({"macro_right_max_dis": 6}, "'macro_right_min_dis' (7) is above 'macro_right_max_dis' (6)"),
    ({"micro_min": 31}, "'micro_min' (31) is above 'micro_max' (30)"),
    ({"macro_max": 14}, "'macro_min' (15) is above 'macro_max' (14)"),
    ({"epoch_begin": 100}, "'epoch_begin' (100) must be below 'epochs' (100)"),
    ({"epochs": 15}, "'epoch_begin' (15) must be below 'epochs' (15)"),
    ({"micro_apex_score_threshold": 1.5}, "'micro_apex_score_threshold' is 1.5, must be [0.0, 1.0]"),
    ({"macro_apex_score_threshold": -0.1}, "'macro_apex_score_threshold' is -0.1, must be [0.0, 1.0]"),
    ({"abfcm_best_epoch": -1}, "'abfcm_best_epoch' is -1, must be at least 0"),
    ({"adjacency": "given.npy", "adjacency_scope": "train"}, "'adjacency_scope' is 'train'"),
    ({"adjacency_scope": "test"}, "'adjacency_scope' is 'test', expected one of all, train"),
])
def test_config_relations_are_checked_with_key_and_file(tmp_path, extra, key):
    with pytest.raises(UserError) as caught:
        write_config(tmp_path, "cas(me)^2", **extra)
    message = str(caught.value)
    assert key in message and str(tmp_path / "config.yaml") in message and "\n" not in message


def test_config_bounds_at_their_limits_pass(tmp_path):
    config = write_config(tmp_path, "cas(me)^2", micro_left_min_dis=7, macro_min=90, epoch_begin=99,
                          micro_apex_score_threshold=1.0, macro_apex_score_threshold=0.0, abfcm_best_epoch=120)
    assert config["micro_left_min_dis"] == config["micro_left_max_dis"] == 7 and config["epoch_begin"] == 99


def test_inverted_bound_from_a_flag_is_refused_too(tmp_path):
    config = write_config(tmp_path, "cas(me)^2")
    with pytest.raises(UserError, match="'epoch_begin' \\(15\\) must be below 'epochs' \\(10\\)"):
        config.with_overrides(epochs=10)
