"""Extraction shards: the same segments and annotations.csv as one unsharded run; a cached rerun decodes nothing."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from feature_extraction import adapters, batch
from feature_extraction.adapters import frames
from feature_extraction.__main__ import main
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
    return ["--dataset", "generic", "--raw-root", str(raw / "raw"), "--anno", str(raw / "anno.csv"),
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
    assert main(args(raw, raw / "sharded", "--shard", "1/2")) == 0
    assert not (raw / "sharded" / "annotations.csv").exists()  # written once every shard is done
    first = capsys.readouterr().out
    assert "videos: 2 extracted" in first and "merging" not in first
    assert main(args(raw, raw / "sharded", "--shard", "2/2")) == 0
    assert "all 2 shards done: merging" in capsys.readouterr().out
    assert outputs(raw / "sharded") == outputs(raw / "whole")
    record = json.loads((raw / "sharded" / "shards" / "of_2" / "shard_2.json").read_text())
    assert record == {"shard": "2/2", "videos": ["vid2"], "failed": {}}
    assert main(args(raw, raw / "sharded", "--merge")) == 0  # by hand: the same again
    assert outputs(raw / "sharded") == outputs(raw / "whole")


def test_merge_names_videos_no_shard_extracted(raw, capsys):
    (raw / "partial" / "cache" / "subjA").mkdir(parents=True)  # as if shard 1/3 (vid1) had finished alone
    shutil.copy(raw / "whole" / "cache" / "subjA" / "vid1.npz", raw / "partial" / "cache" / "subjA")
    assert main(args(raw, raw / "partial", "--merge")) == 1
    out = capsys.readouterr().out
    assert "not extracted by any shard yet" in out and "videos: 0 extracted, 1 skipped (cached), 2 failed" in out


def test_cached_rerun_decodes_no_frame(raw, monkeypatch, capsys):
    """Frame counts (SAMM clipping) and features come from the cache: no frame is read or decoded on a rerun."""
    def no_decoding(*_):
        raise AssertionError("a cached video was decoded")
    monkeypatch.setattr(frames.cv2, "imread", no_decoding)
    monkeypatch.setattr(frames, "open_video", no_decoding)
    monkeypatch.setattr(batch, "FaceLandmarker", no_decoding)  # nothing to extract: no dlib models loaded
    assert main(args(raw, raw / "whole")) == 0
    assert "0 extracted, 3 skipped (cached)" in capsys.readouterr().out
