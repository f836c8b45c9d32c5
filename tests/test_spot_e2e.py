"""spot.py end to end on a reduced bundled demo: the point-6 invariant (spot with a fold's model at its selected
epoch gives that fold's nms_csv for the video, frames, scores and seconds) and a bad input among good ones
(one line, the others written, exit 1).

The toy model trains for seconds, so the apex thresholds are lowered to 0.05 (in the run's own config, which
eval.py and spot.py both read) for intervals to exist at all; the invariant does not depend on them. Its one
training window is trained at batch size 1 for 100 epochs: with fewer steps (8 epochs at batch 2) its start
and end scores collapsed so that at most one epoch had any proposal, and on another CPU none might; here
51 of the 96 evaluated epochs have proposals, so the selected epoch exists and has intervals."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from core_fixtures import REPO_ROOT, run_demo_pipeline


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("spotdemo")
    result = run_demo_pipeline(root, timeout=900, synth_subjects=2, synth_videos_per_subject=1,
                               synth_frames_per_video=300, epochs=100, epoch_begin=5, batch_size=1,
                               micro_apex_score_threshold=0.05, macro_apex_score_threshold=0.05,
                               subject_list=["casme_015", "casme_016"], device="cpu")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    config = root / "config.yaml"
    return root, config


def _spot(root, config, *arguments):
    return subprocess.run([sys.executable, str(REPO_ROOT / "spot.py"), *map(str, arguments), "--run", str(root / "run"),
                           "--dataset", "demo", "--config", str(config), "--out", str(root / "spots")],
                          capture_output=True, text=True, timeout=600)


def test_spot_reproduces_eval_nms_and_reports_a_faceless_input(demo_run, tmp_path):
    root, config = demo_run
    subject = "casme_015"
    (video,) = sorted((root / "raw" / "rawpic" / "s15").iterdir())
    blank = tmp_path / "no_face"
    blank.mkdir()
    for number in range(1, 6):
        cv2.imwrite(str(blank / f"img{number}.jpg"), np.full((120, 160, 3), 128, np.uint8))
    epoch = json.loads((root / "run" / subject / "eval_info.json").read_text())["selected_epoch"]
    assert epoch is not None, "the fixture's fold selected no epoch"
    result = _spot(root, config, video, blank, "--folds", subject)  # --epoch selected, the default
    assert result.returncode == 1, result.stdout + result.stderr  # the blank folder failed, the video did not
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "no_face" in failed[0] and "no face" in failed[0]
    assert "extraction settings: method=dis" in result.stdout
    assert not (root / "spots" / "no_face").exists()

    expected = pd.read_csv(root / "run" / subject / "nms_csv" / f"final_proposals_epoch_{epoch:03d}.csv")
    assert len(expected) > 0 and expected["video_name"].nunique() == 1  # the subject's one video, with intervals
    spots = pd.read_csv(root / "spots" / video.name / "spots.csv")
    assert list(spots.columns) == ["type", "onset_frame", "apex_frame", "offset_frame", "onset_s", "offset_s", "score"]
    mine = expected.assign(type=expected["type_idx"].map({1: "macro", 2: "micro"}))
    key = ["onset_frame", "offset_frame", "type"]
    got = spots.sort_values(key).reset_index(drop=True)
    want = (mine.rename(columns={"start_frame": "onset_frame", "end_frame": "offset_frame"})
            .sort_values(key).reset_index(drop=True))
    assert got[key].values.tolist() == want[key].values.tolist()
    np.testing.assert_allclose(got["score"].to_numpy(float), want["score"].to_numpy(float), rtol=1e-5)
    np.testing.assert_allclose(got["onset_s"].to_numpy(float), (got["onset_frame"].to_numpy(float) - 1) / 30, atol=1e-4)  # img1 is 0 s
    document = json.loads((root / "spots" / video.name / "spots.json").read_text())
    assert document["epochs"] == {subject: epoch} and len(document["spots"]) == len(spots)
    assert (root / "spots" / video.name / "timeline.png").stat().st_size > 10_000


def test_corrupt_frames_in_a_folder_are_reported_as_face_lost(demo_run, tmp_path):
    """Unreadable frame files partway count as face-lost: spot succeeds and names them."""
    root, config = demo_run
    (video,) = sorted((root / "raw" / "rawpic" / "s15").iterdir())
    take = tmp_path / "corrupt_take"
    shutil.copytree(video, take)
    (take / "img120.jpg").write_bytes(b"not a jpeg" * 10)
    (take / "img121.jpg").write_bytes((video / "img121.jpg").read_bytes()[:200])  # cut inside the header
    result = _spot(root, config, take, "--folds", "casme_015")
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "face lost" in line]
    assert line.startswith(f"{take}: face lost on ") and line.endswith("among them: img120.jpg, img121.jpg")
    document = json.loads((root / "spots" / take.name / "spots.json").read_text())
    assert document["unreadable_frames"] == [120, 121] and document["face_lost_frames"] >= 2
