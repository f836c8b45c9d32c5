"""The run report the report task writes (utils/review/run_page.py through pipeline/report.py), on a synthetic
two-fold run whose best_res.csv comes from the matching code, checked in headless Chromium; its F1 curves and
names against the tables, by hand."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse

import cv2
import numpy as np
import pandas as pd
import pytest

from pipeline.final_results import final_results
from utils.annotations import MACRO, MICRO
from utils.layout import FoldLayout
from utils.matching import count_matches
from utils.metrics import epoch_metrics_row

SUBJECTS = ["s01", "s02"]
NAMED = "s01_b #2?50%"  # characters a URL gives a meaning: the preview link must encode them
TRUTH = pd.DataFrame({
    "subject": ["s01", "s01", "s01", "s02", "s02"],
    "video_name": ["s01_a", "s01_a", NAMED, "s02_a", "s02_a"],
    "start_frame": [10, 60, 20, 30, 80], "apex_frame": [15, 64, 25, 35, 84], "end_frame": [30, 70, 40, 50, 90],
    "type_idx": [1, 2, 1, 1, 2], "au": "4"})
KEPT = {  # the selected epoch's NMS output per fold
    "s01": pd.DataFrame({"video_name": ["s01_a", "s01_a", NAMED], "start_frame": [11, 100, 21],
                         "end_frame": [30, 110, 39], "score": [0.9, 0.5, 0.8], "type_idx": [1, 2, 1]}),
    "s02": pd.DataFrame({"video_name": ["s02_a"], "start_frame": [79], "end_frame": [91], "score": [0.7],
                         "type_idx": [2]}),
}
EPOCH = 3


def _frames(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for number in range(1, n + 1):
        cv2.imwrite(str(folder / f"img{number}.jpg"), np.full((96, 128, 3), 3 * number % 256, np.uint8))


def _write_eval_info(layout: FoldLayout, epoch: int | None, m_micro: int, m_macro: int) -> None:
    layout.eval_info.write_text(json.dumps({"selected_epoch": epoch, "matching": "published",
                                            "selection": "best-on-test", "frame_shift": 1,
                                            "m_without_proposals": {"micro": m_micro, "macro": m_macro}}))


def _run(root: Path) -> Path:
    output = root / "run"
    anno = root / "anno.csv"
    TRUTH.to_csv(anno, index=False)
    for subject in SUBJECTS:
        layout = FoldLayout.of(output, subject)
        layout.logs.mkdir(parents=True)
        (layout.logs / "eval_config.txt").write_text(json.dumps({"anno_csv": str(anno), "RATIO_SCALE": 1}))
        truth = TRUTH[TRUTH["subject"] == subject]
        counts = count_matches(KEPT[subject], truth, "published")
        rows = [epoch_metrics_row(counts if epoch == EPOCH else {2: (0, 0, counts[2][2]), 1: (0, 0, counts[1][2])},
                                  epoch) for epoch in range(1, 5)]
        pd.DataFrame(rows).to_csv(layout.epoch_metrics, index=False)
        best = {k: v for k, v in rows[EPOCH - 1].items() if k.endswith(("_tp", "_n", "_m"))}
        pd.DataFrame([best]).to_csv(layout.best_res, index=False)
        _write_eval_info(layout, EPOCH, counts[MICRO][2], counts[MACRO][2])
        layout.nms_csv(EPOCH).parent.mkdir(parents=True)
        KEPT[subject].to_csv(layout.nms_csv(EPOCH), index=False)
        videos = sorted(truth["video_name"].unique())
        np.savez(layout.selected_scores, **{f"{v}:{t}": np.linspace(0, 1, 120, dtype=np.float32)
                                            for v in videos for t in ("micro", "macro")})
    # Only s01's raw frames are known: its record names the raw tree (generic layout <subject>/<video>/).
    _frames(root / "raw" / "s01" / "s01_a", 40)
    _frames(root / "raw" / "s01" / NAMED, 40)
    record = {"flow_settings": {}, "dataset": "generic", "raw_root": str(root / "raw"), "fps": 30.0}
    (FoldLayout.of(output, "s01").logs / "extraction.json").write_text(json.dumps(record))
    return output


def _write_report(root: Path, output: Path) -> None:
    """The report task of pipeline.sh on this run: a section whose annotations are the run's."""
    import yaml

    from core_fixtures import REPO_ROOT
    from pipeline.report import preview_keys, write_report
    from pipeline.request import Request
    from pipeline.run import Run

    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(segment_feat_root="features", anno_csv="anno.csv", adjacency=None, subject_list=SUBJECTS)
    (root / "config.yaml").write_text(yaml.safe_dump({"two": section}))
    run = Run(Request(dataset="two", config=root / "config.yaml", output=output))
    write_report(run, "-", preview_keys(run, "-"))


