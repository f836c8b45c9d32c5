"""Selection inner-cv: the inner split, the epoch choice, the leak test, resume after a kill; the final model's
epoch."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core_fixtures import SUBJECTS, make_tiny_dataset
from model.evaluation import evaluate_fold
from model.inner_cv import choose_inner_epoch
from model.settings import InnerModelSettings
from model.training import train_fold
from pipeline.inner import fold_inner_selection
from utils.config import load_config
from utils.errors import UserError
from utils.inner_split import inner_groups
from utils.layout import FoldLayout
from utils.metrics import EPOCH_METRIC_COLUMNS

CPU = torch.device("cpu")


def test_the_inner_split_by_hand_on_seven_subjects():
    subjects = ["s07", "s03", "s01", "s06", "s02", "s05", "s04"]
    assert inner_groups(subjects, 3) == [["s01", "s04", "s07"], ["s02", "s05"], ["s03", "s06"]]
    assert inner_groups(subjects, 2) == [["s01", "s03", "s05", "s07"], ["s02", "s04", "s06"]]
    assert inner_groups(subjects, 7) == [[s] for s in sorted(subjects)]
    for bad in (1, 8):
        with pytest.raises(ValueError):
            inner_groups(subjects, bad)


def _write_config(tmp_path, **values):
    config_path = make_tiny_dataset(tmp_path, epochs=20, epoch_begin=5) if not (tmp_path / "config.yaml").exists() \
        else tmp_path / "config.yaml"
    return load_config("tiny", config_path).with_overrides(**values)


@pytest.mark.parametrize("values, key", [({"adjacency_scope": "all"}, "adjacency_scope"),
                                         ({"adjacency_scope": "train", "inner_folds": 3}, "inner_folds"),
                                         ({"adjacency_scope": "train", "inner_folds": 1}, "inner_folds")])
def test_invalid_inner_cv_settings_are_one_line_naming_the_key(tmp_path, values, key):
    with pytest.raises(UserError, match=f"key '{key}'") as error:
        _write_config(tmp_path, selection="inner-cv", **values)
    assert "\n" not in str(error.value)


def test_a_given_adjacency_is_refused_under_inner_cv(tmp_path):
    config = _write_config(tmp_path)
    with pytest.raises(UserError, match="key 'adjacency'"):
        config.with_overrides(selection="inner-cv", adjacency="model/assets/samm_published_adjacency.npy")
    assert config.with_overrides(selection="inner-cv", adjacency_scope="train", inner_folds=2)["inner_folds"] == 2


def _metrics_table(rows: dict[int, tuple[int, int, int, int, int, int]]) -> pd.DataFrame:
    """epoch -> (micro tp, n, m, macro tp, n, m); P/R/F1 columns are left at 0 (the sums must not read them)."""
    records = []
    for epoch, (mtp, mn, mm, atp, an, am) in rows.items():
        counts = {"micro_tp": mtp, "micro_n": mn, "micro_m": mm, "macro_tp": atp, "macro_n": an, "macro_m": am,
                  "all_tp": mtp + atp, "all_n": mn + an, "all_m": mm + am, "epoch": epoch}
        records.append({column: counts.get(column, 0.0) for column in EPOCH_METRIC_COLUMNS})
    return pd.DataFrame(records, columns=EPOCH_METRIC_COLUMNS)


def _write_run(layout: FoldLayout, table: pd.DataFrame, m_micro: int, m_macro: int, matching="published"):
    layout.root.mkdir(parents=True, exist_ok=True)
    table.to_csv(layout.epoch_metrics, index=False)
    layout.eval_info.write_text(json.dumps({"matching": matching,
                                            "m_without_proposals": {"micro": m_micro, "macro": m_macro}}))


def _brute_force_epoch(folders: list[Path], epochs: list[int]) -> int:
    """Sum every run's counts per epoch (a missing epoch: TP 0, N 0, the run's M), F1 by hand, earliest best."""
    best_epoch, best_f1 = None, -1.0
    for epoch in epochs:
        tp = n = m = 0
        for folder in folders:
            table = pd.read_csv(folder / "epoch_metrics.csv")
            row = table[table["epoch"] == epoch]
            if len(row):
                tp, n, m = tp + int(row["all_tp"].iloc[0]), n + int(row["all_n"].iloc[0]), m + int(row["all_m"].iloc[0])
            else:
                without = json.loads((folder / "eval_info.json").read_text())["m_without_proposals"]
                m += without["micro"] + without["macro"]
        p, r = (tp / n if n else 0.0), (tp / m if m else 0.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1:
            best_epoch, best_f1 = epoch, f1
    return best_epoch


def test_the_inner_epoch_is_the_brute_force_argmax_of_the_summed_inner_tables(tmp_path):
    config = _write_config(tmp_path, selection="inner-cv", adjacency_scope="train", inner_folds=2)
    fold = FoldLayout.of(tmp_path / "run", "subj_a")
    # Group 0 alone would pick epoch 6, group 1 alone epoch 9; summed, epoch 7 wins (6 has no row in group 1,
    # which then adds its M: that must count). Epochs 12 and 13 tie below it.
    _write_run(fold.inner_run(0), _metrics_table({6: (3, 3, 4, 2, 2, 6), 7: (3, 4, 4, 2, 3, 6),
                                                  9: (1, 5, 4, 0, 4, 6), 12: (1, 2, 4, 1, 2, 6),
                                                  13: (1, 2, 4, 1, 2, 6)}), 4, 6)
    _write_run(fold.inner_run(1), _metrics_table({7: (2, 3, 3, 2, 3, 5), 9: (3, 3, 3, 4, 4, 5),
                                                  12: (0, 1, 3, 0, 1, 5), 13: (0, 1, 3, 0, 1, 5)}), 3, 5)
    chosen = choose_inner_epoch(config, tmp_path / "run", "subj_a")
    expected = _brute_force_epoch([fold.inner_run(0).root, fold.inner_run(1).root], list(range(5, 20)))
    assert chosen["selected_epoch"] == expected == 7
    assert chosen["groups"] == [["subj_b"], ["subj_c"]]
    assert chosen["inner_all_f1"]["6"] == pytest.approx(2 * (5 / 5) * (5 / 18) / (1 + 5 / 18))


def test_the_final_epoch_is_the_brute_force_argmax_of_the_summed_fold_counts(tmp_path):
    from model.final_model import loso_epoch

    config = _write_config(tmp_path)
    run = tmp_path / "run"
    # Epoch 11 is perfect where it has rows, but subj_c has none there and adds its large M: epoch 15 wins.
    tables = {"subj_a": ({5: (1, 2, 4, 1, 3, 6), 8: (2, 2, 4, 3, 4, 6), 11: (4, 4, 4, 6, 6, 6)}, (4, 6)),
              "subj_b": ({8: (0, 4, 3, 0, 2, 5), 11: (3, 3, 3, 5, 5, 5), 15: (3, 3, 3, 5, 5, 5)}, (3, 5)),
              "subj_c": ({5: (2, 2, 40, 2, 2, 40), 15: (20, 20, 40, 20, 20, 40)}, (40, 40))}
    for subject, (rows, (m_micro, m_macro)) in tables.items():
        _write_run(FoldLayout.of(run, subject), _metrics_table(rows), m_micro, m_macro)
    epoch, _ = loso_epoch(config, run, SUBJECTS)
    assert epoch == _brute_force_epoch([run / s for s in SUBJECTS], list(range(5, 20))) == 15
    _write_run(FoldLayout.of(run, "subj_c"), _metrics_table(tables["subj_c"][0]), 2, 2, matching="megc")
    with pytest.raises(UserError, match="matching megc"):
        loso_epoch(config, run, SUBJECTS)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("checkpoint_epoch_*.pth.tar"))}


def _inner_cv_fold(config, output: Path) -> dict:
    train_fold(config, "subj_a", output, CPU, show_progress=False)
    inner = fold_inner_selection(config, output, "subj_a")
    return evaluate_fold(config, "subj_a", output, CPU, show_progress=False, inner=inner)


def _changed_labels(table: pd.DataFrame) -> pd.DataFrame:
    """The held-out subject's rows shifted by 9 frames, two dropped, one added; other subjects untouched."""
    own = table["subject"] == "subj_a"
    changed = table.copy()
    for column in ("start_frame", "apex_frame", "end_frame"):
        changed.loc[own, column] = changed.loc[own, column] + 9
    changed = changed.drop(index=changed.index[own.to_numpy()][:2])
    added = pd.DataFrame([{"subject": "subj_a", "video_name": "subj_a_0000", "start_frame": 600, "apex_frame": 610,
                           "end_frame": 625, "type_idx": 2, "au": "4"}])
    return pd.concat([changed, added], ignore_index=True)


