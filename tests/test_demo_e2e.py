"""The bundled demo end to end, exactly as `bash pipeline.sh` runs it: generator -> pixels -> features -> LOSO ->
table and plots (the session's one demo run, the ``default_demo`` fixture of tests/conftest.py)."""
from __future__ import annotations

import json

import yaml

from core_fixtures import REPO_ROOT
from utils.metrics import read_video_counts


def test_default_demo_goes_from_pixels_to_a_table_and_spots_micro_expressions(default_demo):
    """micro TP > 0 and overall F1 >= 0.45 under the paper's protocol, the demo's promise. The margin is by
    design (a third of the expressions are micro, DIS MEDIUM), not tuned."""
    root, result = default_demo
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["mesynth"]
    subjects = section["subject_list"]
    # The frames and the xlsx came from the generator, the features from the extractor reading them.
    frames = section["synth_subjects"] * section["synth_videos_per_subject"] * section["synth_frames_per_video"]
    assert len(list((root / "raw" / "rawpic").rglob("img*.jpg"))) == frames
    assert sorted(p.name for p in (root / "features" / "test").iterdir()) == sorted(subjects)
    annotations = (root / "features" / "annotations.csv").read_text().splitlines()
    assert annotations[0] == "subject,video_name,start_frame,apex_frame,end_frame,type_idx,au" and len(annotations) > 2
    scores = json.loads((root / "run" / "final_results.json").read_text())["scores"]
    assert scores["overall"]["m"] == len(annotations) - 1
    assert (root / "run" / "plots" / "f1_by_epoch.png").is_file()
    assert f"Pooled LOSO results over {len(subjects)} subjects" in result.stdout
    assert scores["micro"]["tp"] > 0, scores
    assert scores["overall"]["f1"] >= 0.45, scores
    # The run report's per-video counts (pooling's) add up to the pooled table.
    videos = read_video_counts(root / "run" / "video_counts.csv")
    for name in ("micro", "macro"):
        assert videos.loc[videos["type"] == name, ["tp", "fp", "fn"]].sum().tolist() == [
            scores[name][count] for count in ("tp", "fp", "fn")], name
