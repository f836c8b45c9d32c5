"""CAS(ME)^3 part A on look-alikes, and --annotations-only for the official sheets."""
from pathlib import Path

import pandas as pd
import pytest

from feature_extraction.__main__ import main
from feature_extraction.adapters import TreeWarning, discover_videos, load_annotations
from tests.xlsx_lookalikes import table, write_casme2_xlsx, write_casme3_xls, write_samm_xlsx
from utils.annotations import with_name_columns
from utils.config import load_config


CASME3_ROWS = table([("spNO.1", "spNO.1_a", 120, 131, 160, 1, "4+L10"),
                     ("spNO.1", "spNO.1_a", 300, 305, 311, 2, "12"),
                     ("spNO.1", "spNO.1_b", 7, 0, 0, 1, "1+2"),  # apex and offset missing (0)
                     ("spNO.10", "spNO.10_k", 1, 4, 9, 2, "R14")])


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_casme3_xls_lookalike_reproduces_its_table(tmp_path):
    path = write_casme3_xls(tmp_path / "CAS(ME)3_part_A_v2.xls", CASME3_ROWS)
    pd.testing.assert_frame_equal(load_annotations("cas(me)^3", path, videos=[]), CASME3_ROWS)


def test_casme3_discovery_matches_letters_case_insensitively(tmp_path):
    for n in (10, 2, 1, 100):  # 1-based, no padding: sorted by the integer
        touch(tmp_path / "spNO.1" / "A" / "color" / f"{n}.jpg")
    touch(tmp_path / "spNO.1" / "b" / "color" / "1.jpg")
    touch(tmp_path / "spNO.1" / "b" / "depth" / "1.png")  # other streams are not read
    (tmp_path / "spNO.1" / "c").mkdir()  # no color/
    touch(tmp_path / "notes" / "x.jpg")
    videos, problems = discover_videos("cas(me)^3", tmp_path)
    assert [(v.subject, v.video_name) for v in videos] == [("spNO.1", "spNO.1_a"), ("spNO.1", "spNO.1_b")]
    assert [p.name for p in videos[0].frame_paths] == ["1.jpg", "2.jpg", "10.jpg", "100.jpg"]
    assert len(problems) == 2 and "spNO.1/c: no color/ folder" in problems[1] and "notes: not a CAS" in problems[0]
    # a misnamed entry is a warning (exit 0 unless --strict), as in the other layouts; a video without frames is not
    assert isinstance(problems[0], TreeWarning) and not isinstance(problems[1], TreeWarning)
    # The sheet's 'A' / 'a' and the disk's 'A' all name spNO.1_a, so frames and rows meet.
    path = write_casme3_xls(tmp_path / "anno.xls", CASME3_ROWS)
    got = load_annotations("cas(me)^3", path, videos)
    assert set(got["video_name"]) & {v.video_name for v in videos} == {"spNO.1_a", "spNO.1_b"}


def write_xls(path: Path, sheets: dict[str, list[list]]) -> Path:
    import xlwt

    book = xlwt.Workbook()
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, cells in enumerate(rows):
            for c, value in enumerate(cells):
                sheet.write(r, c, value)
    book.save(str(path))
    return path


HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"]
GOOD = ["spNO.1", "a", "1", "2", "3", "4", "Micro-expression", "negative"]


@pytest.mark.parametrize("column, value, message", [
    (2, "12a", "row 2: Onset '12a' is not a whole frame number"),
    (4, "", "row 2: Offset (empty) is not a whole frame number"),
    (6, "expression", "row 2: Expression type 'expression' is neither"),
    (0, "sp1", "row 2: Subject 'sp1' is not spNO.<n>"),
    (1, "a1", "row 2: Filename 'a1' is not a letter"),
])
def test_casme3_errors_name_file_row_and_column(tmp_path, column, value, message):
    cells = list(GOOD)
    cells[column] = value
    path = write_xls(tmp_path / "bad.xls", {"AU+Emotion": [HEADER, cells]})
    with pytest.raises(ValueError) as error:
        load_annotations("cas(me)^3", path, videos=[])
    assert str(path) in str(error.value) and message in str(error.value) and "\n" not in str(error.value)