def test_the_run_report_in_a_browser(tmp_path, chromium):
    from browser import console_errors
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from browser import screenshot

    output = _run(tmp_path)
    final_results(output, SUBJECTS, tmp_path / "anno.csv", 1)
    _write_report(tmp_path, output)
    assert (output / "report.html").is_file() and (output / "previews" / "s01_a.webm").is_file()
    driver = chromium
    console_errors(driver)
    driver.get((output / "report.html").as_uri())
    rows = driver.find_elements(By.CSS_SELECTOR, "#videos tr[data-video]")
    assert sorted(r.get_attribute("data-video") for r in rows) == sorted(TRUTH["video_name"].unique())
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('#videos tr[data-video]')).map(r => ["
        "r.dataset.video, r.dataset.subject, ...Array.from(r.cells).slice(3, 9).map(c => Number(c.textContent))])")
    per_video = pd.DataFrame(cells, columns=["video", "subject", "micro_tp", "micro_fp", "micro_fn",
                                             "macro_tp", "macro_fp", "macro_fn"])
    for subject in SUBJECTS:
        best = pd.read_csv(FoldLayout.of(output, subject).best_res).iloc[0]
        mine = per_video[per_video["subject"] == subject].sum(numeric_only=True)
        for kind in ("micro", "macro"):
            assert mine[f"{kind}_tp"] == best[f"{kind}_tp"]
            assert mine[f"{kind}_tp"] + mine[f"{kind}_fp"] == best[f"{kind}_n"]
            assert mine[f"{kind}_tp"] + mine[f"{kind}_fn"] == best[f"{kind}_m"]
    final = pd.read_csv(output / "final_results.csv").set_index("type")
    shown = driver.execute_script("return Array.from(document.querySelectorAll('#results tbody tr')).map("
                                  "r => Array.from(r.cells).map(c => c.textContent))")
    assert [[row[0], *map(int, row[1:4])] for row in shown] == [
        [name, int(final.loc[name, "tp"]), int(final.loc[name, "fp"]), int(final.loc[name, "fn"])] for name in final.index]
    # Hand count: s01_a has a macro TP (11-30 vs 10-30), a micro FP (100-110) and a micro FN (60-70): 2 errors;
    # NAMED one macro TP; s02_a a micro TP (79-91 vs 80-90) and a macro FN (30-50): 1 error.
    assert per_video.set_index("video").loc["s01_a"].tolist() == ["s01", 0, 1, 1, 1, 0, 0]
    Select(driver.find_element(By.ID, "sort")).select_by_value("errors")
    order = driver.execute_script("return Array.from(document.querySelectorAll('#videos tr[data-video]'))"
                                  ".map(r => r.dataset.video)")
    assert order == ["s01_a", "s02_a", NAMED]
    Select(driver.find_element(By.ID, "subject-filter")).select_by_value("s02")
    visible = [r.get_attribute("data-video") for r in rows if r.is_displayed()]
    assert visible == ["s02_a"]
    Select(driver.find_element(By.ID, "subject-filter")).select_by_value("")
    Select(driver.find_element(By.ID, "type-filter")).select_by_value("micro")
    assert sorted(r.get_attribute("data-video") for r in rows if r.is_displayed()) == ["s01_a", "s02_a"]
    Select(driver.find_element(By.ID, "type-filter")).select_by_value("")
    links = {r.get_attribute("data-video"): [a.get_attribute("href") for a in r.find_elements(By.TAG_NAME, "a")]
             for r in rows}
    assert links["s02_a"] == [] and links["s01_a"][0].endswith("previews/s01_a.webm")
    named = urlparse(links[NAMED][0])  # the whole name in the path: no fragment, no query
    assert (named.fragment, named.query) == ("", "") and unquote(named.path) == str(output / "previews" / f"{NAMED}.webm")
    truth_bars = driver.find_elements(By.CSS_SELECTOR, "tr[data-video='s01_a'] [data-truth]")
    assert len(truth_bars) == 2
    driver.set_window_size(1400, 1500)
    screenshot(driver, "run_report.png", tmp_path)
    assert console_errors(driver) == []
    driver.get(links[NAMED][0])  # the preview plays: 40 frames at 30 fps
    duration = driver.execute_script(
        "const v = document.querySelector('video'); return new Promise(done => { if (v.readyState >= 2) done(v.duration);"
        " else v.addEventListener('loadeddata', () => done(v.duration)); setTimeout(() => done(null), 10000); })")
    assert duration is not None and abs(duration - 40 / 30) <= 1 / 30


# Per-epoch counts ((micro tp, n, m), (macro tp, n, m)) of two folds; s02 has proposals at epoch 2 only, so at
# epochs 1 and 3 it counts TP 0, N 0 and its M (1 micro, 4 macro), as the evaluation and final_info.json count.
EPOCH_COUNTS = {"s01": {1: ((1, 2, 3), (1, 1, 2)), 2: ((2, 2, 3), (0, 1, 2)), 3: ((0, 1, 3), (2, 2, 2))},
                "s02": {2: ((1, 1, 1), (0, 0, 4))}}
M_WITHOUT = {"s01": (3, 2), "s02": (1, 4)}


def _f1(tp, n, m) -> float:
    return float(2 * Fraction(tp, n) * Fraction(tp, m) / (Fraction(tp, n) + Fraction(tp, m))) if tp else 0.0


# Summed by hand over both folds: micro, macro, all F1 at epochs 1, 2, 3.
POOLED = {"micro": [_f1(1, 2, 4), _f1(3, 3, 4), _f1(0, 1, 4)],
          "macro": [_f1(1, 1, 6), _f1(0, 1, 6), _f1(2, 2, 6)],
          "all": [_f1(2, 3, 10), _f1(3, 4, 10), _f1(2, 3, 10)]}


def _counts_run(root: Path) -> Path:
    """Two folds with the tables of EPOCH_COUNTS; s02's one video is named ``001`` and is spotted at epoch 2."""
    output = root / "run"
    truth = pd.DataFrame({"subject": ["s01"] * 5 + ["s02"] * 5, "video_name": ["s01_a"] * 5 + ["001"] * 5,
                          "start_frame": [10, 60, 110, 160, 210] * 2, "apex_frame": [15, 65, 115, 165, 215] * 2,
                          "end_frame": [30, 80, 130, 180, 230] * 2,
                          "type_idx": [MICRO] * 3 + [MACRO] * 2 + [MICRO] + [MACRO] * 4, "au": "4"})
    truth.to_csv(root / "anno.csv", index=False)
    for subject, epochs in EPOCH_COUNTS.items():
        layout = FoldLayout.of(output, subject)
        layout.logs.mkdir(parents=True)
        (layout.logs / "eval_config.txt").write_text(json.dumps({"anno_csv": str(root / "anno.csv"), "RATIO_SCALE": 1}))
        rows = [epoch_metrics_row({MICRO: micro, MACRO: macro}, epoch) for epoch, (micro, macro) in epochs.items()]
        pd.DataFrame(rows).to_csv(layout.epoch_metrics, index=False)
        pd.DataFrame([{k: v for k, v in rows[-1].items() if k.endswith(("_tp", "_n", "_m"))}]).to_csv(
            layout.best_res, index=False)
        _write_eval_info(layout, max(epochs), *M_WITHOUT[subject])
    for subject, kept in (("s01", "s01_a,9,31,0.9,1\ns01_a,159,181,0.8,1\ns01_a,300,310,0.7,2\n"),
                          ("s02", "001,9,31,0.9,2\n")):
        path = FoldLayout.of(output, subject).nms_csv(max(EPOCH_COUNTS[subject]))
        path.parent.mkdir(parents=True)
        path.write_text(f"video_name,start_frame,end_frame,score,type_idx\n{kept}")
    return output


def _page_data(output: Path) -> dict:
    page = (output / "report.html").read_text()
    start = page.index('id="review-data">') + len('id="review-data">')
    return json.loads(page[start:page.index("</script>", start)])


def test_the_f1_curves_count_an_epoch_without_proposals_as_the_evaluation_does(tmp_path):
    output = _counts_run(tmp_path)
    final_results(output, SUBJECTS, tmp_path / "anno.csv", 1)
    _write_report(tmp_path, output)
    f1 = _page_data(output)["f1_by_epoch"]
    assert f1["pooled"]["epochs"] == [1, 2, 3]
    for group, values in POOLED.items():
        assert f1["pooled"][group] == pytest.approx(values, abs=5e-5), group
    # Each fold's own line counts the same way: s02 has F1 0 where it has no proposal.
    assert f1["folds"]["s02"] == {"epochs": [1, 2, 3], "micro": [0.0, 1.0, 0.0], "macro": [0.0, 0.0, 0.0],
                                  "all": [0.0, pytest.approx(1 / 3, abs=5e-5), 0.0]}
    s01 = pd.read_csv(tmp_path / "run" / "s01" / "epoch_metrics.csv")
    assert f1["folds"]["s01"]["all"] == pytest.approx(s01["all_f1"].tolist(), abs=5e-5)


def test_a_video_named_like_a_number_keeps_its_name(tmp_path):
    output = _counts_run(tmp_path)
    final_results(output, SUBJECTS, tmp_path / "anno.csv", 1)
    _write_report(tmp_path, output)
    videos = {v["video"]: v for v in _page_data(output)["videos"] if v["subject"] == "s02"}
    assert list(videos) == ["001"]
    assert videos["001"]["counts"]["micro"] == {"tp": 1, "fp": 0, "fn": 0, "n": 1, "m": 1}
    assert [s["matched"] for s in videos["001"]["spots"]] == [True]


def test_the_page_shows_the_counts_pooling_wrote(tmp_path):
    """The per-video counts come from video_counts.csv, not from counting again; without it, one line naming it."""
    from utils.errors import UserError
    from utils.io import atomic_write_csv
    from utils.metrics import read_video_counts

    output = _counts_run(tmp_path)
    final_results(output, SUBJECTS, tmp_path / "anno.csv", 1)
    table = read_video_counts(output / "video_counts.csv")
    table.loc[(table["video"] == "001") & (table["type"] == "micro"), "fp"] = 7  # not what the NMS file gives
    atomic_write_csv(output / "video_counts.csv", table)
    _write_report(tmp_path, output)
    videos = {v["video"]: v for v in _page_data(output)["videos"]}
    assert videos["001"]["counts"]["micro"] == {"tp": 1, "fp": 7, "fn": 0, "n": 8, "m": 1}
    (output / "video_counts.csv").unlink()
    with pytest.raises(UserError, match=r"video_counts.csv: missing; pool the run first"):
        _write_report(tmp_path, output)
