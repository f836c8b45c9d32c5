"""The megc rule (the MEGC challenge's spotting evaluator, METHOD.md 8.4) against a brute-force evaluator and
on hand cases."""
import numpy as np

from core_fixtures import kept_table, megc_brute_force, truth_table
from utils.matching import count_matches, megc_counts, megc_iou, true_positive_flags


def test_iou_over_inclusive_frames():
    # [0, 9] and [5, 14]: 5 shared frames of 15 -> 1/3; [3, 3] with itself: 1; zero-length sides: 0.
    assert np.allclose(megc_iou([0, 3, 0, 4], [9, 3, 9, 9], [5, 3, 2, 7], [14, 3, 0, 6]), [1 / 3, 1.0, 0.0, 0.0])


def test_one_prediction_covering_two_expressions_counts_two():
    # [0, 19] vs [0, 11] (12/20) and [8, 19] (12/20): both reached at once.
    kept = kept_table([("v", 0, 19, 0.9, 1)])
    truth = truth_table([("v", 0, 11, 1), ("v", 8, 19, 1)])
    assert megc_counts(kept, truth)[1] == (2, 0, 0, 0)
    assert count_matches(kept, truth, "megc")[1] == (2, 2, 2)  # N = TP + FP, M = TP + FN
    assert true_positive_flags(kept, truth, "megc").tolist() == [True]


def test_prediction_overlapping_an_already_matched_expression_is_fp():
    kept = kept_table([("v", 0, 10, 0.2, 2), ("v", 1, 10, 0.9, 2), ("v", 40, 50, 0.5, 2)])
    truth = truth_table([("v", 0, 10, 2)])
    # Written order, not score order: the first row takes the expression, the second and third are FP.
    assert megc_counts(kept, truth)[2] == (1, 2, 0, 0)
    assert true_positive_flags(kept, truth, "megc").tolist() == [True, False, False]


def test_iou_exactly_one_half_matches():
    # [0, 9] vs [0, 4]: 5 / 10 = 0.5 exactly -> TP; [0, 10] vs [0, 4]: 5 / 11 -> FP.
    truth = truth_table([("v", 0, 4, 2)])
    assert megc_counts(kept_table([("v", 0, 9, 1.0, 2)]), truth)[2] == (1, 0, 0, 0)
    assert megc_counts(kept_table([("v", 0, 10, 1.0, 2)]), truth)[2] == (0, 1, 1, 0)


def test_video_without_ground_truth_is_not_counted():
    kept = kept_table([("u", 0, 10, 0.9, 1), ("v", 0, 10, 0.9, 1), ("w", 0, 10, 0.9, 1)])
    # u has nothing, w has only a micro expression: only the prediction on v counts.
    truth = truth_table([("v", 0, 10, 1), ("w", 0, 10, 2)])
    assert megc_counts(kept, truth) == {2: (0, 0, 0, 1), 1: (1, 0, 0, 0)}


def test_subject_without_predictions_of_a_type_is_left_out():
    truth = truth_table([("v", 0, 10, 1), ("v", 20, 30, 2), ("w", 5, 9, 2)])
    assert megc_counts(kept_table([]), truth) == {2: (0, 0, 0, 2), 1: (0, 0, 0, 1)}
    assert count_matches(kept_table([]), truth, "megc") == {2: (0, 0, 0), 1: (0, 0, 0)}
    # A macro prediction alone: micro stays left out, macro counts its FN.
    kept = kept_table([("v", 50, 60, 0.9, 1)])
    assert megc_counts(kept, truth) == {2: (0, 0, 0, 2), 1: (0, 1, 1, 0)}


def test_offset_zero_never_matches_and_stays_fn():
    truth = truth_table([("v", 30, 0, 1), ("v", 30, 40, 1)])
    kept = kept_table([("v", 0, 30, 0.9, 1), ("v", 30, 40, 0.8, 1)])
    assert megc_counts(kept, truth)[1] == (1, 1, 1, 0)


def test_matches_brute_force_on_random_subjects():
    for seed in range(300):
        rng = np.random.default_rng(seed)
        kept = [(f"v{rng.integers(0, 3)}", int(s), int(s + rng.integers(0, 14)), 0.5, int(rng.choice([1, 2])))
                for s in rng.integers(0, 30, int(rng.integers(0, 12)))]
        truth = [(f"v{rng.integers(0, 4)}", int(s), int(s + rng.integers(0, 14)) * int(rng.random() > 0.1),
                  int(rng.choice([1, 2])))
                 for s in rng.integers(0, 30, int(rng.integers(0, 8)))]
        got = megc_counts(kept_table(kept), truth_table(truth))
        assert got == megc_brute_force(kept, truth), seed
        assert count_matches(kept_table(kept), truth_table(truth), "megc") == {
            t: (tp, tp + fp, tp + fn) for t, (tp, fp, fn, _) in got.items()}
