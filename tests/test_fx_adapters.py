"""Dataset adapters: discovery on tiny folder trees, annotation sheets -> the paper's tables."""
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from core_fixtures import touch
from feature_extraction.adapters import (VideoSource, count_frames, discover_videos, iter_frames,
                                         load_annotations)
from tests.xlsx_lookalikes import CASME2_FOLDERS, table, write_casme2_xlsx, write_samm_xlsx
from utils.annotations import with_name_columns


def write_image(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((6, 8, 3), value, np.uint8))
    return path


def read_shared(shared_data: Path, name: str) -> pd.DataFrame:
    return with_name_columns(pd.read_csv(shared_data / name, dtype={"au": str}, keep_default_na=False))


# ----------------------------------------------------------------------------- discovery


def test_casme2_discovery_orders_frames_by_integer_and_trusts_folder_prefix(tmp_path):
    rawpic = tmp_path / "rawpic"
    numbers = [1000, 2, 99, 100, 999, 10, 1]
    for n in numbers:
        touch(rawpic / "s15" / "15_0101disgustingteeth" / f"img{n:03d}.jpg")
    touch(rawpic / "s19" / "23_0502funnyerrors" / "img001.jpg")  # misplaced, belongs to subject 23
    touch(rawpic / "s19" / "19_0401girlcrashing" / "img1.jpg")
    touch(rawpic / "s15" / "15_0101disgustingteeth" / "Thumbs.db")  # not an image: ignored

    for root in (tmp_path, rawpic):  # the folder holding rawpic/, or rawpic itself
        videos, problems = discover_videos("cas(me)^2", root)
        assert problems == []
        assert [(v.subject, v.video_name) for v in videos] == [
            ("casme_015", "casme_015_0101"), ("casme_019", "casme_019_0401"), ("casme_023", "casme_023_0502")]
        assert [p.name for p in videos[0].frame_paths] == [
            "img001.jpg", "img002.jpg", "img010.jpg", "img099.jpg", "img100.jpg", "img999.jpg", "img1000.jpg"]
        assert videos[2].source_path == rawpic / "s19" / "23_0502funnyerrors"
        assert count_frames(videos[0]) == 7


def test_casme2_discovery_reports_and_skips_bad_folders(tmp_path):
    rawpic = tmp_path / "rawpic"
    touch(rawpic / "s15" / "15_0101disgustingteeth" / "img1.jpg")
    (rawpic / "s15" / "15_0102eatingworms").mkdir(parents=True)  # empty
    touch(rawpic / "s15" / "15_0999mystery" / "img1.jpg")  # unknown code
    touch(rawpic / "s15" / "notes" / "img1.jpg")  # not <SS>_<CCCC><name>
    touch(rawpic / "s16" / "16_0401girlcrashing" / "frame.jpg")  # no frame number
    touch(rawpic / "extra" / "x.jpg")  # not s<SS>
    touch(rawpic / ".hidden")  # ignored

    videos, problems = discover_videos("cas(me)^2", tmp_path)
    assert [v.video_name for v in videos] == ["casme_015_0101"]
    assert len(problems) == 5
    for fragment in ("15_0102eatingworms: no frame images", "15_0999mystery: unknown CAS(ME)^2 code 0999",
                     "s15/notes: not a CAS(ME)^2 video folder", "16_0401girlcrashing: cannot read a frame number",
                     "rawpic/extra: not a CAS(ME)^2 subject folder"):
        assert sum(fragment in problem for problem in problems) == 1, fragment
    assert all("\n" not in problem for problem in problems)


def test_duplicate_video_names_keep_the_first_and_report_the_second(tmp_path):
    rawpic = tmp_path / "rawpic"
    touch(rawpic / "s19" / "23_0502funnyerrors" / "img1.jpg")
    touch(rawpic / "s23" / "23_0502funnyerrors" / "img1.jpg")
    videos, problems = discover_videos("cas(me)^2", tmp_path)
    assert [v.source_path for v in videos] == [rawpic / "s19" / "23_0502funnyerrors"]
    assert len(problems) == 1 and "s23/23_0502funnyerrors" in problems[0] and "already found" in problems[0]


