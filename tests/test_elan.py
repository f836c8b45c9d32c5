"""ELAN .eaf out and back in (utils/elan.py, pympi-ling): the round trip keeps the frames for any frame numbering
and name, corrected files read as the paper's table, bad files are one line naming them, the generic adapter
takes one, and the same spots give the same bytes."""
from __future__ import annotations

import ast
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from pympi.Elan import Eaf

from core_fixtures import REPO_ROOT
from feature_extraction.adapters import discover_videos, load_annotations
from feature_extraction.recording import open_recording, resample_indices
from model.spotting.review import SpotOutcome, input_truth, read_ground_truth, truth_lane, write_review
from model.settings import EvaluationSettings
from model.spotting.spots import spots_table
from utils.annotations import read_annotation_table
from utils.config import load_config
from utils.elan import write_spots_eaf
from utils.errors import UserError


def _spots(fps: float) -> pd.DataFrame:
    onset, apex, offset = np.array([1, 40, 41, 300]), np.array([5, 44, 41, 333]), np.array([12, 52, 41, 371])
    return pd.DataFrame({"type": ["macro", "micro", "macro", "micro"], "onset_frame": onset, "apex_frame": apex,
                         "offset_frame": offset, "onset_s": np.round((onset - 1) / fps, 4),
                         "apex_s": (apex - 1) / fps, "offset_s": np.round((offset - 1) / fps, 4),
                         "score": [0.91, 0.5, 0.25, 0.125]})


@pytest.mark.parametrize("fps", [30.0, 25.0, 200.0, 29.97])
def test_spots_to_eaf_to_table_gives_the_same_frames(tmp_path, fps):
    media = tmp_path / "s07" / "take 1.mp4"
    media.parent.mkdir()
    media.write_bytes(b"")
    spots = _spots(fps)
    write_spots_eaf(tmp_path / "out" / "spots.eaf", spots, media, "take 1", fps)
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
    write_spots_eaf(tmp_path / "spots.eaf", spots, raw / "clip.avi", "clip", 25.0)
    videos, _ = discover_videos("generic", tmp_path / "raw")
    table = load_annotations("generic", tmp_path / "spots.eaf", videos)
    assert table[["subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx"]].values.tolist() == [
        ["s05", "clip", 1, 5, 12, 1], ["s05", "clip", 40, 44, 52, 2]]
    assert table["start_frame"].dtype == np.int64 and table["au"].tolist() == ["", ""]


# --------------------------------------------------------------------------- any numbering, any name

FRAMES = 40
# Model-frame intervals (1-based, as the proposals count) of a 40-frame input: (start, apex, end, type_idx).
KEPT = pd.DataFrame({"video_name": "x", "start_frame": [5, 22], "apex_frame": [9, 25], "end_frame": [20, 30],
                     "score": [0.8, 0.6], "type_idx": [1, 2]})


def _frame_folder(folder: Path, first: int) -> Path:
    folder.mkdir(parents=True)
    for number in range(first, first + FRAMES):
        cv2.imwrite(str(folder / f"img{number}.png"), np.full((24, 32, 3), number % 250, np.uint8))
    return folder


def _video_file(path: Path, fps: float) -> Path:
    path.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    for index in range(FRAMES):
        writer.write(np.full((24, 32, 3), 5 * index, np.uint8))
    writer.release()
    return path


INPUTS = {  # name -> how to make it under <raw>/s01/
    "from 0": lambda raw: _frame_folder(raw / "take", 0),
    "from 1": lambda raw: _frame_folder(raw / "take", 1),
    "from 1000": lambda raw: _frame_folder(raw / "take", 1000),
    "dotted folder": lambda raw: _frame_folder(raw / "sess.2024.05", 1000),
    "video": lambda raw: _video_file(raw / "sess.2024.05.avi", 30.0),
    "video at 25 fps": lambda raw: _video_file(raw / "clip.avi", 25.0),
}


