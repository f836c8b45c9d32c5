"""Config values the loader refuses beyond types: fixed published constants, ranges, names, encodings."""
from __future__ import annotations

import pytest

from test_prepare import write_config
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
