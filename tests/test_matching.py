"""count_matches: cases where the three paper-side rules disagree, edge cases, and a plain-Python reference
(megc has its own tests in test_megc.py)."""
import numpy as np
import pandas as pd
import pytest

from core_fixtures import KEPT_COLUMNS, kept_table, truth_table
from utils.matching import MATCHING_RULES, count_matches, true_positive_flags, truth_found_flags

RULES = tuple(r for r in MATCHING_RULES if r != "megc")

def all_rules(kept, truth):
    return {rule: count_matches(kept, truth, rule) for rule in RULES}


def test_one_expression_found_by_two_proposals():
    kept = kept_table([("v", 0, 10, 0.9, 2), ("v", 1, 10, 0.8, 2)])  # tIoU 1.0 and 0.9 with the truth
    truth = truth_table([("v", 0, 10, 2)])
    assert all_rules(kept, truth) == {"published": {2: (1, 2, 1), 1: (0, 0, 0)},
                                      "paper2023": {2: (2, 2, 1), 1: (0, 0, 0)},
                                      "one-to-one": {2: (1, 2, 1), 1: (0, 0, 0)}}


def test_one_proposal_best_for_two_expressions():
    # P0 = (0, 11) has tIoU 10/11 with both truths, P1 = (1, 10) 9/10 with both:
    # published marks P0 twice (one TP), paper2023 counts both, one-to-one pairs them up.
    kept = kept_table([("v", 0, 11, 0.9, 1), ("v", 1, 10, 0.8, 1)])
    truth = truth_table([("v", 0, 10, 1), ("v", 1, 11, 1)])
    assert {rule: counts[1] for rule, counts in all_rules(kept, truth).items()} == {
        "published": (1, 2, 2), "paper2023": (2, 2, 2), "one-to-one": (2, 2, 2)}


def test_published_tie_marks_the_first_proposal_in_nms_order():
    # Both proposals have tIoU 0.9 with the single truth; only the first (NMS order) is marked.
    kept = kept_table([("v", 1, 10, 0.2, 2), ("v", 0, 9, 0.9, 2)])
    truth = truth_table([("v", 0, 10, 2), ("v", 1, 10, 2)])
    # Second truth (1, 10): P0 has tIoU 1.0 -> P0 again. So one distinct proposal found.
    assert count_matches(kept, truth, "published")[2] == (1, 2, 2)
    # Reordered, the first truth's tie now goes to the (0, 9) proposal: two distinct proposals.
    assert count_matches(kept.iloc[::-1].reset_index(drop=True), truth, "published")[2] == (2, 2, 2)


def test_half_overlap_boundary():
    kept = kept_table([("v", 0, 5, 0.9, 2)])
    truth = truth_table([("v", 0, 10, 2)])  # tIoU exactly 0.5
    assert {rule: counts[2][0] for rule, counts in all_rules(kept, truth).items()} == {
        "published": 0, "paper2023": 0, "one-to-one": 1}


def test_one_to_one_takes_the_best_free_truth_in_score_order():
    # High-score proposal (5, 15): tIoU 7/15 with T0 = (0, 12), 10/12 with T1 = (4, 16) -> T1.
    # Low-score proposal (4, 16): T1 is taken; T0 gives 8/16 = 0.5 -> matched (>=).
    kept = kept_table([("v", 4, 16, 0.3, 2), ("v", 5, 15, 0.9, 2)])
    truth = truth_table([("v", 0, 12, 2), ("v", 4, 16, 2)])
    assert count_matches(kept, truth, "one-to-one")[2] == (2, 2, 2)
    # Score order matters: if (4, 16) goes first it takes T1 and (5, 15) is left with 7/15.
    swapped = kept.assign(score=[0.9, 0.3])
    assert count_matches(swapped, truth, "one-to-one")[2] == (1, 2, 2)


def test_end_frame_zero_row_never_matches_but_counts():
    kept = kept_table([("v", 90, 110, 0.9, 1), ("v", 0, 5000, 0.8, 1)])
    truth = truth_table([("v", 100, 0, 1)])
    for rule, counts in all_rules(kept, truth).items():
        assert counts[1] == (0, 2, 1), rule


def test_video_and_type_must_agree():
    kept = kept_table([("v", 0, 10, 0.9, 2), ("w", 0, 10, 0.9, 1)])
    truth = truth_table([("v", 0, 10, 1), ("w", 0, 10, 2), ("x", 0, 10, 0)])  # type 0 counts nowhere
    for rule, counts in all_rules(kept, truth).items():
        assert counts == {2: (0, 1, 1), 1: (0, 1, 1)}, rule


def test_no_proposals_no_truth_and_empty_types():
    truth = truth_table([("v", 0, 10, 1), ("w", 5, 30, 1)])
    kept = kept_table([("u", 0, 10, 0.9, 2)])  # a video without ground truth still counts in N
    for rule in RULES:
        assert count_matches(kept_table([]), truth, rule) == {2: (0, 0, 0), 1: (0, 0, 2)}
        assert count_matches(kept, truth_table([]), rule) == {2: (0, 1, 0), 1: (0, 0, 0)}
        assert count_matches(kept_table([]), truth_table([]), rule) == {2: (0, 0, 0), 1: (0, 0, 0)}


