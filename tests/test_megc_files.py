"""The pooling step's MEGC files and the megc notes of the pooled report, on hand-made folds."""
import json

import pandas as pd
import pytest

from utils.errors import UserError
from utils.final_results import final_results, format_table
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
    table, document = final_results(run, ["s1", "s2"])
    predictions = pd.read_csv(run / "megc_predictions.csv")
    truth = pd.read_csv(run / "megc_ground_truth.csv")
    # NMS order kept, type named, the s1_x row (no ground truth) written too: the evaluator decides.
    assert predictions.values.tolist() == [["s1", "s1_a", 100, 160, "macro"], ["s1", "s1_a", 11, 19, "micro"],
                                           ["s1", "s1_b", 0, 40, "macro"], ["s1", "s1_x", 0, 9, "micro"]]
    # Rows of the run's subjects only (not s3), frames as the table has them (offset 0 kept).
    assert truth.values.tolist() == [["s1", "s1_a", 10, 20, "micro"], ["s1", "s1_a", 100, 160, "macro"],
                                     ["s1", "s1_b", 5, 0, "macro"], ["s2", "s2_a", 30, 40, "micro"],
                                     ["s2", "s2_a", 200, 260, "macro"]]
    # s2 has no prediction at all: its micro and macro expressions are left out.
    assert document["megc_files"]["left_out_expressions"] == {"micro": 1, "macro": 1}
    text = format_table(table, document)
    assert "1 micro and 1 macro expressions left out here" in text and "N = TP + FP, M = TP + FN" in text


def test_missing_selected_nms_file_and_eval_config_are_one_line_errors(tmp_path):
    run = make_run(tmp_path)
    (run / "s1" / "nms_csv" / "final_proposals_epoch_020.csv").unlink()
    with pytest.raises(UserError, match=r"final_proposals_epoch_020.csv: missing, but eval_info.json selects epoch 20"):
        final_results(run, ["s1", "s2"])
    (run / "s2" / "logs" / "eval_config.txt").unlink()
    with pytest.raises(UserError, match=r"s2/logs/eval_config.txt: cannot read anno_csv and RATIO_SCALE"):
        final_results(run, ["s1", "s2"])