def test_samm_discovery_keeps_every_8th_frame_from_frame_1(tmp_path):
    longvideos = tmp_path / "SAMM_longvideos"
    for n in range(1, 21):
        touch(longvideos / "006_1" / f"006_1_{n:04d}.jpg")
    for n in (9998, 10000, 10001, 10002, 9999, 9997, 9996, 9995, 9994, 9993):  # 5 digits sort after 4
        touch(longvideos / "011_2" / f"011_2_{n}.jpg")
    touch(longvideos / "006_2" / "readme.txt")  # no images
    touch(longvideos / "SAMM_info.txt")  # not a video folder

    for root in (tmp_path, longvideos):
        videos, problems = discover_videos("samm", root)
        assert [(v.subject, v.video_name) for v in videos] == [("samm_006", "samm_006_1"),
                                                               ("samm_011", "samm_011_2")]
        # 25-fps frame i is original frame 8i+1: 1, 9, 17
        assert [p.name for p in videos[0].frame_paths] == ["006_1_0001.jpg", "006_1_0009.jpg", "006_1_0017.jpg"]
        # 011_2 starts at 9993: files 1, 9, ... are missing but keep their rows (25-fps frame 1250 is 10001).
        assert len(videos[1].frame_paths) == 1251
        assert [p.name for p in videos[1].frame_paths[-2:]] == ["011_2_9993.jpg", "011_2_10001.jpg"]
        assert count_frames(videos[0]) == 3
        assert len(problems) == 3
        assert any("011_2: frame numbers are not 1..N without gaps" in p for p in problems)
        assert any("006_2: no frame images" in p for p in problems)
        assert any("SAMM_info.txt: not a SAMM-LV video folder" in p for p in problems)


def test_samm_subsampling_goes_by_frame_number_and_reports_gaps(tmp_path):
    longvideos = tmp_path / "SAMM_longvideos"
    gap = [n for n in range(1, 27) if n not in (5, 9, 10)]  # 9 = 8*1+1 is missing, 5 and 10 are not kept anyway
    late = list(range(3, 21))  # does not start at 1: 25-fps frame 0 (file 1) is missing
    for n in gap:
        write_image(longvideos / "006_1" / f"006_1_{n:04d}.jpg", n)
    for n in late:
        touch(longvideos / "006_2" / f"006_2_{n:04d}.jpg")
    for n in range(1, 18):
        touch(longvideos / "006_3" / f"006_3_{n:04d}.jpg")

    videos, problems = discover_videos("samm", tmp_path)
    by_name = {v.video_name: v for v in videos}
    # Kept by number, not by position: by position the gap video would keep files 1, 11, 19 (every 8th file).
    assert [p.name for p in by_name["samm_006_1"].frame_paths] == ["006_1_0001.jpg", "006_1_0009.jpg",
                                                                  "006_1_0017.jpg", "006_1_0025.jpg"]
    assert not by_name["samm_006_1"].frame_paths[1].exists()  # stands in for the missing file
    assert [p.name for p in by_name["samm_006_2"].frame_paths] == ["006_2_0001.jpg", "006_2_0009.jpg",
                                                                  "006_2_0017.jpg"]
    assert [p.name for p in by_name["samm_006_3"].frame_paths] == ["006_3_0001.jpg", "006_3_0009.jpg",
                                                                  "006_3_0017.jpg"]
    assert len(problems) == 2  # 006_3 (1..17, no gaps) is regular
    gap_line = next(p for p in problems if "006_1" in p)
    assert gap_line.startswith(f"{longvideos / '006_1'}: frame numbers are not 1..N without gaps")
    assert "23 files numbered 1..26" in gap_line and "1 of those 4 files missing" in gap_line
    late_line = next(p for p in problems if "006_2" in p)
    assert "18 files numbered 3..20" in late_line and "1 of those 3 files missing" in late_line

    # The missing 25-fps frame reads as unreadable, so the later frames keep their rows.
    values = [None if image is None else int(image[0, 0, 0]) for _, image in iter_frames(by_name["samm_006_1"])]
    assert values == [1, None, 17, 25]


