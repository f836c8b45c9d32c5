"""Reruns of a section that extracts its features from a raw tree: a video changed, removed or moved, the flow
method switched; each rerun gives what a clean run gives, the run report's previews included."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from core_fixtures import REPO_ROOT, differences, edit_config, report_data, run_outputs, run_pipeline
from fx_footage import face_frames, write_frames

pytestmark = pytest.mark.e2e  # whole runs

SUBJECTS = ["s1", "s2", "s3"]
ANNOTATION = "subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\n" + "".join(
    f"{s},{s}_v{v},2,4,7,1,12\n{s},{s}_v{v},3,4,5,2,4\n" for s in SUBJECTS for v in (1, 2))


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    """Two videos a subject (generic layout), nine frames each, and a config section extracting them with DIS."""
    base = tmp_path_factory.mktemp("raw_footage")
    frames = face_frames(10, face_px=160, brow_raise_px=2.0)
    for index, subject in enumerate(SUBJECTS):
        for video in (1, 2):
            write_frames(base / "raw" / subject / f"{subject}_v{video}", frames[(index + video) % 2:][:9])
    (base / "anno.csv").write_text(ANNOTATION)
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(raw_root="raw", raw_anno="anno.csv", raw_layout="generic", extraction_flow="dis",
                   segment_feat_root="features", anno_csv="features/annotations.csv", adjacency=None,
                   subject_list=SUBJECTS, epochs=2, epoch_begin=0, batch_size=2, device="cpu")
    (base / "config.yaml").write_text(yaml.safe_dump({"raw": section}))
    return base


def world(footage: Path, root: Path) -> Path:
    root.mkdir()
    for name in ("raw", "anno.csv", "config.yaml"):
        (shutil.copytree if (footage / name).is_dir() else shutil.copy)(footage / name, root / name)
    return root


def request(root: Path, **env) -> dict:
    return {"DATASET": "raw", "CONFIG": str(root / "config.yaml"), "OUTPUT": str(root / "run"), "THREADS": "1", **env}


def ok(env: dict):
    result = run_pipeline(env)
    assert result.returncode == 0, str(result)
    return result


def same_as_clean(root: Path, clean: Path) -> None:
    """A clean run on a copy of the raw tree and config as they are now equals the rerun (features included)."""
    clean.mkdir()
    for name in ("raw", "anno.csv", "config.yaml"):
        (shutil.copytree if (root / name).is_dir() else shutil.copy)(root / name, clean / name)
    ok(request(clean))
    wrong = differences(run_outputs(root / "run"), run_outputs(clean / "run"))
    assert not wrong, f"the rerun differs from a clean run in {wrong[:8]}"
    windows = {str(p.relative_to(root / "features")): p.read_bytes() for p in (root / "features").glob("t*/*/*.npz")}
    assert windows == {str(p.relative_to(clean / "features")): p.read_bytes()
                       for p in (clean / "features").glob("t*/*/*.npz")}


def test_one_video_changed_in_the_raw_tree_is_extracted_again_and_retrains(footage, tmp_path):
    root = world(footage, tmp_path / "world")
    ok(request(root))
    preview = root / "run" / "previews" / "s2_v1.webm"
    other = (root / "run" / "previews" / "s1_v1.webm").stat().st_mtime_ns
    old_preview = preview.read_bytes()
    frames = face_frames(10, face_px=150, brow_raise_px=4.0)
    shutil.rmtree(root / "raw" / "s2" / "s2_v1")
    write_frames(root / "raw" / "s2" / "s2_v1", frames[:9])
    result = ok(request(root))
    assert preview.read_bytes() != old_preview  # the report shows the new frames
    same_as_clean(root, tmp_path / "clean")
    assert "videos: 1 extracted, 5 skipped (cached)" in result.stdout
    assert "s2: training: done before" in result.stdout and "s1: training (train features: s2 changed)" in result.stdout
    assert (root / "run" / "previews" / "s1_v1.webm").stat().st_mtime_ns == other  # and keeps the others
    videos = {video["video"]: video for video in report_data(root / "run" / "report.html")["videos"]}
    assert videos["s2_v1"]["preview"] == "previews/s2_v1.webm"


def test_videos_removed_from_the_raw_tree_lose_their_windows(footage, tmp_path):
    root = world(footage, tmp_path / "world")
    ok(request(root))
    shutil.rmtree(root / "raw" / "s3" / "s3_v2")
    (root / "anno.csv").write_text("".join(line + "\n" for line in ANNOTATION.splitlines() if "s3_v2" not in line))
    ok(request(root))
    assert not list((root / "features").glob("t*/s3/s3_v2_*.npz"))
    same_as_clean(root, tmp_path / "clean")
    assert not (root / "run" / "previews" / "s3_v2.webm").exists()
    assert "s3_v2" not in {video["video"] for video in report_data(root / "run" / "report.html")["videos"]}


def test_a_flow_change_re_extracts_and_the_record_describes_every_window(footage, tmp_path):
    root = world(footage, tmp_path / "world")
    ok(request(root))
    edit_config(root / "config.yaml", section="raw", extraction_flow="farneback")
    result = ok(request(root))
    assert "videos: 6 extracted" in result.stdout
    record = yaml.safe_load((root / "features" / "extraction.json").read_text())
    assert record["flow_settings"]["method"] == "farneback"
    for subject in SUBJECTS:
        logged = yaml.safe_load((root / "run" / subject / "logs" / "extraction.json").read_text())
        assert logged["flow_settings"]["method"] == "farneback"  # the folds trained on these features
    same_as_clean(root, tmp_path / "clean")


def test_a_moved_raw_tree_and_run_folder_redo_nothing(footage, tmp_path):
    root = world(footage, tmp_path / "world")
    ok(request(root))
    (root / "raw").rename(root / "raw_moved")
    (root / "run").rename(root / "run_moved")
    edit_config(root / "config.yaml", section="raw", raw_root="raw_moved")
    result = ok({**request(root), "OUTPUT": str(root / "run_moved")})
    assert result.stdout.count("done before") == 2 + 2 * len(SUBJECTS) + 2  # features, folds, pooling, report