@pytest.mark.e2e
def test_held_out_labels_never_reach_an_inner_cv_fold(tmp_path):
    config = _write_config(tmp_path, selection="inner-cv", adjacency_scope="train", inner_folds=2)
    original = pd.read_csv(config["anno_csv"])
    changed_csv = tmp_path / "changed.csv"
    _changed_labels(original).to_csv(changed_csv, index=False)

    first = _inner_cv_fold(config, tmp_path / "first")
    second = _inner_cv_fold(config.with_overrides(anno_csv=str(changed_csv)), tmp_path / "second")
    assert _hashes(tmp_path / "first") == _hashes(tmp_path / "second")
    assert len(_hashes(tmp_path / "first")) == 3 * config["epochs"]  # the outer model and two inner ones
    assert first["inner_cv"] == second["inner_cv"]
    for group in range(2):  # the inner evaluations read only their own groups' labels
        for name in ("epoch_metrics.csv",):
            assert (FoldLayout.of(tmp_path / "first", "subj_a").inner_run(group).root / name).read_bytes() == \
                (FoldLayout.of(tmp_path / "second", "subj_a").inner_run(group).root / name).read_bytes()
    chosen = first["inner_cv"]["selected_epoch"]
    assert chosen == _brute_force_epoch([FoldLayout.of(tmp_path / "first", "subj_a").inner_run(g).root
                                         for g in range(2)], list(range(5, 20)))
    # the outer counts did read the changed labels
    assert (tmp_path / "first/subj_a/epoch_metrics.csv").read_bytes() != \
        (tmp_path / "second/subj_a/epoch_metrics.csv").read_bytes()

    # The same change of labels under best-on-test moves the epoch: the test above could fail. The labels
    # become one epoch's own NMS output, so that epoch matches everything.
    plain = config.with_overrides(selection="best-on-test")
    before = evaluate_fold(plain, "subj_a", tmp_path / "first", CPU, show_progress=False)["selected_epoch"]
    metrics = pd.read_csv(tmp_path / "first/subj_a/epoch_metrics.csv")
    target = int(metrics.loc[metrics["epoch"] != before, "epoch"].iloc[-1])
    kept = pd.read_csv(tmp_path / f"first/subj_a/nms_csv/final_proposals_epoch_{target:03d}.csv")
    rigged = original[original["subject"] != "subj_a"]
    rigged = pd.concat([rigged, pd.DataFrame({"subject": "subj_a", "video_name": kept["video_name"],
                                              "start_frame": kept["start_frame"], "apex_frame": kept["start_frame"],
                                              "end_frame": kept["end_frame"], "type_idx": kept["type_idx"],
                                              "au": "4"})], ignore_index=True)
    rigged_csv = tmp_path / "rigged.csv"
    rigged.to_csv(rigged_csv, index=False)
    after = evaluate_fold(plain.with_overrides(anno_csv=str(rigged_csv)), "subj_a", tmp_path / "first", CPU,
                          show_progress=False)["selected_epoch"]
    assert after != before
    inner_rigged = _inner_cv_fold(config.with_overrides(anno_csv=str(rigged_csv)), tmp_path / "third")
    assert inner_rigged["inner_cv"]["selected_epoch"] == chosen


