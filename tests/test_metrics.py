"""Precision / recall / F1, epoch rows, epoch selection and pooled scores, by hand."""
import pandas as pd
import pytest

from utils.metrics import (COUNT_COLUMNS, EPOCH_METRIC_COLUMNS, empty_counts_row, epoch_metrics_row,
                           pooled_scores, precision_recall_f1)
from utils.selection import select_epoch


def test_column_lists_are_the_published_ones():
    assert COUNT_COLUMNS == ["micro_tp", "micro_n", "micro_m", "macro_tp", "macro_n", "macro_m",
                             "all_tp", "all_n", "all_m"]
    assert EPOCH_METRIC_COLUMNS == ["micro_precision", "micro_recall", "micro_f1", "macro_precision",
                                    "macro_recall", "macro_f1", "all_precision", "all_recall", "all_f1",
                                    *COUNT_COLUMNS, "epoch"]


def test_precision_recall_f1_hand_values():
    assert precision_recall_f1(3, 4, 6) == pytest.approx((0.75, 0.5, 0.6))
    assert precision_recall_f1(1, 1, 1) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("tp,n,m,expected", [
    (0, 0, 5, (0.0, 0.0, 0.0)),     # no proposal
    (0, 5, 0, (0.0, 0.0, 0.0)),     # no ground truth
    (0, 0, 0, (0.0, 0.0, 0.0)),
    (0, 4, 6, (0.0, 0.0, 0.0)),     # P + R = 0
    (2, 4, 0, (0.5, 0.0, 0.0)),
])
def test_precision_recall_f1_undefined_cases_are_zero(tp, n, m, expected):
    assert precision_recall_f1(tp, n, m) == expected


