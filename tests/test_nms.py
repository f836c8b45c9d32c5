"""temporal_iou by hand; nms against a brute-force, published-style implementation."""
import warnings

import numpy as np
import pandas as pd
import pytest

from utils.nms import NMS_COLUMNS, nms, temporal_iou


def brute_iou(a, b):
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def brute_nms(records, top_k, threshold):
    """Lists and a while loop, as the published code does it; records are
    (video, start, end, score, type) tuples in input order."""
    keys = []
    for r in records:
        if (r[0], r[4]) not in keys:
            keys.append((r[0], r[4]))
    out = []
    for key in keys:
        rows = sorted((r for r in records if (r[0], r[4]) == key), key=lambda r: -r[3])  # stable
        scores = [r[3] for r in rows]
        remaining = list(range(len(rows)))
        kept = []
        while remaining and len(kept) < top_k[key[1]]:
            best = max(remaining, key=lambda i: scores[i])  # first maximum
            if scores[best] == 0:
                break
            kept.append(best)
            remaining.remove(best)
            for i in remaining:
                if brute_iou(rows[best][1:3], rows[i][1:3]) > threshold:
                    scores[i] = 0
        out += [rows[i] for i in kept]
    return out


def table(records):
    return pd.DataFrame(records, columns=NMS_COLUMNS)


def test_temporal_iou_hand_values():
    np.testing.assert_allclose(temporal_iou(0, 10, 5, 15), 5 / 15)
    assert temporal_iou(3, 9, 3, 9) == 1.0
    assert temporal_iou(0, 10, 10, 20) == 0.0          # touching
    assert temporal_iou(0, 10, 20, 30) == 0.0          # disjoint
    assert temporal_iou(0, 10, 0, 5) == 0.5            # inside: 5 / 10
    np.testing.assert_allclose(temporal_iou(2, 12, 0, 20), 10 / 20)


def test_temporal_iou_degenerate_rows_are_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            # Ground truth with end_frame 0 (start 100): never matches, even a huge proposal.
            assert temporal_iou(90, 110, 100, 0) == 0.0
            assert temporal_iou(0, 5000, 100, 0) == 0.0
            assert temporal_iou(5, 5, 5, 5) == 0.0        # both empty: denominator 0
            assert temporal_iou(0, 10, np.nan, 5) == 0.0


def test_temporal_iou_broadcasts():
    starts = np.array([0, 10, 20])
    iou = temporal_iou(starts[:, None], starts[:, None] + 10, np.array([[0, 5, 10, 30]]), np.array([[10, 15, 20, 40]]))
    assert iou.shape == (3, 4)
    expected = [[brute_iou((s, s + 10), (b, e)) for b, e in ((0, 10), (5, 15), (10, 20), (30, 40))] for s in starts]
    np.testing.assert_allclose(iou, expected)


def test_nms_hand_built():
    records = [("v", 0, 10, 0.5, 2), ("v", 1, 10, 0.9, 2),   # iou 0.9: the 0.5 one is suppressed
               ("v", 0, 5, 0.7, 2),                          # iou with (1,10): 4/10, kept
               ("v", 50, 60, 0.1, 2), ("v", 0, 10, 0.8, 1)]  # other type: its own group
    got = nms(table(records), {2: 5, 1: 5})
    assert got.values.tolist() == [["v", 1, 10, 0.9, 2], ["v", 0, 5, 0.7, 2], ["v", 50, 60, 0.1, 2],
                                   ["v", 0, 10, 0.8, 1]]
    assert list(got.columns) == NMS_COLUMNS


def test_nms_threshold_is_strict_and_top_k_per_type():
    records = [("v", 0, 10, 0.9, 2), ("v", 0, 5, 0.8, 2), ("v", 20, 30, 0.7, 2), ("v", 40, 50, 0.6, 2)]
    got = nms(table(records), {2: 3, 1: 1})
    assert got.start_frame.tolist() == [0, 0, 20]       # tIoU exactly 0.5 is not suppressed
    assert nms(table(records), {2: 5}, iou_threshold=0.4).start_frame.tolist() == [0, 20, 40]


def test_nms_ties_keep_input_order_and_zero_scores_stop():
    records = [("v", 0, 10, 0.5, 2), ("v", 1, 11, 0.5, 2), ("v", 100, 110, 0.0, 2)]
    got = nms(table(records), {2: 5})
    assert got.values.tolist() == [["v", 0, 10, 0.5, 2]]  # first of the tie; the 0-score one never kept


def test_nms_groups_in_order_of_first_appearance():
    records = [("b", 0, 10, 0.1, 1), ("a", 0, 10, 0.2, 2), ("b", 0, 10, 0.3, 2), ("a", 30, 40, 0.4, 2)]
    got = nms(table(records), {2: 5, 1: 5})
    assert got[["video_name", "type_idx", "score"]].values.tolist() == [
        ["b", 1, 0.1], ["a", 2, 0.4], ["a", 2, 0.2], ["b", 2, 0.3]]


def test_nms_matches_brute_force_on_random_tables():
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(0, 40))
        starts = rng.integers(0, 60, n)
        records = [(f"v{rng.integers(0, 3)}", int(s), int(s + rng.integers(0, 20)),
                    float(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0])), int(rng.choice([1, 2])))
                   for s in starts]
        top_k = {2: int(rng.integers(1, 7)), 1: int(rng.integers(1, 7))}
        threshold = float(rng.choice([0.3, 0.5]))
        got = nms(table(records), top_k, threshold)
        assert [tuple(r) for r in got.itertuples(index=False)] == brute_nms(records, top_k, threshold), seed


def test_nms_empty_and_bad_inputs():
    got = nms(table([]), {2: 5, 1: 5})
    assert got.empty and list(got.columns) == NMS_COLUMNS
    with pytest.raises(ValueError, match="top_k"):
        nms(table([("v", 0, 10, 0.5, 1)]), {2: 5})
    with pytest.raises(ValueError, match="lacks columns"):
        nms(table([("v", 0, 10, 0.5, 1)]).drop(columns="score"), {1: 5})