@pytest.mark.parametrize("kind", INPUTS)
def test_spots_eaf_round_trip_is_exact_for_any_numbering_and_name(tmp_path, kind):
    """spot -> spots.eaf -> back as --anno of the same input gives the spots' own onset, apex and offset frames,
    and the EAF's video is the input's name (as --anno and as training data)."""
    path = INPUTS[kind](tmp_path / "raw" / "s01")
    config = load_config("cas(me)^2")
    recording = open_recording(path, None, float(config["fps"]))
    if recording.is_video:  # spot counts a video's frames while it decodes it
        recording = recording.counted(recording.header_frames)
    indices = resample_indices(recording.n_frames, recording.source_fps, float(config["fps"]))
    table = spots_table(KEPT, indices, recording)
    outcome = SpotOutcome(recording, indices, None, None, KEPT, table, np.zeros(len(indices), bool),
                          np.zeros(len(indices), bool))
    (eaf,) = write_review(tmp_path / "out", outcome, EvaluationSettings.from_config(config), report=False)

    truth = read_ground_truth(eaf, float(config["fps"]))
    assert truth.table["video_name"].tolist() == [recording.name] * 2
    rows, notice = input_truth(truth, recording)
    assert notice is None
    lane, matched = truth_lane(rows, outcome, config["matching"])
    columns = ["type", "onset_frame", "apex_frame", "offset_frame"]
    assert lane.sort_values("onset_frame")[columns].to_numpy().tolist() == table[columns].to_numpy().tolist()
    assert lane["matched"].all() and matched.all()

    # As training data: the n-th frame is frame n (the features' rows), at the input's own rate.
    videos, _ = discover_videos("generic", tmp_path / "raw")
    trained = load_annotations("generic", eaf, videos)
    assert trained["video_name"].tolist() == [recording.name] * 2 and trained["subject"].tolist() == ["s01"] * 2
    positions = np.searchsorted(recording.numbers, table[["onset_frame", "apex_frame", "offset_frame"]]) + 1
    assert trained.sort_values("start_frame")[["start_frame", "apex_frame", "end_frame"]].to_numpy().tolist() == \
        positions.tolist()


def test_an_eaf_of_the_earlier_format_keeps_its_apex(tmp_path):
    """Files written before the apex became a time hold it as a frame number (from 1, at the file's rate)."""
    path = _hand_made(tmp_path / "old.eaf", {"macro": [(400, 1000)]})  # frames 13-30 at the file's 30 fps
    eaf = Eaf(str(path))
    eaf.add_property("apex macro 400-1000", "20")
    eaf.to_file(str(path))
    assert read_annotation_table(path)[["start_frame", "apex_frame", "end_frame"]].values.tolist() == [[13, 20, 30]]
    # at 60 fps frame 20 of 30 fps starts at 633 ms: frame 39 of 60
    assert read_annotation_table(path, fps=60.0)[["start_frame", "apex_frame", "end_frame"]].values.tolist() == \
        [[25, 39, 60]]


def test_the_same_spots_give_the_same_bytes(tmp_path, monkeypatch):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"")
    first = write_spots_eaf(tmp_path / "a" / "spots.eaf", _spots(30.0), media, "clip", 30.0).read_bytes()
    monkeypatch.setattr(time, "strftime", lambda form, *args: "2031-07-09T10:11:12{:0=+3d}:{:0=2d}")
    assert write_spots_eaf(tmp_path / "b" / "spots.eaf", _spots(30.0), media, "clip", 30.0).read_bytes() == first


def _imported(path: Path) -> set[str]:
    """Modules ``path`` imports, at any level (a function-level import is still a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_module_of_utils_imports_itself_through_others():
    """utils/ is the ground: no import circle among its modules (utils/elan.py and utils/annotations.py had one)."""
    modules = {".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (REPO_ROOT / "utils").rglob("*.py")}
    graph = {name: _imported(path) & set(modules) - {name} for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and not seen.add(nxt) and reaches(nxt, goal, seen))
                   for nxt in graph[start])

    circles = sorted(name for name in graph if reaches(name, name, set()))
    assert circles == []
