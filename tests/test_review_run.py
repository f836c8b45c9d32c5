"""The run report the report task writes (utils/review/run_page.py through pipeline/report.py), on a synthetic
two-fold run whose best_res.csv comes from the matching code, checked in headless Chromium."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pipeline.final_results import final_results
from utils.layout import FoldLayout
from utils.matching import count_matches
from utils.metrics import epoch_metrics_row

SUBJECTS = ["s01", "s02"]
TRUTH = pd.DataFrame({
    "subject": ["s01", "s01", "s01", "s02", "s02"],
    "video_name": ["s01_a", "s01_a", "s01_b", "s02_a", "s02_a"],
    "start_frame": [10, 60, 20, 30, 80], "apex_frame": [15, 64, 25, 35, 84], "end_frame": [30, 70, 40, 50, 90],
    "type_idx": [1, 2, 1, 1, 2], "au": "4"})
KEPT = {  # the selected epoch's NMS output per fold
    "s01": pd.DataFrame({"video_name": ["s01_a", "s01_a", "s01_b"], "start_frame": [11, 100, 21],
                         "end_frame": [30, 110, 39], "score": [0.9, 0.5, 0.8], "type_idx": [1, 2, 1]}),
    "s02": pd.DataFrame({"video_name": ["s02_a"], "start_frame": [79], "end_frame": [91], "score": [0.7],
                         "type_idx": [2]}),
}
EPOCH = 3


def _frames(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for number in range(1, n + 1):
        cv2.imwrite(str(folder / f"img{number}.jpg"), np.full((96, 128, 3), 3 * number % 256, np.uint8))


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
        layout.eval_info.write_text(json.dumps({"selected_epoch": EPOCH, "matching": "published",
                                                "selection": "best-on-test", "frame_shift": 1}))
        layout.nms_csv(EPOCH).parent.mkdir(parents=True)
        KEPT[subject].to_csv(layout.nms_csv(EPOCH), index=False)
        videos = sorted(truth["video_name"].unique())
        np.savez(layout.selected_scores, **{f"{v}:{t}": np.linspace(0, 1, 120, dtype=np.float32)
                                            for v in videos for t in ("micro", "macro")})
    # Only s01's raw frames are known: its record names the raw tree (generic layout <subject>/<video>/).
    _frames(root / "raw" / "s01" / "s01_a", 40)
    _frames(root / "raw" / "s01" / "s01_b", 40)
    record = {"flow_settings": {}, "dataset": "generic", "raw_root": str(root / "raw"), "fps": 30.0}
    (FoldLayout.of(output, "s01").logs / "extraction.json").write_text(json.dumps(record))
    return output


def _write_report(root: Path, output: Path) -> None:
    """The report task of pipeline.sh on this run: a section whose annotations are the run's."""
    import yaml

    from core_fixtures import REPO_ROOT
    from pipeline.graph import Run
    from pipeline.report import preview_keys, write_report
    from pipeline.request import Request

    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(segment_feat_root="features", anno_csv="anno.csv", adjacency=None, subject_list=SUBJECTS)
    (root / "config.yaml").write_text(yaml.safe_dump({"two": section}))
    run = Run(Request(dataset="two", config=root / "config.yaml", output=output))
    write_report(run, "-", preview_keys(run, "-"))


def test_the_run_report_in_a_browser(tmp_path, chromium):
    from browser import console_errors
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from test_review_spot import _screenshot

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
    # s01_b one macro TP; s02_a a micro TP (79-91 vs 80-90) and a macro FN (30-50): 1 error.
    assert per_video.set_index("video").loc["s01_a"].tolist() == ["s01", 0, 1, 1, 1, 0, 0]
    Select(driver.find_element(By.ID, "sort")).select_by_value("errors")
    order = driver.execute_script("return Array.from(document.querySelectorAll('#videos tr[data-video]'))"
                                  ".map(r => r.dataset.video)")
    assert order == ["s01_a", "s02_a", "s01_b"]
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
    truth_bars = driver.find_elements(By.CSS_SELECTOR, "tr[data-video='s01_a'] [data-truth]")
    assert len(truth_bars) == 2
    driver.set_window_size(1400, 1500)
    _screenshot(driver, "run_report.png", tmp_path)
    assert console_errors(driver) == []
    driver.get(links["s01_a"][0])  # the preview plays: 40 frames at 30 fps
    duration = driver.execute_script(
        "const v = document.querySelector('video'); return new Promise(done => { if (v.readyState >= 2) done(v.duration);"
        " else v.addEventListener('loadeddata', () => done(v.duration)); setTimeout(() => done(null), 10000); })")
    assert duration is not None and abs(duration - 40 / 30) <= 1 / 30
