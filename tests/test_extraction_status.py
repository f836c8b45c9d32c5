"""Warnings are not failures. Stray entries and handled irregular numbering are listed as warnings
(exit 0, exit 1 only with --strict); a skipped video folder or a failed video is still exit 1; the pipeline's
extraction steps go on past a failure the same frames always give (cached) and stop at any other, naming it."""
from __future__ import annotations

import pytest

from core_fixtures import touch, write_config
import dataset.prepare as prepare_module
from feature_extraction.__main__ import is_warning, main
from feature_extraction.adapters import discover_videos
from fx_footage import face_frames, write_frames
from utils.errors import UserError


def test_discovery_tells_warnings_from_skipped_videos(tmp_path):
    longvideos = tmp_path / "SAMM_longvideos"
    for n in range(1, 21):
        touch(longvideos / "006_1" / f"006_1_{n:04d}.jpg")
    for n in (1, 2, 3, 5, 9, 10):  # a gap (4, 6-8): extracted anyway
        touch(longvideos / "011_2" / f"011_2_{n:04d}.jpg")
    touch(longvideos / "006_2" / "readme.txt")  # a video folder without frames: that video is missing
    touch(longvideos / "SAMM_info.txt")  # a stray file
    videos, problems = discover_videos("samm", tmp_path)
    assert [v.video_name for v in videos] == ["samm_006_1", "samm_011_2"]
    kinds = {p.split(": ", 1)[0].rsplit("/", 1)[-1]: is_warning(p) for p in problems}
    assert kinds == {"011_2": True, "SAMM_info.txt": True, "006_2": False}


@pytest.fixture(scope="module")
def generic_tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("fx_status")
    write_frames(base / "raw" / "subjA" / "vid1", face_frames(8, face_px=160))
    touch(base / "raw" / "README.txt")  # stray entries, left alone
    touch(base / "raw" / "subjA" / "notes.txt")
    return base


def extract(base, *extra):
    return main(["--layout", "generic", "--raw-root", str(base / "raw"), "--out", str(base / "out"),
                 "--flow", "dis", *extra])


def test_warnings_exit_0_and_are_listed_strict_makes_them_failures(generic_tree, capsys):
    assert extract(generic_tree) == 0
    out = capsys.readouterr().out
    assert "videos: 1 extracted, 0 skipped (cached), 0 failed, 0 skipped in the raw tree, 2 warning(s)" in out
    listed = out.split("warnings (2; failures only with --strict):")[1]
    assert "README.txt: not a subject folder" in listed and "notes.txt: neither a frame folder" in listed
    assert "failed (" not in out
    assert extract(generic_tree, "--strict") == 1  # from the cache: the same warnings, now failures
    assert "videos: 0 extracted, 1 skipped (cached)" in capsys.readouterr().out


def test_a_skipped_video_folder_is_still_a_failure(generic_tree, capsys):
    (generic_tree / "raw" / "subjA" / "empty").mkdir()
    try:
        assert extract(generic_tree) == 1
    finally:
        (generic_tree / "raw" / "subjA" / "empty").rmdir()
    out = capsys.readouterr().out
    assert "1 skipped in the raw tree, 2 warning(s)" in out and "failed (1):" in out and "empty: no frame images" in out


@pytest.mark.parametrize("cached", [True, False])
def test_a_step_goes_on_past_a_cached_failure_and_stops_at_another(tmp_path, monkeypatch, cached):
    from feature_extraction.adapters import VideoSource
    from feature_extraction.batch import Outcome

    from dataset.settings import ExtractionSettings

    settings = ExtractionSettings.from_config(write_config(tmp_path, "my_lab", raw_root="raw", subject_list=["a", "b"]))
    failed = Outcome(VideoSource("b", "b_clip"), "failed", reason="no face found on any frame", cached_failure=cached)
    monkeypatch.setattr("feature_extraction.__main__.extract", lambda args: (1, [failed]))
    if cached:
        prepare_module.extract_shard(settings, 1, 1, 2)  # the same frames give it again: no retry, no stop
    else:
        with pytest.raises(UserError, match=r"shard 1/2\) failed for 1 video\(s\) \(b_clip\); see FAILED above"):
            prepare_module.extract_shard(settings, 1, 1, 2)
