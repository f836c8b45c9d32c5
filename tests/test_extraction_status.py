"""Warnings are not failures. Stray entries and handled irregular numbering are listed as warnings
(exit 0, exit 1 only with --strict); a skipped video folder or a failed video is still exit 1; dataset.prepare
goes on when every subject it needs has its features."""
from __future__ import annotations

import numpy as np
import pytest

import dataset.prepare as prepare_module
from feature_extraction.__main__ import is_warning, main
from feature_extraction.adapters import discover_videos
from fx_footage import face_frames, write_frames
from test_fx_adapters import touch
from test_prepare import write_config
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
    return main(["--dataset", "generic", "--raw-root", str(base / "raw"), "--out", str(base / "out"),
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


@pytest.mark.parametrize("with_all_features", [True, False])
def test_prepare_goes_on_when_the_features_it_needs_exist(tmp_path, monkeypatch, capsys, with_all_features):
    config = write_config(tmp_path, "my_lab", raw_root="raw", subject_list=["a", "b"])
    (tmp_path / "anno.csv").write_text("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\n")
    for subject in ("a", "b") if with_all_features else ("a",):
        for split in ("train", "test"):
            (tmp_path / "features" / split / subject).mkdir(parents=True)
            np.savez(tmp_path / "features" / split / subject / "v_0000.npz", feature=np.zeros(1))
    monkeypatch.setattr("feature_extraction.__main__.main", lambda argv: 1)  # a video failed somewhere
    if with_all_features:
        prepare_module.prepare(config, jobs=1)
        assert "note: feature extraction exited 1" in capsys.readouterr().err
    else:
        with pytest.raises(UserError, match=r"exit 1\) and 1 subject\(s\) of subject_list have no features \(b\)"):
            prepare_module.prepare(config, jobs=1)
