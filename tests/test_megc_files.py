"""The pooling step's MEGC files and the megc notes of the pooled report, on hand-made folds."""
import json

import pandas as pd
import pytest

from utils.annotations import read_annotation_table, subject_ground_truth
from utils.errors import UserError
from pipeline.final_results import final_results, format_table
from utils.matching import megc_counts
from utils.metrics import COUNT_COLUMNS

ANNOTATIONS = """subject,video_name,start_frame,apex_frame,end_frame,type_idx,au
s1,s1_a,10,12,20,2,4
s1,s1_a,100,130,160,1,12
s1,s1_b,5,9,0,1,1
s2,s2_a,30,33,40,2,4
s2,s2_a,200,220,260,1,12
s3,s3_a,1,2,3,1,1
"""


def make_run(root, selected={"s1": 20, "s2": None}):
    anno = root / "anno.csv"
    anno.write_text(ANNOTATIONS)
    nms = {"s1": [("s1_a", 100, 160, 0.9, 1), ("s1_a", 11, 19, 0.8, 2), ("s1_b", 0, 40, 0.7, 1),
                  ("s1_x", 0, 9, 0.6, 2)]}
    for subject, epoch in selected.items():
        fold = root / "run" / subject
        (fold / "logs").mkdir(parents=True)
        (fold / "logs" / "eval_config.txt").write_text(json.dumps({"anno_csv": str(anno), "RATIO_SCALE": 1}))
        pd.DataFrame([dict.fromkeys(COUNT_COLUMNS, 0)]).to_csv(fold / "best_res.csv", index=False)
        (fold / "eval_info.json").write_text(json.dumps({"matching": "megc", "selection": "best-on-test",
                                                         "selected_epoch": epoch}))
        if epoch is not None:
            (fold / "nms_csv").mkdir()
            pd.DataFrame(nms[subject], columns=["video_name", "start_frame", "end_frame", "score", "type_idx"]).to_csv(
                fold / "nms_csv" / f"final_proposals_epoch_{epoch:03d}.csv", index=False)
    return root / "run"


def test_megc_files_and_left_out_note(tmp_path):
    run = make_run(tmp_path)
    table, document = final_results(run, ["s1", "s2"], tmp_path / "anno.csv", 1)
    predictions = pd.read_csv(run / "megc_predictions.csv")
    truth = pd.read_csv(run / "megc_ground_truth.csv")
    # NMS order kept, type named, the s1_x row (no ground truth) written too: the evaluator decides.
    assert predictions.values.tolist() == [["s1", "s1_a", 100, 160, "unknown", "macro"],
                                           ["s1", "s1_a", 11, 19, "unknown", "micro"],
                                           ["s1", "s1_b", 0, 40, "unknown", "macro"],
                                           ["s1", "s1_x", 0, 9, "unknown", "micro"]]
    # Rows of the run's subjects only (not s3), frames as the table has them (offset 0 kept).
    assert truth.values.tolist() == [["s1", "s1_a", 10, 20, "unknown", "micro"],
                                     ["s1", "s1_a", 100, 160, "unknown", "macro"],
                                     ["s1", "s1_b", 5, 0, "unknown", "macro"],
                                     ["s2", "s2_a", 30, 40, "unknown", "micro"],
                                     ["s2", "s2_a", 200, 260, "unknown", "macro"]]
    # s2 has no prediction at all: its micro and macro expressions are left out.
    assert document["megc_files"]["left_out_expressions"] == {"micro": 1, "macro": 1}
    text = format_table(table, document)
    assert "1 micro and 1 macro expressions left out here" in text and "N = TP + FP, M = TP + FN" in text


def test_a_missing_selected_nms_file_is_a_one_line_error(tmp_path):
    run = make_run(tmp_path)
    (run / "s1" / "nms_csv" / "final_proposals_epoch_020.csv").unlink()
    with pytest.raises(UserError, match=r"final_proposals_epoch_020.csv: missing, but eval_info.json selects epoch 20"):
        final_results(run, ["s1", "s2"], tmp_path / "anno.csv", 1)