def test_generic_frames_and_video_file(tmp_path):
    for n, value in ((10, 30), (2, 20), (1, 10)):
        write_image(tmp_path / "alice" / "take1" / f"frame_{n}.png", value)
    video = tmp_path / "bob" / "clip.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    assert writer.isOpened()
    for value in (0, 60, 120, 180, 240):
        writer.write(np.full((24, 32, 3), value, np.uint8))
    writer.release()
    touch(tmp_path / "bob" / "notes.txt")
    (tmp_path / "carol" / "empty").mkdir(parents=True)

    videos, problems = discover_videos("generic", tmp_path)
    assert [(v.subject, v.video_name) for v in videos] == [("alice", "take1"), ("bob", "clip")]
    frames, clip = videos
    assert [p.name for p in frames.frame_paths] == ["frame_1.png", "frame_2.png", "frame_10.png"]
    assert clip.video_file == video and clip.frame_paths == () and clip.source_path == video
    assert len(problems) == 2 and any("notes.txt" in p for p in problems) and any("empty" in p for p in problems)

    decoded = list(iter_frames(frames))
    assert [label for label, _ in decoded] == [str(p) for p in frames.frame_paths]
    assert [int(image[0, 0, 0]) for _, image in decoded] == [10, 20, 30]

    decoded = list(iter_frames(clip))
    assert [label for label, _ in decoded] == [f"{video}#{i}" for i in range(5)]
    assert all(image.shape == (24, 32, 3) and image.dtype == np.uint8 for _, image in decoded)
    means = [float(image.mean()) for _, image in decoded]
    assert means == sorted(means) and abs(means[2] - 120) < 10  # order kept (MJPG is lossy)
    assert count_frames(clip) == 5

    every_other = VideoSource("bob", "clip", video_file=video, frame_step=2)
    assert [label for label, _ in iter_frames(every_other)] == [f"{video}#{i}" for i in (0, 2, 4)]
    assert count_frames(every_other) == 3


def test_unreadable_frames_give_none_and_unopenable_video_raises(tmp_path):
    good = write_image(tmp_path / "a" / "v" / "1.png", 5)
    bad = tmp_path / "a" / "v" / "2.png"
    bad.write_bytes(b"not an image")
    source = VideoSource("a", "v", (good, bad))
    images = [image for _, image in iter_frames(source)]
    assert images[0] is not None and images[1] is None
    broken = tmp_path / "a" / "broken.mp4"
    broken.write_bytes(b"nothing")
    with pytest.raises(ValueError, match="broken.mp4"):
        list(iter_frames(VideoSource("a", "broken", video_file=broken)))


