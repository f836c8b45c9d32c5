"""The spot step's review outputs (model/spotting/review.py) on a synthetic outcome, checked in headless Chromium:
report.html with its VP8 preview, the ground-truth lane and matching, spots.eaf, and the bad inputs that must
leave the rest written."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from browser import screenshot
from model.scoring import Scores
from model.settings import EvaluationSettings
from model.spotting.review import SpotOutcome, read_ground_truth, write_review
from feature_extraction.recording import open_recording, resample_indices
from model.spotting.scores import windows_of
from model.spotting.spots import spots_table
from utils.annotations import read_annotation_table
from utils.config import load_config
from utils.review.spot_page import SpotReview, write_spot_page

FPS, N_FRAMES = 30.0, 120
# Model-frame proposals (1-based, equal rates so they are also the input's frames): NMS order.
KEPT = pd.DataFrame({"video_name": "clip", "start_frame": [50, 10, 80], "end_frame": [60, 30, 100],
                     "score": [0.7, 0.9, 0.4], "type_idx": [2, 1, 1], "apex_frame": [55, 20, 90]})
TRUTH = pd.DataFrame({"subject": "s01", "video_name": ["clip", "other", "clip", "clip"],
                      "start_frame": [10, 10, 70, 110], "apex_frame": [20, 20, 74, 112], "end_frame": [31, 30, 78, 0],
                      "type_idx": [1, 1, 2, 1], "au": "12"})
CASME2 = EvaluationSettings.from_config(load_config("cas(me)^2"))  # the review's thresholds and matching rule


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (160, 120))
    for index in range(N_FRAMES):
        image = np.full((120, 160, 3), 40, np.uint8)
        cv2.putText(image, str(index + 1), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(image)
    writer.release()
    return path


def _outcome(tmp_path: Path) -> SpotOutcome:
    recording = open_recording(_video(tmp_path / "clip.avi"), None, FPS).counted(N_FRAMES)  # as extraction counts it
    indices = resample_indices(recording.n_frames, recording.source_fps, FPS)
    windows = windows_of(np.zeros((N_FRAMES - 1, 12, 2), np.float32), recording.name)
    rows = np.arange(256)
    bump = {1: np.exp(-((rows - 20) / 6.0) ** 2), 2: np.exp(-((rows - 55) / 3.0) ** 2)}
    scores = Scores(start={t: 0.5 * v[None] for t, v in bump.items()}, end={t: 0.3 * v[None] for t, v in bump.items()},
                    apex={t: v[None].astype(np.float32) for t, v in bump.items()})
    lost = np.zeros(N_FRAMES, bool)
    lost[100:105] = True
    unreadable = np.zeros(N_FRAMES, bool)
    unreadable[102] = True
    return SpotOutcome(recording, indices, scores, windows, KEPT, spots_table(KEPT, indices, recording), lost,
                       unreadable)


@pytest.fixture
def written(tmp_path):
    outcome = _outcome(tmp_path)
    anno = tmp_path / "anno.csv"
    TRUTH.to_csv(anno, index=False)
    folder = tmp_path / "spots" / "clip"
    folder.mkdir(parents=True)
    outcome.table.to_csv(folder / "spots.csv", index=False)
    paths = write_review(folder, outcome, CASME2, read_ground_truth(anno, FPS))
    return folder, outcome, paths


def _wait(driver, script: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    return driver.execute_script(script)


def test_spot_outputs_are_written_and_matched(written):
    folder, outcome, paths = written
    assert [p.name for p in paths] == ["spots.eaf", "preview.webm", "report.html"]
    page = (folder / "report.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    capture = cv2.VideoCapture(str(folder / "preview.webm"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) in (0, N_FRAMES) and capture.get(cv2.CAP_PROP_FPS) == FPS
    count = 0
    while capture.grab():
        count += 1
    assert count == N_FRAMES
    capture.release()
    # Spots sorted by onset: macro 10-30 (matches truth 10-31, tIoU 20/21), micro 50-60, macro 80-100: no truth.
    assert outcome.table["onset_frame"].tolist() == [10, 50, 80]
    back = read_annotation_table(folder / "spots.eaf")
    got = back.sort_values(["start_frame", "type_idx"])[["start_frame", "apex_frame", "end_frame"]].to_numpy()
    assert got.tolist() == outcome.table[["onset_frame", "apex_frame", "offset_frame"]].to_numpy().tolist()


def test_the_spot_page_in_a_browser(written, chromium, tmp_path):
    from browser import console_errors
    from selenium.webdriver.common.by import By

    folder, outcome, _ = written
    driver = chromium
    console_errors(driver)  # drop what earlier tests left
    driver.get((folder / "report.html").as_uri())
    assert len(driver.find_elements(By.TAG_NAME, "video")) == 1
    assert _wait(driver, "return document.querySelector('video').readyState >= 2"), "the preview never loaded"
    duration = driver.execute_script("return document.querySelector('video').duration")
    assert abs(duration - N_FRAMES / FPS) <= 1 / FPS
    spots = pd.read_csv(folder / "spots.csv")
    bars = driver.find_elements(By.CSS_SELECTOR, "#timeline [data-spot]")
    assert sorted(int(b.get_attribute("data-spot")) for b in bars) == list(range(len(spots)))
    rows = driver.find_elements(By.CSS_SELECTOR, "#spots-table [data-spot]")
    assert [int(r.get_attribute("data-spot")) for r in rows] == list(range(len(spots)))
    current = "return document.querySelector('video').currentTime"

    def seek_to(index: int) -> bool:
        return bool(_wait(driver, f"return Math.abs(document.querySelector('video').currentTime - "
                                  f"{spots['onset_s'][index]}) <= {1 / FPS}"))

    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))",
                          next(b for b in bars if b.get_attribute("data-spot") == "1"))
    assert seek_to(1), driver.execute_script(current)
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("n")
    assert seek_to(2), driver.execute_script(current)
    body.send_keys("p")
    body.send_keys("p")
    assert seek_to(0), driver.execute_script(current)
    rows[2].click()
    assert seek_to(2), driver.execute_script(current)
    assert _wait(driver, "return document.querySelectorAll('#spots-table tr.active').length === 1")
    # Ground truth: the three rows of video "clip" (the fourth names another video), matched under "published".
    truth = driver.find_elements(By.CSS_SELECTOR, "#timeline .truth-lane [data-truth]")
    assert len(truth) == int((TRUTH["video_name"] == "clip").sum())
    matched = driver.execute_script("return JSON.parse(document.getElementById('review-data').textContent)"
                                    ".truth.map(t => t.matched)")
    assert matched == [True, False, False]
    assert [r.text.split()[-1] for r in rows] == ["yes", "no", "no"]
    driver.find_element(By.ID, "show-start-end").click()
    screenshot(driver, "spot_report.png", tmp_path)
    assert console_errors(driver) == []


def test_an_input_not_in_the_table_gets_a_notice_and_no_lane(tmp_path, capsys):
    outcome = _outcome(tmp_path)
    anno = tmp_path / "anno.csv"
    TRUTH.assign(video_name="another").to_csv(anno, index=False)
    write_review(tmp_path / "out", outcome, CASME2, read_ground_truth(anno, FPS))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and str(anno) in lines[0] and "no ground truth" in lines[0]
    page = (tmp_path / "out" / "report.html").read_text()
    assert '"truth":null' in page and "no ground truth for" in page


@pytest.mark.parametrize("content", ["subject,video\n1,2\n", "<ANNOTATION_DOCUMENT><TIER"])
def test_an_unreadable_anno_is_one_line_and_the_rest_is_written(tmp_path, capsys, content):
    outcome = _outcome(tmp_path)
    anno = tmp_path / ("bad.eaf" if content.startswith("<") else "bad.csv")
    anno.write_text(content)
    paths = write_review(tmp_path / "out", outcome, CASME2, read_ground_truth(anno, FPS))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{anno}: ")
    assert [p.name for p in paths] == ["spots.eaf", "preview.webm", "report.html"]


def test_a_preview_the_encoder_refuses_leaves_a_page_without_video(tmp_path, capsys, monkeypatch):
    import feature_extraction.preview as preview

    outcome = _outcome(tmp_path)
    monkeypatch.setattr(preview, "CODEC", "no-such-encoder")  # FFmpeg refuses it, as a build without VP9 would
    folder = tmp_path / "out"
    paths = write_review(folder, outcome, CASME2)
    assert [p.name for p in paths] == ["spots.eaf", "report.html"] and not (folder / "preview.webm").exists()
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"{folder / 'preview.webm'}: ") and "encoder" in line
    page = (folder / "report.html").read_text()
    assert "<video" not in page and "No video: " in page and not list(folder.glob(".*"))


def test_no_report_writes_only_the_eaf(tmp_path):
    folder = tmp_path / "out"
    paths = write_review(folder, _outcome(tmp_path), CASME2, report=False)
    assert [p.name for p in paths] == ["spots.eaf"] and sorted(p.name for p in folder.iterdir()) == ["spots.eaf"]


def test_an_input_with_no_interval_still_gets_its_page_and_truth(tmp_path):
    outcome = _outcome(tmp_path)
    empty = outcome.kept.iloc[:0]
    outcome = SpotOutcome(outcome.recording, outcome.indices, outcome.scores, outcome.windows, empty,
                          spots_table(empty, outcome.indices, outcome.recording), outcome.lost_frames,
                          outcome.unreadable)
    anno = tmp_path / "anno.csv"
    TRUTH.to_csv(anno, index=False)
    paths = write_review(tmp_path / "out", outcome, CASME2, read_ground_truth(anno, FPS))
    assert [p.name for p in paths] == ["spots.eaf", "preview.webm", "report.html"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert '"spots":[]' in page and page.count('"matched":false') == 3
    assert read_annotation_table(tmp_path / "out" / "spots.eaf").empty


# --------------------------------------------------------------------------- an interview's length

HOUR_FPS, HOUR_S = 25.0, 3600.0


def _hour_review(folder: Path) -> SpotReview:
    """A 60-minute recording at 25 fps as the spot step would describe it: score tracks for every feature row,
    one interval every 30 s (macro 2 s, micro 0.4 s, alternating), a ground truth for some, a face lost for 10 s
    at 30:00, and a 1-fps preview (seeking is by seconds, so its rate does not matter to the page)."""
    writer = cv2.VideoWriter(str(folder / "preview.webm"), cv2.VideoWriter_fourcc(*"VP80"), 1.0, (32, 24))
    for second in range(int(HOUR_S)):
        writer.write(np.full((24, 32, 3), second % 256, np.uint8))
    writer.release()
    times = np.arange(int(HOUR_S * HOUR_FPS) - 1) / HOUR_FPS
    onsets = np.arange(15.0, HOUR_S, 30.0)
    types = np.where(np.arange(len(onsets)) % 2 == 0, "macro", "micro")
    lengths = np.where(types == "macro", 2.0, 0.4)
    frames = np.round(onsets * HOUR_FPS).astype(int) + 1
    ends = frames + np.round(lengths * HOUR_FPS).astype(int) - 1
    spots = pd.DataFrame({"type": types, "onset_frame": frames, "apex_frame": frames + 3, "offset_frame": ends,
                          "onset_s": onsets, "apex_s": onsets + 3 / HOUR_FPS, "offset_s": (ends - 1) / HOUR_FPS,
                          "score": np.linspace(0.2, 0.9, len(onsets))})
    truth = spots.iloc[::7].assign(matched=True)[["type", "onset_frame", "apex_frame", "offset_frame", "onset_s",
                                                  "offset_s", "matched"]].reset_index(drop=True)
    wave = {name: 0.5 + 0.4 * np.sin(times / period) for name, period in (("macro", 7.0), ("micro", 3.0))}
    return SpotReview(name="interview", input_path=str(folder / "interview.mp4"), fps=HOUR_FPS, duration=HOUR_S,
                      times=times, start=wave, apex=wave, end=wave, thresholds={"macro": 0.5, "micro": 0.5},
                      spots=spots, lost=[(1800.0, 1810.0)], spot_matched=np.ones(len(spots), bool), truth=truth,
                      video="preview.webm", matching="published")


def _view(driver) -> tuple[float, float]:
    begin, end = driver.execute_script("return document.getElementById('timeline').dataset.view").split()
    return float(begin), float(end)


def _bar(driver, row: int):
    return driver.find_element("css selector", f"#timeline rect[data-spot='{row}']")


def _inside_plot(driver, element) -> bool:
    """Whether ``element`` is drawn within the timeline's plot area, at least 3 px wide (seen, not a sliver)."""
    return driver.execute_script("""
        const bar = arguments[0].getBoundingClientRect(), clip = document.querySelector('#timeline rect.plot-area')
          .getBoundingClientRect();
        return bar.width >= 3 && bar.left >= clip.left - 1 && bar.right <= clip.right + 1;""", element)


