"""Names from sheets and folders never make paths: every writer that builds a path from a subject or video name
refuses one that is not a plain single path component, in one line naming where the name came from, and writes
nothing (above all nothing outside the folder it was given)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.errors import UserError
from utils.names import check_path_name

ESCAPING = "../../../x"


def _files(root) -> set:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.fixture
def deep(tmp_path):
    """``tmp_path/a/b/c``: a writer's folder deep enough that ``../../../x`` from it stays inside tmp_path."""
    folder = tmp_path / "a" / "b" / "c"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("name", ["casme_016_0101", "sess.2024.05", "001", "a b#1?50%", "..x", "x..", "é"])
def test_plain_names_pass(name):
    assert check_path_name(name, "sheet.csv") == name


@pytest.mark.parametrize("name", ["", ".", "..", ESCAPING, "a/b", "/abs", "a\\b", "..\\x", "a\0b", "a\nb", 7.0])
def test_other_names_are_refused_in_one_line_naming_the_source(name):
    with pytest.raises(UserError) as refused:
        check_path_name(name, "sheet.xlsx", "video name")
    message = str(refused.value)
    assert message.startswith(f"sheet.xlsx: video name {name!r} ") and "\n" not in message


def test_synthetic_features_refuse_an_escaping_subject_before_writing(tmp_path, deep, capsys):
    from dataset.synthetic_features import main

    sheet = tmp_path / "anno.csv"
    pd.DataFrame({"subject": ["s1", ESCAPING], "video_name": ["s1_a", "x_a"], "start_frame": [10, 10],
                  "apex_frame": [12, 12], "end_frame": [20, 20], "type_idx": [1, 2], "au": "4"}).to_csv(sheet, index=False)
    before = _files(tmp_path)
    assert main(["--anno", str(sheet), "--out", str(deep / "out"), "--min-rows", "300"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.splitlines() == [error] and str(sheet) in error and repr(ESCAPING) in error
    assert _files(tmp_path) == before


def _rows(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((n, 12, 2), np.float32), np.zeros((n, 8), np.int32)


@pytest.mark.parametrize("subject, video", [(ESCAPING, "v"), ("s", ESCAPING), ("s", "..")])
def test_the_segment_writer_refuses_an_escaping_name(tmp_path, deep, subject, video):
    from feature_extraction.segments import remove_stale_segments, write_video_segments

    before = _files(tmp_path)
    with pytest.raises(UserError, match=rf"^{deep / 'out'}: (subject|video) name"):
        write_video_segments(deep / "out", subject, video, *_rows())
    with pytest.raises(UserError, match=rf"^{deep / 'out'}: (subject|video) name"):
        remove_stale_segments(deep / "out", subject, video, keep=())
    assert _files(tmp_path) == before


def test_a_removal_never_reaches_outside(tmp_path, deep):
    """remove_stale_segments deletes a video's window files: with ``..`` as the subject it would reach the
    folder beside the archive."""
    from feature_extraction.segments import remove_stale_segments

    beside = deep / "train" / "v_0000.npz"
    beside.parent.mkdir()
    beside.write_bytes(b"someone else's file")
    with pytest.raises(UserError):
        remove_stale_segments(deep / "out", "..", "v", keep=())
    assert beside.is_file()


def test_the_extraction_cache_path_refuses_an_escaping_name(deep):
    from feature_extraction.cache import cache_path

    assert cache_path(deep, "s", "v") == deep / "cache" / "s" / "v.npz"
    for subject, video in ((ESCAPING, "v"), ("s", ESCAPING)):
        with pytest.raises(UserError, match="name '../../../x'"):
            cache_path(deep, subject, video)


def test_extraction_skips_and_reports_a_video_folder_whose_name_is_no_file_name(tmp_path):
    """A folder name cannot hold '/' (and one starting with '.' is hidden, never discovered), but it can hold
    '\\', a separator where the features may travel."""
    import cv2

    from feature_extraction.adapters import discover_videos

    for video in ("v1", "x\\..\\..\\y"):
        folder = tmp_path / "raw" / "s1" / video
        folder.mkdir(parents=True)
        for number in (1, 2, 3):
            cv2.imwrite(str(folder / f"{number}.jpg"), np.zeros((8, 8, 3), np.uint8))
    videos, problems = discover_videos("generic", tmp_path / "raw")
    assert [v.video_name for v in videos] == ["v1"]
    [problem] = problems
    assert problem.startswith(f"{tmp_path / 'raw' / 's1' / 'x'}") and "video name 'x\\\\..\\\\..\\\\y'" in problem
    assert problem.endswith("skipped") and "\n" not in problem


def test_spot_output_folders_refuse_an_escaping_name(deep):
    from utils.spot_outputs import output_folders

    with pytest.raises(UserError, match=r"^/in/take: input name '\.\./\.\./\.\./x'"):
        output_folders(["/in/take"], [ESCAPING], deep / "out")
    assert not (deep / "out").exists()


def test_a_run_report_preview_is_not_written_for_an_escaping_name(tmp_path, deep, monkeypatch, capsys):
    from types import SimpleNamespace

    import cv2

    from feature_extraction.adapters import VideoSource
    from pipeline import report
    from utils.layout import RunLayout

    frames = []
    for number in (1, 2, 3):
        frames.append(tmp_path / f"{number}.jpg")
        cv2.imwrite(str(frames[-1]), np.full((64, 64, 3), 40 * number, np.uint8))
    monkeypatch.setattr(report, "_sources", lambda run, seed: (
        {ESCAPING: (VideoSource("s", ESCAPING, tuple(frames)), "fingerprint")}, 30.0))
    run = SimpleNamespace(output=lambda seed: RunLayout(deep))
    before = _files(tmp_path)
    links, notes = report._write_previews(run, "-", {ESCAPING: "key"})
    assert links == {} and _files(tmp_path) == before
    assert len(notes) == 1 and notes[0].startswith(f"{deep / 'previews'}: video name '../../../x'")
    assert capsys.readouterr().out.strip() == notes[0]


def test_the_run_timelines_refuse_an_escaping_video_name(tmp_path, deep):
    """A timeline is named after the video names the segment files store (a foreign archive's too)."""
    import json

    from utils.layout import FoldLayout
    from utils.nms import NMS_COLUMNS
    from utils.plots import plot_fold_timelines

    layout = FoldLayout.of(deep, "s")
    layout.root.mkdir()
    layout.eval_info.write_text(json.dumps({"selected_epoch": 3, "matching": "published"}))
    layout.nms_csv(3).parent.mkdir()
    layout.nms_csv(3).write_text(",".join(NMS_COLUMNS) + "\n")  # the selected epoch kept nothing
    np.savez(layout.selected_scores, **{f"{ESCAPING}:{t}": np.zeros(300, np.float32) for t in ("micro", "macro")})
    truth = pd.DataFrame(columns=["subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx", "au"])
    before = _files(tmp_path)
    with pytest.raises(UserError, match=rf"^{layout.selected_scores}: video name '\.\./\.\./\.\./x'"):
        plot_fold_timelines(deep, "s", truth)
    assert _files(tmp_path) == before
