"""Extraction shards write only their videos' cache; the merge writes the archive (windows, annotations.csv, record,
manifest), the same as one unsharded run; an archive never mixes settings; a cached rerun decodes nothing."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from feature_extraction import adapters, batch, segments
from feature_extraction.adapters import frames
from feature_extraction.__main__ import build_parser, flow_settings, main
from feature_extraction.batch import parse_shard, select_shard
from fx_footage import face_frames, write_frames

ANNOTATION = ("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\n"
              "subjA,vid1,3,5,8,2,4\nsubjB,vid3,2,4,7,1,12\n")


def outputs(out):
    """Every segment file's arrays and the annotation table, by relative path."""
    files = {"annotations.csv": (out / "annotations.csv").read_bytes()}
    for path in sorted(out.glob("t*/*/*.npz")):
        with np.load(path) as data:
            files[str(path.relative_to(out))] = {key: data[key].tobytes() for key in data.files}
    return files


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """subjA/vid1, subjA/vid2 (frame folders), subjB/vid3.avi (a video file); plus one unsharded run."""
    base = tmp_path_factory.mktemp("fx_shards")
    frames = face_frames(7, face_px=160, brow_raise_px=2.0)
    for video, first in [("vid1", 0), ("vid2", 1)]:
        write_frames(base / "raw" / "subjA" / video, frames[first:])
    (base / "raw" / "subjB").mkdir(parents=True)
    writer = cv2.VideoWriter(str(base / "raw" / "subjB" / "vid3.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    (base / "anno.csv").write_text(ANNOTATION)
    assert main(args(base, base / "whole")) == 0
    return base


def args(raw, out, *extra):
    return ["--layout", "generic", "--raw-root", str(raw / "raw"), "--anno", str(raw / "anno.csv"),
            "--out", str(out), "--flow", "dis", *extra]


def test_shard_split_is_a_deterministic_partition():
    videos = [adapters.VideoSource(s, v) for s, v in [("b", "x"), ("a", "y"), ("a", "x"), ("c", "z"), ("b", "a")]]
    shards = [[(v.subject, v.video_name) for v in select_shard(videos, k, 2)] for k in (1, 2)]
    assert shards == [[("a", "x"), ("b", "a"), ("c", "z")], [("a", "y"), ("b", "x")]]
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_shards_give_the_unsharded_result(raw, capsys):
    for shard in ("1/2", "2/2"):
        assert main(args(raw, raw / "sharded", "--shard", shard)) == 0
        assert not list((raw / "sharded").glob("t*/*/*.npz")) and not (raw / "sharded" / "annotations.csv").exists()
        assert not (raw / "sharded" / "extraction.json").exists()  # a shard writes its cache, nothing else
    assert "videos: 2 extracted" in capsys.readouterr().out
    assert main(args(raw, raw / "sharded", "--merge")) == 0
    assert outputs(raw / "sharded") == outputs(raw / "whole")
    assert main(args(raw, raw / "sharded", "--merge")) == 0  # again: the same
    assert outputs(raw / "sharded") == outputs(raw / "whole")


def test_the_manifest_holds_every_window_and_the_record_comes_last(raw, monkeypatch):
    import hashlib

    manifest = json.loads((raw / "whole" / "manifest.json").read_text())["files"]
    windows = sorted(p for p in (raw / "whole").glob("t*/*/*.npz"))
    assert sorted(manifest) == [str(p.relative_to(raw / "whole")) for p in windows]
    for path in windows:
        assert manifest[str(path.relative_to(raw / "whole"))][2] == hashlib.sha256(path.read_bytes()).hexdigest()
    written = []
    real = segments.write_video_segments
    monkeypatch.setattr("feature_extraction.__main__.write_video_segments",
                        lambda *a, **k: (written.append((raw / "whole" / "extraction.json").exists()), real(*a, **k))[1])
    assert main(args(raw, raw / "whole")) == 0
    assert written == [False] * 3  # the old record was gone while the windows were written


def test_merge_names_videos_no_shard_extracted(raw, capsys):
    (raw / "partial" / "cache" / "subjA").mkdir(parents=True)  # as if shard 1/3 (vid1) had finished alone
    shutil.copy(raw / "whole" / "cache" / "subjA" / "vid1.npz", raw / "partial" / "cache" / "subjA")
    assert main(args(raw, raw / "partial", "--merge")) == 1
    out = capsys.readouterr().out
    assert "not extracted by any shard yet" in out and "videos: 0 extracted, 1 skipped (cached), 2 failed" in out
    assert sorted(p.name for p in (raw / "partial").glob("test/*/*.npz")) == sorted(
        p.name for p in (raw / "whole").glob("test/subjA/vid1_*.npz"))  # what it has, it writes


def test_cached_rerun_decodes_no_frame(raw, monkeypatch, capsys):
    """Frame counts (SAMM clipping) and features come from the cache: no frame is read or decoded on a rerun."""
    def no_decoding(*_):
        raise AssertionError("a cached video was decoded")
    monkeypatch.setattr(frames.cv2, "imread", no_decoding)
    monkeypatch.setattr(frames, "open_video", no_decoding)
    monkeypatch.setattr(batch, "FaceLandmarker", no_decoding)  # nothing to extract: no dlib models loaded
    assert main(args(raw, raw / "whole")) == 0
    assert "0 extracted, 3 skipped (cached)" in capsys.readouterr().out


def window_files(out, video_name):
    """The bytes of every window file of ``video_name``, by relative path."""
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.glob(f"t*/*/{video_name}_*.npz"))}