def test_a_60_minute_recording_zooms_pans_and_steps_through_its_intervals(tmp_path, chromium):
    from browser import console_errors
    from selenium.webdriver.common.action_chains import ActionChains

    folder = tmp_path / "spots" / "interview"
    folder.mkdir(parents=True)
    review = _hour_review(folder)
    write_spot_page(folder / "report.html", review)
    moved = tmp_path / "elsewhere" / "interview"  # the page and its preview go together, and keep working
    moved.parent.mkdir()
    folder.rename(moved)
    driver = chromium
    console_errors(driver)
    driver.get((moved / "report.html").as_uri())
    assert _wait(driver, "return document.querySelector('video').readyState >= 2"), "the preview never loaded"
    assert abs(driver.execute_script("return document.querySelector('video').duration") - HOUR_S) <= 1
    n = len(review.spots)
    assert len(driver.find_elements("css selector", "#timeline [data-spot]")) == n
    assert len(driver.find_elements("css selector", "#overview .bar")) == n  # the whole hour, every interval
    assert _view(driver) == (0.0, 120.0)  # opens on its first two minutes: intervals are bars, not slivers
    assert _inside_plot(driver, _bar(driver, 1)) and not _inside_plot(driver, _bar(driver, 4))  # micro at 0:45
    screenshot(driver, "spot_report_hour.png", tmp_path)
    body = driver.find_element("tag name", "body")
    body.send_keys("+")
    assert _view(driver) == (30.0, 90.0)
    body.send_keys("0")
    assert _view(driver) == (0.0, HOUR_S)
    body.send_keys("n")  # to the first interval: zoomed until it is seen
    assert _wait(driver, f"return Math.abs(document.querySelector('video').currentTime - {review.spots['onset_s'][0]}) < 0.05")
    assert _view(driver)[1] - _view(driver)[0] < 60 and _inside_plot(driver, _bar(driver, 0))

    # The last interval (59:45) from the table, then back with the button: each comes into view and is sought.
    driver.find_elements("css selector", "#spots-table tr[data-spot]")[n - 1].click()
    for index in (n - 1, n - 2):
        onset = review.spots["onset_s"][index]
        assert _wait(driver, f"return Math.abs(document.querySelector('video').currentTime - {onset}) < 0.05"), index
        assert _inside_plot(driver, _bar(driver, index)), index
        driver.find_element("id", "prev-spot").click()

    # The wheel zooms around the pointer: the time under it stays put.
    svg = driver.find_element("css selector", "#timeline svg")
    before = _view(driver)
    under = driver.execute_script("""
        const svg = arguments[0], box = svg.querySelector('rect.plot-area').getBoundingClientRect();
        const x = box.left + box.width * 0.25, y = box.top + 20;
        svg.dispatchEvent(new WheelEvent('wheel', {clientX: x, clientY: y, deltaY: -400, bubbles: true, cancelable: true}));
        return x;""", svg)
    after = _view(driver)
    assert after[1] - after[0] < 0.5 * (before[1] - before[0])
    at = lambda view: view[0] + 0.25 * (view[1] - view[0])  # noqa: E731 - the time a quarter into the plot
    assert abs(at(after) - at(before)) < 0.01 * (before[1] - before[0]), (before, after, under)

    # Dragging pans: content dragged left shows later seconds, by the dragged distance.
    before = _view(driver)
    width = driver.execute_script("return document.querySelector('#timeline rect.plot-area').getBoundingClientRect().width")
    ActionChains(driver).move_to_element(svg).click_and_hold().move_by_offset(-200, 0).release().perform()
    after = _view(driver)
    assert after[1] - after[0] == pytest.approx(before[1] - before[0], abs=1e-3)
    assert after[0] - before[0] == pytest.approx(200 / width * (before[1] - before[0]), rel=0.05)

    # The overview: a click three quarters along goes to 45:00, and the view centres there.
    overview = driver.find_element("css selector", "#overview svg")
    offset = driver.execute_script("""
        const plot = document.querySelector('#overview rect.plot-area').getBoundingClientRect();
        const svg = arguments[0].getBoundingClientRect();
        return plot.left + 0.75 * plot.width - (svg.left + svg.width / 2);""", overview)
    ActionChains(driver).move_to_element_with_offset(overview, round(offset), 0).click().perform()
    assert _wait(driver, "return Math.abs(document.querySelector('video').currentTime - 2700) < 3")
    view = _view(driver)
    assert abs((view[0] + view[1]) / 2 - 2700) < 3
    assert console_errors(driver) == []