def test_casme3_sheet_and_header_must_be_there(tmp_path):
    path = write_xls(tmp_path / "bad.xls", {"Sheet1": [HEADER, GOOD]})
    with pytest.raises(ValueError, match=r"bad.xls: no sheet 'AU\+Emotion' \(sheets: Sheet1\)"):
        load_annotations("cas(me)^3", path, videos=[])
    path = write_xls(tmp_path / "nohead.xls", {"AU+Emotion": [GOOD]})
    with pytest.raises(ValueError, match="nohead.xls: sheet 'AU\\+Emotion' has no header row"):
        load_annotations("cas(me)^3", path, videos=[])


def test_casme3_config_section():
    config = load_config("cas(me)^3")
    casme2 = load_config("cas(me)^2")
    differing = {k for k in casme2.values if config[k] != casme2[k]}
    assert differing == {"segment_feat_root", "anno_csv", "subject_list"}
    assert config["adjacency"] is None  # built from its own table, not the CAS(ME)^2 matrix
    assert all(s.startswith("spNO.") for s in config["subject_list"])


# ----------------------------------------------------------------------------- --annotations-only


def read_written(out: Path) -> pd.DataFrame:
    return with_name_columns(pd.read_csv(out / "annotations.csv", dtype={"subject": str, "video_name": str, "au": str},
                                         keep_default_na=False))


def test_annotations_only_casme2_and_casme3(tmp_path, capsys):
    rows = table([("casme_015", "casme_015_0101", 1, 2, 3, 1, "4"), ("casme_016", "casme_016_0502", 5, 9, 0, 2, "12")])
    sheet = write_casme2_xlsx(tmp_path / "CAS(ME)^2code_final.xlsx", rows)
    assert main(["--layout", "cas(me)^2", "--anno", str(sheet), "--out", str(tmp_path / "o2"),
                 "--annotations-only"]) == 0
    pd.testing.assert_frame_equal(read_written(tmp_path / "o2"), rows)
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["annotations.csv"]  # nothing else written

    sheet = write_casme3_xls(tmp_path / "CAS(ME)3_part_A_v2.xls", CASME3_ROWS)
    assert main(["--layout", "cas(me)^3", "--anno", str(sheet), "--out", str(tmp_path / "o3"),
                 "--annotations-only"]) == 0
    pd.testing.assert_frame_equal(read_written(tmp_path / "o3"), CASME3_ROWS)
    assert "subject_list: [spNO.1, spNO.10]" in capsys.readouterr().out


def test_annotations_only_samm_says_offsets_are_not_clipped(tmp_path, capsys):
    rows = table([("samm_006", "samm_006_1", 70, 80, 92, 1, "4"), ("samm_007", "samm_007_3", 0, -1, 49, 2, "12")])
    sheet = write_samm_xlsx(tmp_path / "SAMM.xlsx", rows, {"samm_006_1": 1000, "samm_007_3": 50}, fractional_every=2)
    assert main(["--layout", "samm", "--anno", str(sheet), "--out", str(tmp_path / "o"), "--annotations-only"]) == 0
    written = read_written(tmp_path / "o")
    # 49 is samm_007_3's last frame, which the look-alike writes 3 frames past the video: unclipped without videos.
    assert written["end_frame"].tolist() == [92, 52]
    pd.testing.assert_frame_equal(written.assign(end_frame=[92, 49]), rows)
    err = capsys.readouterr().err
    assert "1 of 2 rows have fractional frame numbers" in err
    assert "offsets past a video's end are not clipped" in err


def test_annotations_only_needs_anno_and_raw_root_is_needed_otherwise(tmp_path, capsys):
    assert main(["--layout", "samm", "--out", str(tmp_path / "o"), "--annotations-only"]) == 2
    assert "--annotations-only needs --anno" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["--layout", "samm", "--anno", "x.xlsx", "--out", str(tmp_path / "o")])
    assert stop.value.code == 2 and "--raw-root" in capsys.readouterr().err
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"no zip")
    assert main(["--layout", "samm", "--anno", str(bad), "--out", str(tmp_path / "o"), "--annotations-only"]) == 2
    assert "bad.xlsx: cannot read as a spreadsheet" in capsys.readouterr().err
