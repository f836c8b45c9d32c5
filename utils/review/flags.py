"""Which ground-truth rows a matching rule counts as found (the counterpart of utils.matching.true_positive_flags)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from utils.matching import _megc_scan, _pair_iou, true_positive_flags


def truth_found_flags(kept: pd.DataFrame, truth: pd.DataFrame, rule: str) -> np.ndarray:
    """Boolean (M,): which rows of ``truth`` are matched by a row of ``kept`` under ``rule``.

    published and paper2023: a proposal of the same video and type with tIoU > 0.5 (for published that is the
    row's best proposal, a true positive); one-to-one: the row a true positive was assigned to (greedy by score,
    tIoU >= 0.5, as the rule assigns); megc: the evaluator's matched expressions.
    """
    if len(truth) == 0 or len(kept) == 0:
        return np.zeros(len(truth), dtype=bool)
    if rule == "megc":
        return _megc_scan(kept, truth)[2]
    iou = _pair_iou(kept, truth)
    if rule != "one-to-one":
        return iou.max(axis=0) > 0.5
    found = np.zeros(len(truth), dtype=bool)
    tp = true_positive_flags(kept, truth, rule)
    for i in np.argsort(-kept["score"].to_numpy(dtype=np.float64), kind="stable"):
        if tp[i]:
            found[int(np.argmax(np.where(found, -1.0, iou[i])))] = True
    return found
