"""ELAN .eaf out and back in (utils/elan.py, pympi-ling): the round trip keeps the frames, corrected files
read as the paper's table, bad files are one line naming them, and the generic adapter takes one."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from pympi.Elan import Eaf

from feature_extraction.adapters import discover_videos, load_annotations
from utils.annotations import read_annotation_table
from utils.elan import write_spots_eaf
from utils.errors import UserError


def _spots(fps: float) -> pd.DataFrame:
    onset, apex, offset = np.array([1, 40, 41, 300]), np.array([5, 44, 41, 333]), np.array([12, 52, 41, 371])
    return pd.DataFrame({"type": ["macro", "micro", "macro", "micro"], "onset_frame": onset, "apex_frame": apex,
                         "offset_frame": offset, "onset_s": np.round((onset - 1) / fps, 4),
                         "offset_s": np.round((offset - 1) / fps, 4), "score": [0.91, 0.5, 0.25, 0.125]})


@pytest.mark.parametrize("fps", [30.0, 25.0, 200.0, 29.97])
def test_spots_to_eaf_to_table_gives_the_same_frames(tmp_path, fps):
    media = tmp_path / "s07" / "take 1.mp4"
    media.parent.mkdir()
    media.write_bytes(b"")
    spots = _spots(fps)
    write_spots_eaf(tmp_path / "out" / "spots.eaf", spots, media, fps)
    eaf = Eaf(str(tmp_path / "out" / "spots.eaf"))
    assert sorted(eaf.get_tier_names()) == ["macro", "micro"]
    macro = sorted(eaf.get_annotation_data_for_tier("macro"))
    # Frame 1 starts at 0 ms; frame 12 ends at 12 / fps s; the value is the score.
    assert macro[0][:3] == (0, round(12 / fps * 1000), "0.9100")
    assert eaf.get_linked_files()[0]["MEDIA_URL"] == media.resolve().as_uri()
    table = read_annotation_table(tmp_path / "out" / "spots.eaf")
    assert table["video_name"].unique().tolist() == ["take 1"] and table["subject"].unique().tolist() == ["s07"]
    back = table.assign(type=table["type_idx"].map({1: "macro", 2: "micro"})).sort_values(["start_frame", "type"])
    expected = spots.sort_values(["onset_frame", "type"])
    assert back[["type", "start_frame", "apex_frame", "end_frame"]].to_numpy().tolist() == \
        expected[["type", "onset_frame", "apex_frame", "offset_frame"]].to_numpy().tolist()
    assert not list((tmp_path / "out").glob(".*")) and not list((tmp_path / "out").glob("*.bak"))


def _hand_made(path: Path, tiers: dict, frame_rate: str | None = "30") -> Path:
    eaf = Eaf()
    eaf.remove_tier("default")
    eaf.add_linked_file("file:///data/raw/s03/clip.mp4")
    if frame_rate:
        eaf.add_property("frame_rate", frame_rate)
    for tier, intervals in tiers.items():
        eaf.add_tier(tier)
        for begin, end in intervals:
            eaf.add_annotation(tier, begin, end, "")
    eaf.to_file(str(path))
    return path


def test_a_corrected_eaf_reads_at_the_given_rate_with_no_apex(tmp_path):
    path = _hand_made(tmp_path / "corrected.eaf", {"macro": [(1000, 2000)], "micro": [(500, 700)]})
    table = read_annotation_table(path, fps=25.0)
    # 1000 ms at 25 fps is frame index 25, so frame 26; 2000 ms ends frame 50. 500 ms starts
    # frame 13 (480-520 ms); 700 ms is 17.5 frames, half-way through frame 18 (680-720 ms): rounded up, frame 18.
    assert table[["video_name", "subject", "start_frame", "apex_frame", "end_frame", "type_idx"]].values.tolist() == [
        ["clip", "s03", 26, 0, 50, 1], ["clip", "s03", 13, 0, 18, 2]]
    assert read_annotation_table(path)["start_frame"].tolist() == [31, 16]  # the file's own 30 fps


@pytest.mark.parametrize("case, message", [
    ("tier", "tier 'gesture' is not one of macro, micro"),
    ("xml", "not a readable ELAN .eaf file"),
    ("rate", "no frame rate"),
])
def test_bad_eaf_files_are_one_line_naming_them(tmp_path, case, message):
    path = tmp_path / "bad.eaf"
    if case == "tier":
        _hand_made(path, {"macro": [(0, 40)], "gesture": [(0, 40)]})
    elif case == "xml":
        path.write_text("<ANNOTATION_DOCUMENT><HEADER></ANNOTATION")
    else:
        _hand_made(path, {"micro": [(0, 40)]}, frame_rate=None)
    with pytest.raises(UserError) as error:
        read_annotation_table(path)
    text = str(error.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_the_generic_adapter_trains_from_a_corrected_eaf(tmp_path):
    raw = tmp_path / "raw" / "s05"
    raw.mkdir(parents=True)
    writer = cv2.VideoWriter(str(raw / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for _ in range(60):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    spots = _spots(25.0).iloc[:2]
    write_spots_eaf(tmp_path / "spots.eaf", spots, raw / "clip.avi", 25.0)
    videos, _ = discover_videos("generic", tmp_path / "raw")
    table = load_annotations("generic", tmp_path / "spots.eaf", videos)
    assert table[["subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx"]].values.tolist() == [
        ["s05", "clip", 1, 5, 12, 1], ["s05", "clip", 40, 44, 52, 2]]
    assert table["start_frame"].dtype == np.int64 and table["au"].tolist() == ["", ""]
