"""spot.py end to end with the bundled demo's trained models (the session's one demo run): the point-6 invariant
(spot with a fold's model at its selected epoch gives that fold's nms_csv for the video, frames, scores and
seconds) and a bad input among good ones (one line, the others written, exit 1). That test runs the command as
its own process, as a user does: there its first input is extracted by the helper process it forks
(model/spotting/helper.py), the second in the command's process."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

import spot
from core_fixtures import REPO_ROOT

pytestmark = pytest.mark.e2e  # whole runs

SUBJECT = "casme_015"


def _spot(root, out, capsys, *arguments) -> tuple[int, str]:
    """spot.py in this process, with the demo run's model and config file: (exit status, stdout)."""
    code = spot.main([*map(str, arguments), "--run", str(root / "run"), "--config", str(root / "config.yaml"),
                      "--out", str(out), "--no-report"])  # the section: the run's own
    return code, capsys.readouterr().out


def _spot_command(root, out, *arguments) -> tuple[int, str]:
    """spot.py as its own process, as :func:`_spot`: (exit status, stdout)."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "spot.py"), *map(str, arguments), "--run",
                             str(root / "run"), "--config", str(root / "config.yaml"), "--out", str(out),
                             "--no-report"], capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr[-2000:]


def _video_with_intervals(root, epoch: int):
    """The subject's video with the most kept intervals at the selected epoch, and those intervals."""
    expected = pd.read_csv(root / "run" / SUBJECT / "nms_csv" / f"final_proposals_epoch_{epoch:03d}.csv")
    name = expected["video_name"].astype(str).value_counts().index[0]
    (video,) = [path for path in (root / "raw" / "rawpic" / "s15").iterdir() if f"_{name.split('_')[-1]}" in path.name]
    return video, expected[expected["video_name"].astype(str) == name]


def test_spot_reproduces_eval_nms_and_reports_a_faceless_input(default_demo, tmp_path):
    root, _ = default_demo
    blank = tmp_path / "no_face"
    blank.mkdir()
    for number in range(1, 6):
        cv2.imwrite(str(blank / f"img{number}.jpg"), np.full((120, 160, 3), 128, np.uint8))
    epoch = json.loads((root / "run" / SUBJECT / "eval_info.json").read_text())["selected_epoch"]
    assert epoch is not None, "the demo's fold selected no epoch"
    video, expected = _video_with_intervals(root, epoch)
    assert len(expected) > 0
    out = tmp_path / "spots"
    code, stdout = _spot_command(root, out, video, blank, "--folds", SUBJECT)  # --epoch selected, the default
    assert code == 1, stdout  # the blank folder failed, the video did not
    failed = [line for line in stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "no_face" in failed[0] and "no face" in failed[0]
    assert "extraction settings: method=dis" in stdout
    assert not (out / "no_face").exists()

    spots = pd.read_csv(out / video.name / "spots.csv")
    assert list(spots.columns) == ["type", "onset_frame", "apex_frame", "offset_frame", "onset_s", "offset_s", "score"]
    mine = expected.assign(type=expected["type_idx"].map({1: "macro", 2: "micro"}))
    key = ["onset_frame", "offset_frame", "type"]
    got = spots.sort_values(key).reset_index(drop=True)
    want = (mine.rename(columns={"start_frame": "onset_frame", "end_frame": "offset_frame"})
            .sort_values(key).reset_index(drop=True))
    assert got[key].values.tolist() == want[key].values.tolist()
    np.testing.assert_allclose(got["score"].to_numpy(float), want["score"].to_numpy(float), rtol=1e-5)
    np.testing.assert_allclose(got["onset_s"].to_numpy(float), (got["onset_frame"].to_numpy(float) - 1) / 30, atol=1e-4)  # img1 is 0 s
    document = json.loads((out / video.name / "spots.json").read_text())
    assert document["epochs"] == {SUBJECT: epoch} and len(document["spots"]) == len(spots)
    assert (out / video.name / "timeline.png").stat().st_size > 10_000


def test_corrupt_frames_in_a_folder_are_reported_as_face_lost(default_demo, tmp_path, capsys):
    """Unreadable frame files partway count as face-lost: spot succeeds and names them."""
    root, _ = default_demo
    video = sorted((root / "raw" / "rawpic" / "s15").iterdir())[0]
    take = tmp_path / "corrupt_take"
    shutil.copytree(video, take)
    (take / "img120.jpg").write_bytes(b"not a jpeg" * 10)
    (take / "img121.jpg").write_bytes((video / "img121.jpg").read_bytes()[:200])  # cut inside the header
    code, stdout = _spot(root, tmp_path / "spots", capsys, take, "--folds", SUBJECT)
    assert code == 0, stdout
    (line,) = [line for line in stdout.splitlines() if "face lost" in line]
    assert line.startswith(f"{take}: face lost on ") and line.endswith("among them: img120.jpg, img121.jpg")
    document = json.loads((tmp_path / "spots" / take.name / "spots.json").read_text())
    assert document["unreadable_frames"] == [120, 121] and document["face_lost_frames"] >= 2