def test_a_shard_rerun_with_another_flow_leaves_the_archive_whole(raw, tmp_path):
    out = tmp_path / "out"
    assert main(args(raw, out)) == 0
    before = {path: path.read_bytes() for path in sorted(out.glob("t*/*/*.npz"))}
    record = (out / "extraction.json").read_bytes()
    assert main(args(raw, out, "--shard", "1/2", "--no-quantise")) == 0
    assert {path: path.read_bytes() for path in sorted(out.glob("t*/*/*.npz"))} == before
    assert (out / "extraction.json").read_bytes() == record  # it still describes every window


def test_frames_changed_since_their_shard_ran_are_not_merged_from_the_old_cache(raw, tmp_path, capsys):
    shutil.copytree(raw / "raw", tmp_path / "raw")
    shutil.copy(raw / "anno.csv", tmp_path)
    out = tmp_path / "out"
    assert main(args(tmp_path, out, "--shard", "1/1")) == 0
    frame = sorted((tmp_path / "raw" / "subjA" / "vid1").iterdir())[3]
    frame.write_bytes(frame.read_bytes()[:-1] + b"\0")  # an edited frame: vid1's cache no longer serves
    capsys.readouterr()
    assert main(args(tmp_path, out, "--merge")) == 1
    assert "frames that changed since" in capsys.readouterr().out and not window_files(out, "vid1")


def test_the_merge_removes_the_windows_of_videos_no_longer_in_the_raw_tree(raw, tmp_path):
    shutil.copytree(raw / "raw", tmp_path / "raw")
    shutil.copy(raw / "anno.csv", tmp_path)
    out = tmp_path / "out"
    assert main(args(tmp_path, out)) == 0
    assert window_files(out, "vid3")
    shutil.rmtree(tmp_path / "raw" / "subjB")
    (tmp_path / "anno.csv").write_text(ANNOTATION.splitlines()[0] + "\n" + ANNOTATION.splitlines()[1] + "\n")
    assert main(args(tmp_path, out)) == 0
    assert not window_files(out, "vid3") and not (out / "test" / "subjB").exists()
    assert sorted(json.loads((out / "manifest.json").read_text())["files"]) == sorted(
        str(p.relative_to(out)) for p in out.glob("t*/*/*.npz"))


def test_merge_says_a_video_was_extracted_with_other_settings(raw, tmp_path, capsys):
    shutil.copytree(raw / "whole" / "cache", tmp_path / "out" / "cache")
    assert main(args(raw, tmp_path / "out", "--merge", "--no-quantise")) == 1
    out = capsys.readouterr().out
    assert "extracted with other settings (dis-q8-fast-medium; asked: dis-float-fast-medium)" in out
    assert "not extracted by any shard" not in out


def test_a_window_removed_by_a_concurrent_merge_is_no_failure(tmp_path, monkeypatch):
    """Two merges at once: the other one deleted a stale window file between this one's listing and its unlink."""
    folder = tmp_path / "test" / "s"
    folder.mkdir(parents=True)
    (folder / "v_0256.npz").write_bytes(b"stale")
    listed = list(folder.iterdir())
    (folder / "v_0256.npz").unlink()  # by the other merge
    monkeypatch.setattr(type(folder), "iterdir", lambda self: iter(listed) if self == folder else iter(()))
    assert segments.remove_stale_segments(tmp_path, "s", "v", keep=()) == listed


def test_merges_take_turns(tmp_path):
    """While one merge holds the lock, another process cannot take it."""
    with batch.merge_lock(tmp_path):
        probe = subprocess.run([sys.executable, "-c", "import fcntl, sys; handle = open(sys.argv[1], 'a'); "
                                "fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)",
                                str(tmp_path / "shards" / "merge.lock")], capture_output=True, text=True)
    assert probe.returncode != 0 and "BlockingIOError" in probe.stderr
