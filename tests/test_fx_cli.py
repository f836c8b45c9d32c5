"""`python -m feature_extraction` on a tiny generic tree: outputs, cache, failures, exit codes."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core_fixtures import call_main
from feature_extraction.__main__ import main
from fx_footage import HEAD_PERIOD, face_frames, write_frames

REPO_ROOT = Path(__file__).resolve().parents[1]
ANNOTATION = "subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\nsubjA,vid1,3,5,8,2,4\n"


def run_cli(*args):
    """The extraction CLI's main in this process: a SystemExit of a flag error is its exit status too."""
    def status(argv):
        try:
            return main(argv)
        except SystemExit as stop:
            return stop.code

    return call_main(status, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """subjA/vid1 (12 frames), subjA/vid2 (12, the 5th unreadable), subjB/vid3 (10),
    subjB/blank (3 frames, no face), subjB/empty (no frames); plus an annotation CSV."""
    base = tmp_path_factory.mktemp("fx_cli")
    raw = base / "raw"
    frames = face_frames(12, face_px=160, brow_raise_px=2.0)
    write_frames(raw / "subjA" / "vid1", frames)
    write_frames(raw / "subjA" / "vid2", frames)[4].write_bytes(b"not a jpeg")
    write_frames(raw / "subjB" / "vid3", frames[2:])
    write_frames(raw / "subjB" / "blank", [np.full_like(frames[0], 90)] * 3)
    (raw / "subjB" / "empty").mkdir()
    anno = base / "anno.csv"
    anno.write_text(ANNOTATION)
    return raw, anno, base / "out"


def load(path):
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def test_extract_rerun_and_other_flow(tree):
    raw, anno, out = tree
    first = run_cli("--layout", "generic", "--raw-root", raw, "--anno", anno, "--out", out, "--flow", "dis")
    assert first.returncode == 1, first.stderr
    assert "videos: 3 extracted, 0 skipped (cached), 1 failed, 1 skipped in the raw tree" in first.stdout
    assert f"{raw / 'subjB' / 'blank'}: no face found on any of its 3 frames" in first.stdout
    assert f"{raw / 'subjB' / 'empty'}: no frame images" in first.stdout
    assert "img005.jpg (cannot be read)" in first.stderr
    # the record names the raw tree, so the run report can link previews of its frames
    assert json.loads((out / "extraction.json").read_text())["raw_root"] == str(Path(raw).resolve())

    rows = {"vid1": 11, "vid2": 11, "vid3": 9}
    for subject, video in [("subjA", "vid1"), ("subjA", "vid2"), ("subjB", "vid3")]:
        cached = load(out / "cache" / subject / f"{video}.npz")
        assert cached["features"].shape == (rows[video], 12, 2) and str(cached["settings"]) == "dis-q8-fast-medium"
        for split in ("train", "test"):
            segment = load(out / split / subject / f"{video}_0000.npz")
            assert segment["feature"].shape == (270, 12, 2) and segment["label"].shape == (270, 8)
            assert str(segment["video_name"]) == video
            np.testing.assert_array_equal(segment["feature"][7:7 + rows[video]], cached["features"])
            assert not segment["feature"][:7].any() and not segment["feature"][7 + rows[video]:].any()
    assert not (out / "train" / "subjB" / "blank_0000.npz").exists()

    # vid2: frame 4 could not be read, so it repeats frame 3 and row 3 is zero motion.
    vid2 = load(out / "cache" / "subjA" / "vid2.npz")["features"]
    np.testing.assert_allclose(vid2[3], 0.0, atol=1e-6)
    assert np.abs(vid2[2]).max() > 0

    # Labels of vid1 from the annotation row (3, 5, 8, micro), rows shifted by the 7-row pad.
    label = load(out / "test" / "subjA" / "vid1_0000.npz")["label"]
    assert np.flatnonzero(label[:, 0]).tolist() == [10]
    assert np.flatnonzero(label[:, 1]).tolist() == [12]
    assert np.flatnonzero(label[:, 2]).tolist() == [15]
    assert np.flatnonzero(label[:, 3]).tolist() == list(range(10, 16))
    assert not label[:, 4:].any()
    assert not load(out / "test" / "subjA" / "vid2_0000.npz")["label"].any()
    written = pd.read_csv(out / "annotations.csv")
    assert written.to_csv(index=False, lineterminator="\n") == ANNOTATION

    # Rerun: every finished video comes from the cache, which is not rewritten.
    stamp = (out / "cache" / "subjA" / "vid1.npz").stat().st_mtime_ns
    second = run_cli("--layout", "generic", "--raw-root", raw, "--anno", anno, "--out", out, "--flow", "dis")
    assert second.returncode == 1
    assert "videos: 0 extracted, 3 skipped (cached), 1 failed" in second.stdout
    assert (out / "cache" / "subjA" / "vid1.npz").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(load(out / "test" / "subjA" / "vid1_0000.npz")["label"], label)

    # Another flow is not served the DIS cache; two worker processes.
    third = run_cli("--layout", "generic", "--raw-root", raw, "--anno", anno, "--out", out,
                    "--flow", "farneback", "--no-quantise", "--jobs", "2")
    assert third.returncode == 1, third.stderr
    assert "videos: 3 extracted, 0 skipped (cached), 1 failed" in third.stdout
    again = load(out / "cache" / "subjA" / "vid1.npz")
    assert str(again["settings"]) == "farneback-float-fast"
    np.testing.assert_array_equal(load(out / "test" / "subjA" / "vid1_0000.npz")["feature"][7:18], again["features"])


@pytest.mark.parametrize("args, message", [
    (["--layout", "generic", "--raw-root", "{base}/missing", "--out", "{base}/o"], "missing: raw dataset folder not found"),
    (["--layout", "casme", "--raw-root", "{base}/raw", "--out", "{base}/o"], "invalid choice: 'casme'"),
    (["--dataset", "casme", "--raw-root", "{base}/raw", "--out", "{base}/o"], "invalid choice: 'casme'"),  # old name
    (["--layout", "generic", "--raw-root", "{base}/raw", "--out", "{base}/o", "--jobs", "0"], "--jobs: must be at least 1"),
    (["--layout", "generic", "--raw-root", "{base}/raw", "--anno", "{base}/nope.csv", "--out", "{base}/o"],
     "nope.csv: annotation file not found"),
])
def test_bad_arguments_one_line_exit_2(tree, args, message):
    base = tree[0].parent
    result = run_cli(*[arg.format(base=base) for arg in args])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("error: ")
    assert not (base / "o").exists()


def summary_line(text):
    return next(line for line in text.splitlines() if line.startswith("videos: "))


def test_replaced_frames_are_extracted_again_and_stale_windows_go(tmp_path, capsys):
    period = face_frames(HEAD_PERIOD, face_px=160)
    raw, out = tmp_path / "raw", tmp_path / "out"
    args = ["--layout", "generic", "--raw-root", str(raw), "--out", str(out), "--flow", "dis"]
    write_frames(raw / "subj" / "vid", [period[t % HEAD_PERIOD] for t in range(266)])  # 265 rows: 2 windows
    write_frames(raw / "subj" / "vid_1", period[:4])  # its windows start with "vid_": left alone
    assert main(args) == 0
    windows = lambda split: sorted(p.name for p in (out / split / "subj").iterdir())  # noqa: E731
    assert windows("test") == ["vid_0000.npz", "vid_0256.npz", "vid_1_0000.npz"]

    # The user replaces the video with 100 other frames (the time stamps differ, maybe not the names).
    for path in (raw / "subj" / "vid").iterdir():
        path.unlink()
    write_frames(raw / "subj" / "vid", [np.roll(period[t % HEAD_PERIOD], 3, axis=1) for t in range(100)])
    capsys.readouterr()
    assert main(args) == 0
    assert summary_line(capsys.readouterr().out).startswith("videos: 1 extracted, 1 skipped (cached)")
    cached = load(out / "cache" / "subj" / "vid.npz")
    assert cached["features"].shape == (99, 12, 2)
    for split in ("train", "test"):
        assert windows(split) == ["vid_0000.npz", "vid_1_0000.npz"]
        window = load(out / split / "subj" / "vid_0000.npz")["feature"]
        np.testing.assert_array_equal(window[7:106], cached["features"])
        assert not window[106:].any()

    # Another face-detection mode is another cache key; the same one is served from the cache.
    assert main(args + ["--face-detect", "full"]) == 0
    assert summary_line(capsys.readouterr().out).startswith("videos: 2 extracted, 0 skipped")
    assert str(load(out / "cache" / "subj" / "vid.npz")["settings"]) == "dis-q8-full-medium"
    assert main(args + ["--face-detect", "full"]) == 0
    assert summary_line(capsys.readouterr().out).startswith("videos: 0 extracted, 2 skipped (cached)")

    # A video that fails now loses the windows of its earlier frames.
    for path in (raw / "subj" / "vid").iterdir():
        path.unlink()
    write_frames(raw / "subj" / "vid", [np.full((48, 64, 3), 90, np.uint8)] * 2)  # no face any more
    assert main(args + ["--face-detect", "full"]) == 1
    assert windows("train") == windows("test") == ["vid_1_0000.npz"]


def test_unwritable_out_and_unreadable_raw_tree_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "raw"
    write_frames(raw / "subj" / "vid", face_frames(2, face_px=160))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["--layout", "generic", "--raw-root", str(raw), "--out", str(blocker / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert str(blocker / "out") in error

    import feature_extraction.__main__ as cli

    def unreadable(dataset, raw_root):
        raise PermissionError(13, "Permission denied", str(raw_root / "subj"))

    monkeypatch.setattr(cli, "discover_videos", unreadable)
    assert main(["--layout", "generic", "--raw-root", str(raw), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error == f"error: [Errno 13] Permission denied: '{raw / 'subj'}'\n"


def test_a_video_whose_segments_cannot_be_written_fails_alone(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "out"
    frames = face_frames(3, face_px=160)
    write_frames(raw / "subjA" / "vid", frames)
    write_frames(raw / "subjB" / "vid2", frames)
    (out / "train").mkdir(parents=True)
    (out / "train" / "subjA").write_text("a file where the subject folder goes")
    assert main(["--layout", "generic", "--raw-root", str(raw), "--out", str(out), "--flow", "dis"]) == 1
    stdout = capsys.readouterr().out
    assert "videos: 1 extracted, 0 skipped (cached), 1 failed" in stdout
    assert f"{raw / 'subjA' / 'vid'}: cannot write its segment files: [Errno 17] File exists" in stdout
    assert (out / "test" / "subjB" / "vid2_0000.npz").is_file()
