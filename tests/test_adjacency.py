"""AU co-occurrence adjacency (METHOD.md section 7): utils/make_coc_matrix.py and model/adjacency.py."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core_fixtures import call_main
from model.adjacency import load_adjacency
from utils.errors import UserError
from utils.make_coc_matrix import build_adjacency_file, cooccurrence_matrix

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "utils" / "make_coc_matrix.py"
# Published mapping, section 7
PUBLISHED = {"1": (0, 1, 4, 5), "2": (2, 3), "12": (8, 10), "14": (8, 10), "25": (9, 11), "26": (9, 11)}
ROW_8 = [0.004484, 0.004484, 0.008969, 0.008969, 0.004484, 0.004484, 0, 0, 0.793722, 0.008969, 0.152466, 0.008969]
ROW_2 = [0.22549, 0.22549, 0.058824, 0, 0.22549, 0.22549, 0, 0, 0.019608, 0, 0.019608, 0]


def normalised(counts):
    counts = np.asarray(counts, dtype=np.float64)
    return counts / (np.abs(counts).sum(axis=1, keepdims=True) + 1e-6)


def reference(au_strings, mapping=PUBLISHED):
    """Section 7 as a literal loop."""
    counts = np.zeros((12, 12))
    for text in au_strings:
        kept = [au for au in text.split("+") if au in mapping]
        if len(kept) == 1:
            for r in mapping[kept[0]]:
                counts[r][r] += 1
        elif len(kept) >= 2:
            for x in range(len(kept)):
                for y in range(x + 1, len(kept)):
                    for r in mapping[kept[x]]:
                        for s in mapping[kept[y]]:
                            counts[r][s] += 1
                            counts[s][r] += 1
    return normalised(counts)


def write_csv(path, au_values):
    rows = ["subject,video_name,start_frame,apex_frame,end_frame,type_idx,au"]
    rows += [f"s1,s1_01,{10 * i + 1},{10 * i + 3},{10 * i + 6},1,{au}" for i, au in enumerate(au_values)]
    path.write_text("\n".join(rows) + "\n")
    return path


# ---------------------------------------------------------------- hand-computed cases

def test_single_au_adds_to_the_diagonal_of_its_rois():
    matrix = cooccurrence_matrix(["1"])
    assert matrix.shape == (12, 12) and matrix.dtype == np.float32
    expected = np.zeros((12, 12))
    for r in (0, 1, 4, 5):
        expected[r, r] = 1 / (1 + 1e-6)
    np.testing.assert_array_equal(matrix, expected.astype(np.float32))
    assert matrix[0, 0] < 1.0  # the + 1e-6 in the row norm is there


def test_two_aus_add_symmetric_pairs():
    matrix = cooccurrence_matrix(["12+25"])
    counts = np.zeros((12, 12))
    for r in (8, 10):
        for s in (9, 11):
            counts[r, s] += 1
            counts[s, r] += 1
    np.testing.assert_allclose(matrix, normalised(counts), rtol=1e-6, atol=0)
    assert matrix[8, 9] == np.float32(1 / (2 + 1e-6)) and matrix[8, 8] == 0


def test_pair_of_aus_sharing_rois_adds_twice_to_the_shared_diagonal():
    # 12 and 14 both map to (8, 10): r = s = 8 adds 1 to M[8][8] and 1 to M[8][8] again
    matrix = cooccurrence_matrix(["12+14"])
    counts = np.zeros((12, 12))
    counts[8, 8] = counts[8, 10] = counts[10, 8] = counts[10, 10] = 2
    np.testing.assert_allclose(matrix, normalised(counts), rtol=1e-6, atol=0)


def test_three_aus_every_unordered_pair_once():
    strings = ["1+2+26"]
    counts = np.zeros((12, 12))
    for u, v in (("1", "2"), ("1", "26"), ("2", "26")):
        for r in PUBLISHED[u]:
            for s in PUBLISHED[v]:
                counts[r, s] += 1
                counts[s, r] += 1
    np.testing.assert_allclose(cooccurrence_matrix(strings), normalised(counts), rtol=1e-6, atol=0)
    assert counts.diagonal().sum() == 0  # no diagonal entries when two or more AUs are kept


def test_unmapped_aus_are_ignored_single_kept_au_goes_to_the_diagonal():
    np.testing.assert_array_equal(cooccurrence_matrix(["4+12+38"]), cooccurrence_matrix(["12"]))
    assert np.all(cooccurrence_matrix(["4+10", "38", "L4"]) == 0)


def test_exact_string_match():
    # '12' must not match 'L12', 'R12', '12B' or 'AU12'; '1' must not match '12' or '14'
    assert np.all(cooccurrence_matrix(["L12", "R12+L14", "12B", "AU12", "R1B"]) == 0)
    np.testing.assert_array_equal(cooccurrence_matrix(["L12+12"]), cooccurrence_matrix(["12"]))
    matrix = cooccurrence_matrix(["12"])
    assert matrix[0, 0] == 0 and matrix[8, 8] > 0


def test_rows_accumulate_then_normalise():
    strings = ["1", "1+2", "12", "12+14", "25+26", "1+12", "2", "4+25", "14+L2"]
    np.testing.assert_allclose(cooccurrence_matrix(strings), reference(strings), rtol=1e-6, atol=0)
    # every non-empty row sums to count / (count + 1e-6), just below 1
    matrix = cooccurrence_matrix(strings).astype(np.float64)
    sums = matrix.sum(axis=1)
    assert np.all((sums[sums > 0] < 1.0) & (sums[sums > 0] > 1.0 - 1e-5))


def test_random_strings_match_reference():
    rng = np.random.default_rng(0)
    pool = ["1", "2", "4", "12", "14", "25", "26", "L12", "10", "R2"]
    strings = ["+".join(rng.choice(pool, size=rng.integers(1, 5), replace=False)) for _ in range(200)]
    np.testing.assert_allclose(cooccurrence_matrix(strings), reference(strings), rtol=1e-6, atol=1e-9)


def test_custom_mapping():
    mapping = {"1": (2, 3), "4": (0, 1)}
    strings = ["1+4", "1", "12"]
    np.testing.assert_allclose(cooccurrence_matrix(strings, mapping), reference(strings, mapping), rtol=1e-6)


# ---------------------------------------------------------------- the paper's CAS(ME)^2 matrix

def test_casme2_rows_8_and_2_match_the_paper(shared_data, tmp_path):
    matrix = build_adjacency_file(shared_data / "casme2_annotations.csv", tmp_path / "casme2.npy")
    np.testing.assert_allclose(matrix[8], ROW_8, rtol=0, atol=5e-7)
    np.testing.assert_allclose(matrix[2], ROW_2, rtol=0, atol=5e-7)
    saved = np.load(tmp_path / "casme2.npy")
    assert saved.dtype == np.float32 and saved.shape == (12, 12)
    np.testing.assert_array_equal(saved, matrix)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["casme2.npy"]  # no temporary left behind


def run_cli(*args, cwd, process: bool = False):
    """make_coc_matrix.py (``args[0]``) with the other arguments: its main in this process, or as a script."""
    if process:
        return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    from utils.make_coc_matrix import main

    return call_main(main, [str(arg) for arg in args[1:]], cwd)


def test_cli_from_repo_root_and_custom_map(shared_data, tmp_path):
    out = tmp_path / "default.npy"
    done = run_cli("utils/make_coc_matrix.py", "--anno", shared_data / "casme2_annotations.csv", "--out", out,
                   cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    default = np.load(out)
    np.testing.assert_allclose(default[8], ROW_8, rtol=0, atol=5e-7)

    facs = {"1": [2, 3], "2": [0, 1, 4, 5], "12": [8, 10], "14": [8, 10], "25": [9, 11], "26": [9, 11]}
    map_file = tmp_path / "facs.json"
    map_file.write_text(json.dumps(facs))
    done = run_cli("utils/make_coc_matrix.py", "--anno", shared_data / "casme2_annotations.csv",
                   "--out", tmp_path / "facs.npy", "--au-map", f"@{map_file}", cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    custom = np.load(tmp_path / "facs.npy")
    assert not np.allclose(custom, default)
    strings = pd.read_csv(shared_data / "casme2_annotations.csv", dtype={"au": str})["au"].dropna().tolist()
    np.testing.assert_allclose(custom, reference(strings, {k: tuple(v) for k, v in facs.items()}), rtol=1e-6,
                               atol=1e-9)


def test_cli_from_another_cwd_with_relative_paths(tmp_path):
    write_csv(tmp_path / "anno.csv", ["1", "12+25", "", "4+14"])
    done = run_cli(SCRIPT, "--anno", "anno.csv", "--out", "sub/adj.npy", cwd=tmp_path, process=True)  # as a script
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "sub" / "adj.npy"), reference(["1", "12+25", "4+14"]), rtol=1e-6)


def test_cli_inline_json_map(tmp_path):
    write_csv(tmp_path / "anno.csv", ["1+4"])
    done = run_cli(SCRIPT, "--anno", "anno.csv", "--out", "adj.npy", "--au-map", '{"1": [2], "4": [7]}', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    matrix = np.load(tmp_path / "adj.npy")
    assert matrix[2, 7] == matrix[7, 2] == np.float32(1 / (1 + 1e-6))
    assert np.count_nonzero(matrix) == 2


@pytest.mark.parametrize("case", ["missing", "no_au_column"])
def test_cli_bad_input_exit_2_one_line_naming_the_file(tmp_path, case):
    anno = tmp_path / "my_annotations.csv"
    if case == "no_au_column":
        anno.write_text("subject,video_name,start_frame\ns1,v1,3\n")
    done = run_cli(SCRIPT, "--anno", anno, "--out", tmp_path / "adj.npy", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "my_annotations.csv" in lines[0], done.stderr
    assert not (tmp_path / "adj.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["my_annotations.csv"] if case == "no_au_column" else [])


# ---------------------------------------------------------------- model/adjacency.py

def test_given_adjacency_is_read_as_is_and_never_written(tmp_path):
    given = tmp_path / "shipped.npy"
    np.save(given, np.eye(12, dtype=np.float64))
    before = given.read_bytes()
    config = {"adjacency": str(given), "anno_csv": str(write_csv(tmp_path / "anno.csv", ["1+2"])),
              "adjacency_scope": "all"}
    matrix = load_adjacency(config, tmp_path / "run", "s1")
    assert matrix.dtype == np.float32 and np.array_equal(matrix, np.eye(12))
    assert given.read_bytes() == before and not (tmp_path / "run").exists()
    given.unlink()
    with pytest.raises(UserError, match="shipped.npy: adjacency file not found"):
        load_adjacency(config, tmp_path / "run", "s1")
    assert not given.exists()  # a missing given matrix is an error, never built in its place


def scoped_table(path):
    rows = [("s1", "1+2"), ("s1", "12"), ("s2", "12+25"), ("s3", "1")]
    pd.DataFrame(rows, columns=["subject", "au"]).to_csv(path, index=False)
    return rows


@pytest.mark.parametrize("scope", ["all", "train"])
def test_built_adjacency_goes_to_the_run_folder_with_its_scope(tmp_path, scope):
    rows = scoped_table(tmp_path / "anno.csv")
    config = {"adjacency": None, "anno_csv": str(tmp_path / "anno.csv"), "adjacency_scope": scope}
    matrix = load_adjacency(config, tmp_path / "run", "s1")
    if scope == "all":
        expected, where = reference([au for _, au in rows]), tmp_path / "run" / "adjacency_all.npy"
    else:  # the held-out subject's AU labels are left out
        expected, where = reference([au for s, au in rows if s != "s1"]), tmp_path / "run" / "s1" / "adjacency.npy"
    np.testing.assert_allclose(matrix, expected, rtol=1e-6)
    assert not np.allclose(reference([au for _, au in rows]), reference([au for s, au in rows if s != "s1"]))
    np.testing.assert_array_equal(np.load(where), matrix)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.npy")) == \
        [where.relative_to(tmp_path).as_posix()]


def test_repo_sections_never_build_into_the_source_tree():
    from utils.config import load_config

    for name in ("cas(me)^2", "mesynth"):
        config = load_config(name)
        assert config["adjacency"] is None and config["adjacency_scope"] == "all"


def test_load_adjacency_wrong_shape_names_the_file(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((3, 3)))
    with pytest.raises(UserError, match="bad.npy"):
        load_adjacency({"adjacency": str(tmp_path / "bad.npy"), "anno_csv": str(tmp_path / "none.csv"),
                        "adjacency_scope": "all"},
                       tmp_path / "run", "s1")