def test_missing_or_empty_root_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        discover_videos("samm", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        discover_videos("generic", tmp_path / "empty")
    touch(tmp_path / "junk" / "s15" / "bad" / "img1.jpg")
    with pytest.raises(ValueError, match="no cas\\(me\\)\\^2 videos found"):
        discover_videos("cas(me)^2", tmp_path / "junk")
    with pytest.raises(ValueError, match="unknown dataset"):
        discover_videos("casme3", tmp_path)


# ----------------------------------------------------------------------------- annotations, hand-computed


def test_casme2_small_sheet(tmp_path):
    path = tmp_path / "code.xlsx"
    book = openpyxl.Workbook()
    data = book.active
    data.title = "whatever"
    data.append([1, "disgust1_1", 557, 572, 608, "4+10+14", "others", "macro-expression", "x"])
    data.append([3, "anger2_2", 10, 0, 30, 4, "x", "Micro-expression ", "y"])
    data.append([2, "happy1_1", 100, 120, 0, "12", "x", "macro-expression", "y"])
    rule1 = book.create_sheet("rule A")
    for folder, participant in ((15, 1), (16, 2), (19, 3)):
        rule1.append([folder, f"s{folder}", participant])
    rule2 = book.create_sheet("rule B")
    for code, name in ((101, "disgust1"), ("0402", "anger2"), ("0502", "happy1")):
        rule2.append([code, name])
    book.save(path)

    got = load_annotations("cas(me)^2", path, videos=[])
    expected = table([("casme_015", "casme_015_0101", 557, 572, 608, 1, "4+10+14"),
                      ("casme_019", "casme_019_0402", 10, 0, 30, 2, "4"),
                      ("casme_016", "casme_016_0502", 100, 120, 0, 1, "12")])
    pd.testing.assert_frame_equal(got, expected)


def write_small_samm(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in range(9):
        sheet.append([f"preamble {line}"] if line % 2 == 0 else [])
    sheet.append(["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
                  "Action Units", "Notes"])
    sheet.append([6, "006_1_1", 1, 561, 641, 744, 5, "Macro", "4(B/C)+7B", "note 4+7"])
    sheet.append([6, "006_1_2", 1, 0, -1, 16, 17, "Micro - 1/2", "12+15 ", None])
    sheet.append([7, "007_3_1", 2, 8, 9, 100000, 0, "Micro - 1/2", 17, "long"])
    sheet.append([None] * 10)
    book.save(path)
    return path


def test_samm_small_sheet_hand_computed(tmp_path):
    path = write_small_samm(tmp_path / "samm.xlsx")
    assert pd.read_excel(path, header=None, engine="openpyxl").iloc[9, 1] == "Filename"  # header at row index 9
    got = load_annotations("samm", path, videos=[], frame_counts={"samm_007_3": 50})
    # (561-1)//8 = 70, (641-1)//8 = 80, (744-1)//8 = 92; 0 and -1 kept, (16-1)//8 = 1;
    # (8-1)//8 = 0, (9-1)//8 = 1, 100000 is past the 50-frame video -> 49.
    expected = table([("samm_006", "samm_006_1", 70, 80, 92, 1, "4(B/C)+7B"),
                      ("samm_006", "samm_006_1", 0, -1, 1, 2, "12+15 "),
                      ("samm_007", "samm_007_3", 0, 1, 49, 2, "17")])
    pd.testing.assert_frame_equal(got, expected)

    # Without frame_counts the counts of the discovered videos clip; unknown videos are not clipped.
    video = VideoSource("samm_007", "samm_007_3", tuple(Path(f"f{i}.jpg") for i in range(30)))
    assert load_annotations("samm", path, videos=[video])["end_frame"].tolist() == [92, 1, 29]
    assert load_annotations("samm", path, videos=[])["end_frame"].tolist() == [92, 1, (100000 - 1) // 8]


def test_generic_csv(tmp_path):
    assert load_annotations("generic", None, videos=[]).columns.tolist() == [
        "subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx", "au"]
    assert len(load_annotations("generic", None, videos=[])) == 0
    path = tmp_path / "anno.csv"
    path.write_text("video_name,subject,start_frame,apex_frame,end_frame,type_idx,au,extra\n"
                    "take1,alice,3,5,9,2,4+7,x\n"
                    "clip,bob,0,10,20,1,,y\n")
    got = load_annotations("generic", path, videos=[VideoSource("alice", "take1", (Path("1.png"),))])
    pd.testing.assert_frame_equal(got, table([("alice", "take1", 3, 5, 9, 2, "4+7"),
                                              ("bob", "clip", 0, 10, 20, 1, "")]))


@pytest.mark.parametrize("text, message", [
    ("subject,video_name,start_frame,apex_frame,end_frame,type_idx\n", "missing columns au"),
    ("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\na,v,1,2.5,3,1,4\n",
     "row 2: apex_frame '2.5' is not an integer"),
    ("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\na,v,1,2,3,7,4\n", "type_idx 7"),
    ("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\n,v,1,2,3,1,4\n", "subject is empty"),
    ("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\nbob,take1,1,2,3,1,4\n",
     "video take1 in subject bob, but its frames are in subject alice"),
])
def test_generic_csv_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_annotations("generic", path, videos=[VideoSource("alice", "take1", (Path("1.png"),))])
    assert str(path) in str(error.value) and message in str(error.value) and "\n" not in str(error.value)


def test_annotation_file_errors(tmp_path):
    with pytest.raises(ValueError, match="annotation file not found"):
        load_annotations("samm", tmp_path / "missing.xlsx", videos=[])
    with pytest.raises(ValueError, match="annotation file is required"):
        load_annotations("cas(me)^2", None, videos=[])
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"this is no zip")
    with pytest.raises(ValueError, match="garbage.xlsx: cannot read as a spreadsheet"):
        load_annotations("samm", garbage, videos=[])

    rows = table([("casme_015", "casme_015_0101", 1, 2, 3, 1, "4")])
    path = write_casme2_xlsx(tmp_path / "cas.xlsx", rows)
    book = openpyxl.load_workbook(path)
    book.worksheets[0]["B1"] = "sadness9_1"
    book.save(path)
    with pytest.raises(ValueError, match="cas.xlsx: sheet 0 row 1: clip 'sadness9_1' has no code"):
        load_annotations("cas(me)^2", path, videos=[])
    book.worksheets[0]["B1"] = "disgust1_1"
    book.worksheets[0]["H1"] = "expression"
    book.save(path)
    with pytest.raises(ValueError, match="type 'expression'"):
        load_annotations("cas(me)^2", path, videos=[])
    book.worksheets[0]["H1"] = "macro-expression"
    book.worksheets[0].delete_cols(9)  # FORMATS.md: 9 columns; without the self-report there are 8
    book.save(path)
    with pytest.raises(ValueError, match="cas.xlsx: sheet 0 has 8 columns, expected 9"):
        load_annotations("cas(me)^2", path, videos=[])
    book.worksheets[0]["I1"] = "happy"
    book.worksheets[0]["D1"] = "soon"
    book.save(path)
    with pytest.raises(ValueError, match="apex 'soon' is not a whole frame number"):
        load_annotations("cas(me)^2", path, videos=[])
    del book["naming rule2"]
    book.save(path)
    with pytest.raises(ValueError, match="expected 3 sheets"):
        load_annotations("cas(me)^2", path, videos=[])

    samm = write_small_samm(tmp_path / "samm.xlsx")
    book = openpyxl.load_workbook(samm)
    book.active["D10"] = "Start"
    book.save(samm)
    with pytest.raises(ValueError, match="samm.xlsx: sheet 0 has no header row"):
        load_annotations("samm", samm, videos=[])


# ----------------------------------------------------------------------------- the paper's tables, row for row


def test_casme2_lookalike_reproduces_the_paper_table(tmp_path, shared_data):
    expected = read_shared(shared_data, "casme2_annotations.csv")
    assert len(expected) == 357
    # the quirks the look-alike must carry through
    assert (expected["end_frame"] == 0).sum() == 44 and (expected["apex_frame"] == 0).sum() == 1
    assert ((expected["end_frame"] < expected["apex_frame"]) & (expected["end_frame"] > 0)).sum() == 3
    assert expected["subject"].nunique() == len(CASME2_FOLDERS)
    path = write_casme2_xlsx(tmp_path / "CAS(ME)^2code_final.xlsx", expected,
                             sheet_names=("CASFEcode", "rule1 naming", "naming rule 2"))
    pd.testing.assert_frame_equal(load_annotations("cas(me)^2", path, videos=[]), expected)
    path = write_casme2_xlsx(tmp_path / "renamed.xlsx", expected, headers=False, numeric_codes=True)
    pd.testing.assert_frame_equal(load_annotations("cas(me)^2", path, videos=[]), expected)


def test_samm_lookalike_reproduces_the_paper_table(tmp_path, shared_data):
    expected = read_shared(shared_data, "samm_lv_25fps_annotations.csv")
    assert len(expected) == 502
    assert (expected["apex_frame"] == -1).sum() == 6 and (expected["start_frame"] == 0).sum() == 12
    assert expected["au"].str.endswith(" ").any()  # trailing spaces are part of the paper's AU strings
    last = expected[["start_frame", "apex_frame", "end_frame"]].max(axis=1).groupby(expected["video_name"]).max()
    frame_counts = (last + 1).to_dict()
    path = write_samm_xlsx(tmp_path / "SAMM_LongVideos_V3_Release.xlsx", expected, frame_counts)
    clipped = (expected["end_frame"] == expected["video_name"].map(frame_counts) - 1).sum()
    assert clipped >= 100  # most videos end on an offset written past the video
    got = load_annotations("samm", path, videos=[], frame_counts=frame_counts)
    pd.testing.assert_frame_equal(got, expected)
    # no clipping without the frame counts: the look-alike's past-the-end offsets show
    unclipped = load_annotations("samm", path, videos=[], frame_counts={})
    assert (unclipped["end_frame"] - expected["end_frame"]).value_counts().to_dict() == {0: 502 - clipped, 3: clipped}


# ----------------------------------------------------------------------------- SAMM-LV fractional frame numbers


def test_samm_fractional_frames_hand_computed(tmp_path):
    path = tmp_path / "samm.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    for _ in range(9):
        sheet.append([])
    sheet.append(["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
                  "Action Units", "Notes"])
    # Values of the V3 release sheet and of the paper's 25-fps table: 566.4 -> 70, 647.6 -> 80, 743.2 -> 92.
    sheet.append([6, "006_1_1", 1, 566.4000000000001, 647.6, 743.2, 5, "Macro", "4", None])
    sheet.append([6, "006_1_2", 1, 0, -1, 16, 17, "Micro - 1/2", "12", None])  # whole numbers, 0 and -1 kept
    sheet.append([6, "006_1_3", 1, "9.9", "10", 17.0, 17, "Micro - 1/2", "12", None])  # (9.9-1)//8 = 1
    book.save(path)
    notices = []
    got = load_annotations("samm", path, videos=[], frame_counts={}, notices=notices)
    assert got[["start_frame", "apex_frame", "end_frame"]].to_numpy().tolist() == [[70, 80, 92], [0, -1, 1],
                                                                                    [1, 1, 2]]
    assert notices == [f"{path}: 2 of 3 rows have fractional frame numbers; converted with (f - 1) // 8 "
                       "on the real value, as the paper's table"]
    notices.clear()
    load_annotations("samm", write_small_samm(tmp_path / "whole.xlsx"), videos=[], notices=notices)
    assert notices == []  # whole numbers only: nothing to say


@pytest.mark.parametrize("cell, message", [("soon", "Apex 'soon' is not a frame number"),
                                           (0.5, "Apex 0.5 is not a frame number"),
                                           (-3, "Apex -3 is not a frame number")])
def test_samm_unreadable_frame_names_file_row_and_column(tmp_path, cell, message):
    path = write_small_samm(tmp_path / "samm.xlsx")
    book = openpyxl.load_workbook(path)
    book.active["E12"] = cell
    book.save(path)
    with pytest.raises(ValueError) as error:
        load_annotations("samm", path, videos=[])
    assert f"{path}: row 12: {message}" in str(error.value) and "\n" not in str(error.value)


def test_samm_lookalike_with_fractional_frames_reproduces_the_paper_table(tmp_path, shared_data):
    expected = read_shared(shared_data, "samm_lv_25fps_annotations.csv")
    last = expected[["start_frame", "apex_frame", "end_frame"]].max(axis=1).groupby(expected["video_name"]).max()
    frame_counts = (last + 1).to_dict()
    path = write_samm_xlsx(tmp_path / "SAMM_LongVideos_V3_Release.xlsx", expected, frame_counts, fractional_every=3)
    notices = []
    got = load_annotations("samm", path, videos=[], frame_counts=frame_counts, notices=notices)
    pd.testing.assert_frame_equal(got, expected)
    assert notices == [f"{path}: 168 of 502 rows have fractional frame numbers; converted with (f - 1) // 8 "
                       "on the real value, as the paper's table"]