def test_unknown_rule_and_missing_columns():
    with pytest.raises(ValueError, match=r"'megc2019'.*published, paper2023, one-to-one, megc"):
        count_matches(kept_table([]), truth_table([]), "megc2019")
    with pytest.raises(ValueError, match="ground-truth table lacks"):
        count_matches(kept_table([]), truth_table([]).drop(columns="end_frame"))


def reference_counts(kept, truth, rule):
    """The three rules with Python loops over (video, type) groups."""
    def iou(a, b):
        inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
        union = (a[1] - a[0]) + (b[1] - b[0]) - inter
        return inter / union if union > 0 else 0.0

    out = {}
    for t in (2, 1):
        props = [r for r in kept if r[4] == t]
        gts = [r for r in truth if r[3] == t]
        tp = 0
        for video in {r[0] for r in props}:
            p = [r for r in props if r[0] == video]
            g = [r for r in gts if r[0] == video]
            if rule == "published":
                found = set()
                for gt in g:
                    ious = [iou(x[1:3], gt[1:3]) for x in p]
                    best = ious.index(max(ious))
                    if ious[best] > 0.5:
                        found.add(best)
                tp += len(found)
            elif rule == "paper2023":
                tp += sum(1 for x in p if any(iou(x[1:3], gt[1:3]) > 0.5 for gt in g))
            else:
                free = list(range(len(g)))
                for x in sorted(p, key=lambda r: -r[3]):
                    if not free:
                        break
                    ious = [iou(x[1:3], g[j][1:3]) for j in free]
                    best = ious.index(max(ious))
                    if ious[best] >= 0.5:
                        free.pop(best)
                        tp += 1
        out[t] = (tp, len(props), len(gts))
    return out


def test_matches_reference_on_random_subjects():
    for seed in range(200):
        rng = np.random.default_rng(seed)
        kept = [(f"v{rng.integers(0, 3)}", int(s), int(s + rng.integers(1, 12)),
                 float(rng.choice([0.2, 0.5, 0.9])), int(rng.choice([1, 2])))
                for s in rng.integers(0, 30, int(rng.integers(0, 12)))]
        truth = [(f"v{rng.integers(0, 4)}", int(s), int(s + rng.integers(0, 12)) * int(rng.random() > 0.1),
                  int(rng.choice([1, 2])))
                 for s in rng.integers(0, 30, int(rng.integers(0, 8)))]
        for rule in RULES:
            got = count_matches(kept_table(kept), truth_table(truth), rule)
            assert got == reference_counts(kept, truth, rule), (seed, rule)


def test_found_truth_rows_hand_computed():
    # P0 (0, 11) and P1 (1, 10) both overlap T0 (0, 10) and T1 (1, 11) above 0.5; T2 (40, 50) is missed.
    kept = kept_table([("v", 0, 11, 0.9, 1), ("v", 1, 10, 0.8, 1)])
    truth = truth_table([("v", 0, 10, 1), ("v", 1, 11, 1), ("v", 40, 50, 1)])
    for rule in RULES:  # each rule finds T0 and T1 (one-to-one: P0 takes T0, P1 the free T1)
        assert truth_found_flags(kept, truth, rule).tolist() == [True, True, False], rule
    # one-to-one with one proposal: only the row it was assigned to (the first of equal tIoU) is found
    assert truth_found_flags(kept.iloc[:1], truth, "one-to-one").tolist() == [True, False, False]
    assert truth_found_flags(kept.iloc[:1], truth, "published").tolist() == [True, True, False]


def test_one_to_one_finds_exactly_one_row_per_true_positive():
    for seed in range(100):
        rng = np.random.default_rng(seed)
        kept = kept_table([(f"v{rng.integers(0, 2)}", int(s), int(s + rng.integers(1, 12)),
                            float(rng.random()), int(rng.choice([1, 2])))
                           for s in rng.integers(0, 30, int(rng.integers(1, 10)))])
        truth = truth_table([(f"v{rng.integers(0, 2)}", int(s), int(s + rng.integers(1, 12)), int(rng.choice([1, 2])))
                             for s in rng.integers(0, 30, int(rng.integers(1, 8)))])
        found, tp = truth_found_flags(kept, truth, "one-to-one"), true_positive_flags(kept, truth, "one-to-one")
        for t in (1, 2):
            assert found[truth["type_idx"].to_numpy() == t].sum() == tp[kept["type_idx"].to_numpy() == t].sum(), seed


def test_casme2_table_every_row_counts_and_zero_end_rows_never_match(shared_data):
    truth = pd.read_csv(shared_data / "casme2_annotations.csv")
    # Each row proposed exactly: a proposal identical to a valid row has tIoU 1 (paper2023 TP);
    # the 44 macro rows with end_frame 0 can never match.
    kept = truth.assign(score=1.0)[KEPT_COLUMNS]
    counts = count_matches(kept, truth, "paper2023")
    zero_end = (truth.end_frame == 0) & (truth.type_idx == 1)
    assert zero_end.sum() == 44
    for t in (2, 1):
        of_type = truth.type_idx == t
        assert counts[t] == (int((of_type & (truth.end_frame > truth.start_frame)).sum()),
                             int(of_type.sum()), int(of_type.sum()))
