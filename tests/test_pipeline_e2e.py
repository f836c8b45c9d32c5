"""End to end: the pipeline (``python -m pipeline``, in this process) over a tiny synthetic feature archive,
resume and failure handling."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from core_fixtures import SUBJECTS, make_tiny_dataset, run_pipeline
from utils.metrics import COUNT_COLUMNS, EPOCH_METRIC_COLUMNS

pytestmark = pytest.mark.e2e  # whole runs


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    config = make_tiny_dataset(root)
    env = {"DATASET": "tiny", "CONFIG": str(config), "OUTPUT": str(root / "run")}
    result = run_pipeline(env, cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, env, result


def test_layout_of_every_fold(finished_run):
    root, _, _ = finished_run
    for subject in SUBJECTS:
        fold = root / "run" / subject
        checkpoints = sorted(p.name for p in (fold / "models").iterdir())
        assert checkpoints == [f"checkpoint_epoch_{e:03d}.pth.tar" for e in range(30)]
        assert (fold / "logs" / "config.txt").is_file()
        metrics = pd.read_csv(fold / "epoch_metrics.csv")
        assert list(metrics.columns) == EPOCH_METRIC_COLUMNS
        assert metrics["epoch"].min() >= 15 and metrics["epoch"].is_monotonic_increasing
        for epoch in metrics["epoch"]:
            assert (fold / "output_csv" / f"proposals_epoch_{epoch:03d}.csv").is_file()
            nms = pd.read_csv(fold / "nms_csv" / f"final_proposals_epoch_{epoch:03d}.csv")
            assert list(nms.columns) == ["video_name", "start_frame", "end_frame", "score", "type_idx"]
        best = pd.read_csv(fold / "best_res.csv")
        assert list(best.columns) == COUNT_COLUMNS and len(best) == 1
        # M counts every annotation row of the subject, the end_frame-0 rows too: 2 videos x (2 micro, 3 macro).
        assert (best["micro_m"].item(), best["macro_m"].item()) == (4, 6)
        info = json.loads((fold / "eval_info.json").read_text())
        assert info["matching"] == "published" and info["selection"] == "best-on-test"
        if info["selected_epoch"] is not None:
            chosen = metrics[metrics["epoch"] == info["selected_epoch"]]
            assert chosen["all_f1"].item() == metrics["all_f1"].max()
            assert chosen["epoch"].item() == metrics.loc[metrics["all_f1"] == metrics["all_f1"].max(), "epoch"].min()


def test_final_results_pool_the_folds(finished_run):
    root, _, result = finished_run
    table = pd.read_csv(root / "run" / "final_results.csv")
    document = json.loads((root / "run" / "final_results.json").read_text())
    assert list(table["type"]) == ["micro", "macro", "overall"]
    assert document["matching"] == "published" and document["selection"] == "best-on-test"
    folds = pd.concat([pd.read_csv(root / "run" / s / "best_res.csv") for s in SUBJECTS])
    overall = table.set_index("type").loc["overall"]
    assert overall["tp"] == folds["all_tp"].sum() and overall["n"] == folds["all_n"].sum()
    assert overall["m"] == folds["all_m"].sum() == 30
    assert overall["fp"] == overall["n"] - overall["tp"] and overall["fn"] == overall["m"] - overall["tp"]
    # The synthetic macro motion is easy: training must find some of it.
    assert document["scores"]["macro"]["tp"] > 0
    assert "Pooled LOSO results" in result.stdout and "matching: published" in result.stdout


def test_the_video_counts_add_up_to_each_fold_and_to_the_pooled_table(finished_run):
    """Pooling's per-video counts (the run report's rows) sum, per fold, to its best_res.csv and, over the run,
    to final_results.json: published counts within a video only."""
    from utils.metrics import read_best_res, read_video_counts

    root, _, _ = finished_run
    table = read_video_counts(root / "run" / "video_counts.csv")
    scores = json.loads((root / "run" / "final_results.json").read_text())["scores"]
    for name in ("micro", "macro"):
        assert table.loc[table["type"] == name, ["tp", "fp", "fn"]].sum().tolist() == [
            scores[name]["tp"], scores[name]["fp"], scores[name]["fn"]], name
        for subject in SUBJECTS:
            best = read_best_res(root / "run" / subject / "best_res.csv")
            tp, fp, fn = table.loc[(table["type"] == name) & (table["subject"] == subject), ["tp", "fp", "fn"]].sum()
            assert (tp, tp + fp, tp + fn) == (best[f"{name}_tp"], best[f"{name}_n"], best[f"{name}_m"])
    assert sorted(set(table["subject"])) == sorted(SUBJECTS) and len(table) == 2 * 2 * len(SUBJECTS)  # 2 videos


def test_a_run_pooled_before_the_video_counts_is_pooled_again_alone(finished_run):
    """A run made before pooling wrote video_counts.csv: the rerun pools again (nothing upstream) and gets the
    same table a clean run writes, final_results.* byte for byte as they were."""
    root, env, _ = finished_run
    run = root / "run"
    before = {name: (run / name).read_bytes()
              for name in ("video_counts.csv", "final_results.csv", "final_results.json")}
    (run / "video_counts.csv").unlink()
    result = run_pipeline(env, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pooling (its outputs are incomplete)" in result.stdout
    assert result.stdout.count("done before") == 2 * len(SUBJECTS) + 1  # trainings, evaluations, report
    assert {name: (run / name).read_bytes() for name in before} == before


def test_plots_are_written(finished_run):
    root, _, _ = finished_run
    assert (root / "run" / "plots" / "f1_by_epoch.png").stat().st_size > 1000
    timelines = list((root / "run" / "plots" / "timelines").rglob("*.png"))
    assert len(timelines) >= 2


def test_rerun_skips_finished_folds(finished_run):
    root, env, _ = finished_run
    before = (root / "run" / SUBJECTS[0] / "models" / "checkpoint_epoch_029.pth.tar").stat().st_mtime_ns
    result = run_pipeline(env, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("done before") == 2 * len(SUBJECTS) + 2  # trainings, evaluations, pooling, report
    assert (root / "run" / SUBJECTS[0] / "models" / "checkpoint_epoch_029.pth.tar").stat().st_mtime_ns == before


def test_failing_fold_stops_the_run_and_is_named(finished_run, tmp_path):
    root, env, _ = finished_run
    result = run_pipeline({**env, "OUTPUT": str(tmp_path / "run"), "SUBJECTS": "subj_a subj_zz subj_b"}, cwd=root)
    assert result.returncode != 0
    assert "subj_zz" in result.stderr and "unknown subject" in result.stderr
    assert not (tmp_path / "run").exists()  # refused before any work


def test_eval_only_with_other_rules_keeps_checkpoints(finished_run, tmp_path):
    """EVAL_ONLY=1 evaluates existing checkpoints (as for the published ones) under another rule and protocol."""
    root, env, _ = finished_run
    checkpoint = root / "run" / SUBJECTS[1] / "models" / "checkpoint_epoch_020.pth.tar"
    before = checkpoint.read_bytes()
    result = run_pipeline({**env, "EVAL_ONLY": "1", "FORCE": "1", "MATCHING": "one-to-one",
                           "SELECTION": "fixed-epoch"}, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ": training" not in result.stdout and checkpoint.read_bytes() == before  # no training task ran
    document = json.loads((root / "run" / "final_results.json").read_text())
    assert (document["matching"], document["selection"], document["fixed_epoch"]) == ("one-to-one", "fixed-epoch", 47)
    assert "matching: one-to-one, selection: fixed-epoch" in result.stdout
    for subject in SUBJECTS:  # 30 epochs trained: epoch 47 is absent, so the fold counts TP = N = 0 and says why
        assert (root / "run" / subject / "logs" / "eval_config.txt").is_file()
        info = json.loads((root / "run" / subject / "eval_info.json").read_text())
        assert info["selected_epoch"] == 47 and "epoch 47" in info["note"]  # the protocol's epoch, recorded
    assert "note: epoch 47 (abfcm_best_epoch) has no checkpoint" in result.stdout


def test_megc_files_score_like_the_megc_rule(finished_run):
    """megc_predictions.csv / megc_ground_truth.csv hold the selected epochs' NMS rows and the subjects'
    annotation rows; the brute-force evaluator on them gives the megc rule's counts summed over the folds."""
    from core_fixtures import megc_brute_force
    from utils.matching import megc_counts

    root, _, _ = finished_run
    run = root / "run"
    predictions, truth = pd.read_csv(run / "megc_predictions.csv"), pd.read_csv(run / "megc_ground_truth.csv")
    assert list(predictions.columns) == list(truth.columns) == [
        "subject", "video", "onset", "offset", "emotion", "type"]
    assert set(truth["subject"]) == set(SUBJECTS) and len(truth) == len(SUBJECTS) * 10
    type_idx = {"micro": 2, "macro": 1}
    total = {2: [0, 0, 0, 0], 1: [0, 0, 0, 0]}
    for subject in SUBJECTS:
        info = json.loads((run / subject / "eval_info.json").read_text())
        mine = predictions[predictions["subject"] == subject]
        epochs = pd.read_csv(run / subject / "epoch_metrics.csv")["epoch"].tolist()
        if info["selected_epoch"] not in epochs:  # none selected, or the selected epoch had no proposal
            assert mine.empty
            kept = pd.DataFrame(columns=["video_name", "start_frame", "end_frame", "score", "type_idx"])
        else:
            kept = pd.read_csv(run / subject / "nms_csv" / f"final_proposals_epoch_{info['selected_epoch']:03d}.csv")
            assert mine[["video", "onset", "offset"]].to_numpy().tolist() == \
                kept[["video_name", "start_frame", "end_frame"]].to_numpy().tolist()
        gt = truth[truth["subject"] == subject]
        file_rows = ([(r.video, r.onset, r.offset, 1.0, type_idx[r.type]) for r in mine.itertuples()],
                     [(r.video, r.onset, r.offset, type_idx[r.type]) for r in gt.itertuples()])
        reference = megc_brute_force(*file_rows)
        gt_table = pd.DataFrame(file_rows[1], columns=["video_name", "start_frame", "end_frame", "type_idx"])
        assert megc_counts(kept, gt_table) == reference
        for t in total:
            total[t] = [a + b for a, b in zip(total[t], reference[t])]
    document = json.loads((run / "final_results.json").read_text())
    assert document["megc_files"]["left_out_expressions"] == {"micro": total[2][3], "macro": total[1][3]}