def _inner_status(config, output: Path, group: int) -> str:
    """What the pipeline's decision says of inner model ``group`` of fold subj_a."""
    from pipeline.graph import Decider
    from pipeline.run import Run, Task
    from pipeline.request import Request

    task = Task("inner", subject="subj_a", group=group)
    request = Request(dataset=config.name, config=config.source, output=output.resolve(),
                      threads=torch.get_num_threads())
    return Decider(Run(request, config), {task.id: task}).status(task.id).state


@pytest.mark.e2e
def test_a_killed_inner_training_resumes_to_the_same_bytes(tmp_path):
    config = _write_config(tmp_path, selection="inner-cv", adjacency_scope="train", inner_folds=2)
    output = tmp_path / "run"
    layout = FoldLayout.of(output, "subj_a").inner_run(1)
    assert _inner_status(config, output, 1) == "todo"
    fold_inner_selection(config, output, "subj_a")
    finished = _hashes(layout.root)
    metrics = layout.epoch_metrics.read_bytes()
    assert _inner_status(config, output, 1) == "done"

    # killed after epoch 11: later checkpoints and the evaluation never written (and no stamp: it is written last)
    for epoch, path in layout.checkpoints().items():
        if epoch > 11:
            path.unlink()
    layout.eval_info.unlink()
    layout.epoch_metrics.unlink()
    layout.stamp("inner").unlink()
    assert _inner_status(config, output, 1) == "todo" and _inner_status(config, output, 0) == "done"
    fold_inner_selection(config, output, "subj_a")
    assert _hashes(layout.root) == finished
    assert layout.epoch_metrics.read_bytes() == metrics
    # outputs lost with the stamp left: not done either
    layout.eval_info.unlink()
    assert _inner_status(config, output, 1) == "todo"
    assert fold_inner_selection(config, output, "subj_a")["selected_epoch"] is not None
    assert InnerModelSettings.from_config(config).groups("subj_a")[1] == ["subj_c"]