def test_epoch_metrics_row_hand_values():
    row = epoch_metrics_row({2: (1, 2, 4), 1: (3, 6, 6)}, epoch=17)
    assert list(row) == EPOCH_METRIC_COLUMNS
    assert row["epoch"] == 17
    assert [row[c] for c in COUNT_COLUMNS] == [1, 2, 4, 3, 6, 6, 4, 8, 10]
    assert (row["micro_precision"], row["micro_recall"], row["micro_f1"]) == pytest.approx((0.5, 0.25, 1 / 3))
    assert (row["macro_precision"], row["macro_recall"], row["macro_f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert (row["all_precision"], row["all_recall"], row["all_f1"]) == pytest.approx((0.5, 0.4, 4 / 9))
    with pytest.raises(ValueError, match="expression types"):
        epoch_metrics_row({2: (1, 2, 4)}, epoch=1)


def test_empty_counts_row():
    assert empty_counts_row(5, 7) == dict(zip(COUNT_COLUMNS, [0, 0, 5, 0, 0, 7, 0, 0, 12]))


def metrics_table(epochs, f1s):
    return pd.DataFrame({"all_f1": f1s, "all_tp": range(len(epochs)), "epoch": epochs})


def test_best_on_test_takes_highest_f1_earliest_epoch_on_ties():
    table = metrics_table([20, 16, 18, 15], [0.5, 0.5, 0.3, 0.4])
    assert select_epoch(table, "best-on-test")["epoch"] == 16
    assert select_epoch(table, "best-on-test")["all_tp"] == 1
    assert select_epoch(metrics_table([15, 16], [0.1, 0.2]), "best-on-test")["epoch"] == 16


def test_fixed_and_last_epoch():
    table = metrics_table([15, 16, 18], [0.5, 0.1, 0.3])
    assert select_epoch(table, "fixed-epoch", fixed_epoch=16)["all_f1"] == 0.1
    assert select_epoch(table, "fixed-epoch", fixed_epoch=17) is None  # epoch without proposals
    assert select_epoch(table, "last-epoch")["epoch"] == 18
    assert select_epoch(table.iloc[::-1], "last-epoch")["epoch"] == 18


def test_select_epoch_empty_and_bad_input():
    empty = metrics_table([], [])
    for protocol in ("best-on-test", "last-epoch"):
        assert select_epoch(empty, protocol) is None
    assert select_epoch(empty, "fixed-epoch", fixed_epoch=47) is None
    with pytest.raises(ValueError, match="'best'.*best-on-test, fixed-epoch, last-epoch"):
        select_epoch(empty, "best")
    with pytest.raises(ValueError, match="needs fixed_epoch"):
        select_epoch(empty, "fixed-epoch")


def test_pooled_scores_sum_counts_before_ratios():
    folds = pd.DataFrame([[1, 2, 4, 3, 6, 6, 4, 8, 10],
                          [0, 0, 3, 1, 1, 2, 1, 1, 5],
                          list(empty_counts_row(2, 0).values())], columns=COUNT_COLUMNS)
    got = pooled_scores(folds)
    assert got.index.tolist() == ["micro", "macro", "overall"]
    assert got.columns.tolist() == ["tp", "fp", "fn", "n", "m", "precision", "recall", "f1"]
    assert got.loc["micro", ["tp", "fp", "fn", "n", "m"]].tolist() == [1, 1, 8, 2, 9]
    assert got.loc["macro", ["tp", "fp", "fn", "n", "m"]].tolist() == [4, 3, 4, 7, 8]
    assert got.loc["overall", ["tp", "fp", "fn", "n", "m"]].tolist() == [5, 4, 12, 9, 17]
    assert got.loc["overall", ["precision", "recall", "f1"]].tolist() == pytest.approx(
        [5 / 9, 5 / 17, 2 * 5 / (9 + 17)])
    # Not the mean of per-fold F1s.
    assert got.loc["micro", "f1"] == pytest.approx(2 * 1 / (2 + 9))


def test_pooled_scores_no_proposals_anywhere_and_bad_rows():
    got = pooled_scores(pd.DataFrame([empty_counts_row(3, 4)]))
    assert got[["precision", "recall", "f1"]].to_numpy().sum() == 0
    assert got.loc["overall", "fn"] == 7
    bad = pd.DataFrame([[1, 2, 4, 3, 6, 6, 5, 8, 10]], columns=COUNT_COLUMNS)
    with pytest.raises(ValueError, match="all_tp"):
        pooled_scores(bad)
    with pytest.raises(ValueError, match="lack columns"):
        pooled_scores(bad.drop(columns="micro_m"))


# One subject: v1 has a micro row (10-30) found by two proposals (11-30 best, 12-29 also > 0.5) and a macro row
# (50-90) missed by its one macro proposal (200-220); v2 a micro row nothing spots; v3 a macro proposal and no
# row; v4 is scored but has neither.
VIDEO_TRUTH = pd.DataFrame({"video_name": ["v1", "v1", "v2"], "start_frame": [10, 50, 100],
                            "end_frame": [30, 90, 120], "type_idx": [2, 1, 2]})
VIDEO_KEPT = pd.DataFrame({"video_name": ["v1", "v1", "v1", "v3"], "start_frame": [11, 12, 200, 5],
                           "end_frame": [30, 29, 220, 20], "score": [0.9, 0.8, 0.7, 0.6], "type_idx": [2, 2, 1, 1]})


@pytest.mark.parametrize("rule,v1_micro", [("published", [1, 1, 0]),  # one TP per row: the second is an FP
                                           ("paper2023", [2, 0, -1])])  # every matching proposal: TP > M
def test_video_counts_by_hand(rule, v1_micro):
    from utils.matching import MATCHING_RULES
    from utils.metrics import VIDEO_COUNT_COLUMNS, video_counts

    table = video_counts("s", ["v4", "v1", "v2"], VIDEO_KEPT, VIDEO_TRUTH, MATCHING_RULES[rule])
    assert list(table.columns) == VIDEO_COUNT_COLUMNS
    assert table.values.tolist() == [
        ["s", "v1", "micro", *v1_micro], ["s", "v1", "macro", 0, 1, 1],
        ["s", "v2", "micro", 0, 0, 1], ["s", "v2", "macro", 0, 0, 0],
        ["s", "v3", "micro", 0, 0, 0], ["s", "v3", "macro", 0, 1, 0],
        ["s", "v4", "micro", 0, 0, 0], ["s", "v4", "macro", 0, 0, 0]]


@pytest.mark.parametrize("rule", ["published", "paper2023", "one-to-one"])
def test_video_counts_add_up_to_the_subjects_counts(rule):
    """Every rule that compares within a video only: the videos' rows sum to the subject's counts."""
    from utils.matching import MATCHING_RULES
    from utils.metrics import video_counts

    assert MATCHING_RULES[rule].counts_add_up_per_video
    table = video_counts("s", [], VIDEO_KEPT, VIDEO_TRUTH, MATCHING_RULES[rule])
    for type_idx, name in ((2, "micro"), (1, "macro")):
        tp, n, m = MATCHING_RULES[rule].counts(VIDEO_KEPT, VIDEO_TRUTH)[type_idx]
        summed = table[table["type"] == name][["tp", "fp", "fn"]].sum()
        assert summed.tolist() == [tp, n - tp, m - tp], name


def test_video_counts_round_trip_keeps_names_as_text(tmp_path):
    from utils.io import atomic_write_csv
    from utils.matching import MATCHING_RULES
    from utils.metrics import read_video_counts, video_counts

    table = video_counts("007", ["001"], VIDEO_KEPT.iloc[:0], VIDEO_TRUTH.iloc[:0], MATCHING_RULES["published"])
    atomic_write_csv(tmp_path / "video_counts.csv", table)
    back = read_video_counts(tmp_path / "video_counts.csv")
    assert back.values.tolist() == [["007", "001", "micro", 0, 0, 0], ["007", "001", "macro", 0, 0, 0]]
    (tmp_path / "video_counts.csv").write_text("subject,video,type,tp,fp\n")
    with pytest.raises(ValueError, match=r"video_counts.csv: video counts table lacks column\(s\) fn"):
        read_video_counts(tmp_path / "video_counts.csv")
