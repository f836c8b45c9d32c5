"""The one frame-folder rule (feature_extraction/adapters/frames.py), read the same way by the dataset adapters
and by spot.py: hidden files and macOS ``._*`` sidecars ignored, a frame number is the one number of the stem,
a name with several numbers or two files with one number is a one-line error naming the file(s)."""
from __future__ import annotations

import re

import pytest

from core_fixtures import touch
from feature_extraction.adapters import discover_videos
from feature_extraction.adapters.frames import ordered_frames
from feature_extraction.recording import open_recording
from utils.errors import UserError


def test_frames_are_ordered_by_their_number_and_hidden_files_are_ignored(tmp_path):
    for name in ("img10.png", "img2.png", "img1.png", "._img3.png", ".img4.png", ".DS_Store", "notes.txt"):
        touch(tmp_path / name)
    numbers, paths = ordered_frames(tmp_path)
    assert numbers == (1, 2, 10)
    assert [p.name for p in paths] == ["img1.png", "img2.png", "img10.png"]


@pytest.mark.parametrize("name", ["frame_0001_cam2.png", "take2_0003.jpg"])
def test_a_name_with_several_numbers_is_refused_naming_it(tmp_path, name):
    touch(tmp_path / "frame_0002.png")
    touch(tmp_path / name)
    with pytest.raises(UserError) as refused:
        ordered_frames(tmp_path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{tmp_path}: {name} holds several numbers")


def test_two_files_with_one_number_are_refused_naming_both(tmp_path):
    touch(tmp_path / "img1.png")
    touch(tmp_path / "img01.jpg")
    touch(tmp_path / "img2.png")
    with pytest.raises(UserError, match=re.escape(f"{tmp_path}: img01.jpg and img1.png both have frame number 1")):
        ordered_frames(tmp_path)


def test_a_name_without_a_number_is_refused(tmp_path):
    touch(tmp_path / "img1.png")
    touch(tmp_path / "cover.png")
    with pytest.raises(UserError, match=re.escape(f"{tmp_path}: cannot read a frame number from cover.png")):
        ordered_frames(tmp_path)


def test_discovery_skips_a_folder_that_breaks_the_rule_and_keeps_the_others(tmp_path):
    for name in ("0001.png", "0002.png", "._0001.png"):
        touch(tmp_path / "subj" / "good" / name)
    for name in ("0001.png", "1.png"):
        touch(tmp_path / "subj" / "twice" / name)
    videos, problems = discover_videos("generic", tmp_path)
    assert [(v.video_name, [p.name for p in v.frame_paths]) for v in videos] == [("good", ["0001.png", "0002.png"])]
    assert problems == [f"{tmp_path / 'subj' / 'twice'}: 0001.png and 1.png both have frame number 1; skipped"]


def test_spot_reads_a_frame_folder_by_the_same_rule(tmp_path):
    for name in ("shot_9.png", "shot_10.png", "._shot_11.png", ".hidden_12.png"):
        touch(tmp_path / "take" / name)
    recording = open_recording(tmp_path / "take", None, folder_fps=30)
    assert (recording.numbers, recording.frame_paths) == ordered_frames(tmp_path / "take")
    assert recording.numbers == (9, 10) and recording.n_frames == 2
    touch(tmp_path / "take" / "shot_0011_cam2.png")
    with pytest.raises(UserError, match="shot_0011_cam2.png holds several numbers"):
        open_recording(tmp_path / "take", None, folder_fps=30)