@pytest.mark.e2e
def test_spot_uses_the_final_model_and_gives_the_intervals_of_its_evaluation(tmp_path):
    import shutil

    from dataset.segments import test_windows
    from model.evaluation import load_held_out, match_epochs, proposals_by_epoch, score_checkpoints
    from model.settings import EvaluationSettings
    from model.final_model import final_info, train_final, write_final_info
    from model.scoring import ensemble_scores
    from model.spotting.models import final_checkpoint, run_folds
    from model.spotting.scores import windows_of
    from model.spotting.spots import spot_windows
    from utils.indexing import middle

    config = _write_config(tmp_path)
    run = tmp_path / "run"
    for subject in SUBJECTS:  # the LOSO's summed counts peak at epoch 18
        _write_run(FoldLayout.of(run, subject), _metrics_table({18: (2, 2, 4, 2, 2, 6), 10: (1, 3, 4, 1, 3, 6)}), 4, 6)
    info = final_info(config, run, SUBJECTS)
    train_final(config, run, info["epoch"], CPU, show_progress=False)
    write_final_info(run, info)
    final = FoldLayout(run / "final")
    assert info["epoch"] == 18 and info["subjects"] == SUBJECTS and sorted(final.checkpoints()) == list(range(19))
    assert json.loads((final.logs / "config.txt").read_text())["train_subjects"] == SUBJECTS
    epoch, path = final_checkpoint(run)
    assert (epoch, path) == (18, final.checkpoint(18))
    assert final_checkpoint(tmp_path / "elsewhere") is None
    FoldLayout.of(run, "subj_a").models.mkdir(parents=True)
    shutil.copy(path, FoldLayout.of(run, "subj_a").checkpoint(3))
    assert run_folds(run) == ["subj_a"]  # final/ is never taken for a fold

    held_out = load_held_out(config, ["subj_b"])
    scores = score_checkpoints({epoch: path}, held_out, CPU, final)
    settings = EvaluationSettings.from_config(config)
    (evaluated,) = match_epochs([epoch], proposals_by_epoch(scores, held_out.windows, settings.proposals), held_out,
                                settings)
    assert evaluated.kept is not None and len(evaluated.kept) > 0
    stored = test_windows(Path(config["segment_feat_root"]), "subj_b")
    for video in np.unique(stored.video_names):
        rows = np.concatenate(middle(stored.select(stored.video_names == video).features, axis=1))
        windows = windows_of(rows, video)
        spotted, _ = spot_windows(ensemble_scores([path], windows.features, CPU), windows,
                                  EvaluationSettings.from_config(config))
        expected = evaluated.kept[evaluated.kept["video_name"] == video]
        assert spotted[["start_frame", "end_frame", "type_idx"]].to_numpy().tolist() == \
            expected[["start_frame", "end_frame", "type_idx"]].to_numpy().tolist()


@pytest.mark.e2e
def test_an_inner_training_killed_for_real_resumes_to_the_same_bytes(tmp_path):
    """SIGKILL a real ``bash pipeline.sh`` while it trains an inner model; the rerun gives the bytes of a run that
    was never killed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from core_fixtures import REPO_ROOT

    config_path = make_tiny_dataset(tmp_path, epochs=40, epoch_begin=5)
    values = yaml.safe_load(config_path.read_text())
    values["tiny"].update(adjacency_scope="train", inner_folds=2, selection="inner-cv")
    config_path.write_text(yaml.safe_dump(values, sort_keys=False))

    def pipeline(output: Path) -> subprocess.Popen:
        env = {**os.environ, "DATASET": "tiny", "CONFIG": str(config_path), "OUTPUT": str(output), "THREADS": "1",
               "SUBJECTS": "subj_a", "PYTHON": sys.executable}
        return subprocess.Popen(["bash", str(REPO_ROOT / "pipeline.sh")], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    assert pipeline(tmp_path / "whole").wait(timeout=900) == 0
    killed = tmp_path / "killed"
    layout = FoldLayout.of(killed, "subj_a").inner_run(1)
    process = pipeline(killed)
    deadline = time.monotonic() + 600
    while not layout.checkpoint(10).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be killed"
    assert 10 <= len(layout.checkpoints()) < 40 and not layout.stamp("inner").exists()
    assert pipeline(killed).wait(timeout=900) == 0
    whole = FoldLayout.of(tmp_path / "whole", "subj_a")
    assert _hashes(killed / "subj_a") == _hashes(whole.root) and len(_hashes(whole.root)) == 3 * 40
    for name in ("epoch_metrics.csv", "inner/1/epoch_metrics.csv", "best_res.csv"):
        assert (killed / "subj_a" / name).read_bytes() == (whole.root / name).read_bytes()