EVALUATOR_COLUMNS = ["subject", "video", "onset", "offset", "emotion"]


def read_as_the_evaluator(path):
    """The challenge's spotting evaluator: exactly these columns, by name (a missing one is a KeyError there)."""
    table = pd.read_csv(path, dtype={"subject": str, "video": str, "emotion": str})
    return [(row["subject"], row["video"], int(row["onset"]), int(row["offset"]), row["emotion"])
            for _, row in table[EVALUATOR_COLUMNS].iterrows()]


def test_the_evaluator_reads_both_files_with_the_tables_emotions(tmp_path):
    run = make_run(tmp_path)
    anno = tmp_path / "anno.csv"
    with_emotion = pd.read_csv(anno)
    with_emotion["emotion"] = ["happiness", "surprise", None, "disgust", " ", "others"]  # two without one
    with_emotion.to_csv(anno, index=False)
    final_results(run, ["s1", "s2"], tmp_path / "anno.csv", 1)
    assert read_as_the_evaluator(run / "megc_ground_truth.csv") == [
        ("s1", "s1_a", 10, 20, "happiness"), ("s1", "s1_a", 100, 160, "surprise"), ("s1", "s1_b", 5, 0, "unknown"),
        ("s2", "s2_a", 30, 40, "disgust"), ("s2", "s2_a", 200, 260, "unknown")]
    assert [row[4] for row in read_as_the_evaluator(run / "megc_predictions.csv")] == ["unknown"] * 4
    assert list(pd.read_csv(run / "megc_predictions.csv").columns) == [*EVALUATOR_COLUMNS, "type"]


def test_megc_frames_published_are_the_evaluated_ones_raw_take_the_shift_off(tmp_path):
    run = make_run(tmp_path)
    nms = pd.read_csv(run / "s1" / "nms_csv" / "final_proposals_epoch_020.csv")
    _, document = final_results(run, ["s1", "s2"], tmp_path / "anno.csv", 1)
    published = read_as_the_evaluator(run / "megc_predictions.csv")
    assert [row[2:4] for row in published] == list(zip(nms["start_frame"], nms["end_frame"]))
    assert document["megc_files"]["frames"] == "published"
    _, document = final_results(run, ["s1", "s2"], tmp_path / "anno.csv", 1, megc_frames="raw")
    raw = read_as_the_evaluator(run / "megc_predictions.csv")
    shifted_back = [(start - 1, end - 1) for start, end in zip(nms["start_frame"], nms["end_frame"])]
    assert [row[2:4] for row in raw] == shifted_back
    assert document["megc_files"]["frames"] == "raw"
    truth = read_as_the_evaluator(run / "megc_ground_truth.csv")
    assert truth[0] == ("s1", "s1_a", 10, 20, "unknown")  # ground truth never shifts


def test_the_evaluator_on_the_default_files_gives_the_evaluated_megc_counts(tmp_path):
    """megc_counts over the written files (as the evaluator reads them) equal megc_counts over the NMS table."""
    run = make_run(tmp_path)
    final_results(run, ["s1", "s2"], tmp_path / "anno.csv", 1)
    predictions, truth = (pd.read_csv(run / name) for name in ("megc_predictions.csv", "megc_ground_truth.csv"))
    type_idx = {"micro": 2, "macro": 1}
    kept = pd.DataFrame({"video_name": predictions["video"], "start_frame": predictions["onset"],
                         "end_frame": predictions["offset"], "score": 1.0,
                         "type_idx": predictions["type"].map(type_idx)})
    s1_truth = truth[truth["subject"] == "s1"]
    truth_rows = pd.DataFrame({"video_name": s1_truth["video"], "start_frame": s1_truth["onset"],
                               "apex_frame": 0, "end_frame": s1_truth["offset"],
                               "type_idx": s1_truth["type"].map(type_idx)})
    nms = pd.read_csv(run / "s1" / "nms_csv" / "final_proposals_epoch_020.csv")
    evaluated = megc_counts(nms, subject_ground_truth(read_annotation_table(tmp_path / "anno.csv"), "s1"))
    assert megc_counts(kept, truth_rows) == evaluated
