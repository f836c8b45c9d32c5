"""Per-row labels and the segment files of one video (METHOD.md 2.5-2.6, FORMATS.md).

Feature row i lines up with annotation frame number i (``utils.indexing``),
so annotation frames are used as row indices directly.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import ANNOTATION_COLUMNS, EXPRESSION_TYPES, LABEL_COLUMNS, label_column
from utils.indexing import (FEATURE_ROW_SHAPE, NUM_ROIS, WINDOW_ROWS, cut_window, parse_window_file_name,
                            window_file_name, window_offsets)
from utils.io import atomic_write_bytes
from utils.names import check_path_name

# A segment file (FORMATS.md): an npz of one window, written by write_video_segments and read by
# dataset/segments.py. Its arrays: 'feature' (270, 12, 2) float32, 'label' (270, 8) int32 (LABEL_COLUMNS) and
# the 0-d text 'video_name'.
FEATURE_ARRAY, LABEL_ARRAY, NAME_ARRAY = "feature", "label", "video_name"
WINDOW_FEATURE_SHAPE = (WINDOW_ROWS, *FEATURE_ROW_SHAPE)
WINDOW_LABEL_SHAPE = (WINDOW_ROWS, len(LABEL_COLUMNS))


def segment_arrays(feature: np.ndarray, label: np.ndarray, video_name: str) -> dict[str, np.ndarray]:
    """The arrays of one segment file, by name (``np.savez(file, **segment_arrays(...))``)."""
    return {FEATURE_ARRAY: feature, LABEL_ARRAY: label, NAME_ARRAY: np.array(video_name)}


def frame_labels(n_rows: int, annotations: pd.DataFrame) -> np.ndarray:
    """Per-row labels of one video, shape (n_rows, 8) int32, 0/1.

    Columns: micro start, apex, end, action, macro start, apex, end, action
    (``type_idx`` 2 = micro, 1 = macro; other types are ignored).
    ``annotations`` holds the video's rows with ``start_frame, apex_frame,
    end_frame, type_idx`` (s, a, e, as feature-row indices). As published:

    * a row is skipped if two or more of s, a, e are 0, or if a >= n_rows;
    * if e == 0 then e = 2a - s, else if a == 0 then a = (s + e) // 2;
    * e is clipped to n_rows - 1;
    * start at s, apex at a, end at e, action on s..e inclusive.

    Decided here (the spec is silent): a mark whose row is still outside
    [0, n_rows) after the repairs (a SAMM apex of -1, a repaired apex past the
    video, a negative 2a - s) is left out rather than wrapped around to the
    end of the video, and the action run is the part of s..e inside the video
    (empty when e < s). The row's other marks are still set.
    """
    labels = np.zeros((n_rows, len(LABEL_COLUMNS)), dtype=np.int32)
    s, a, e, types = (annotations[column].to_numpy(dtype=np.int64)
                      for column in ("start_frame", "apex_frame", "end_frame", "type_idx"))
    missing = (s == 0).astype(int) + (a == 0) + (e == 0)
    keep = (missing < 2) & (a < n_rows)
    e_repaired = e == 0
    e = np.where(e_repaired, 2 * a - s, e)
    a = np.where(~e_repaired & (a == 0), (s + e) // 2, a)
    e = np.minimum(e, n_rows - 1)
    for type_idx in EXPRESSION_TYPES:
        rows = keep & (types == type_idx)
        for mark, frames in zip(("start", "apex", "end"), (s[rows], a[rows], e[rows])):
            inside = frames[(frames >= 0) & (frames < n_rows)]
            labels[inside, label_column(type_idx, mark)] = 1
        labels[:, label_column(type_idx, "action")] = _covered(n_rows, s[rows], e[rows])
    return labels


def _covered(n_rows: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n_rows,) int32: 1 on every row inside some [start, end] (inclusive), clipped to the video."""
    lo, hi = np.maximum(starts, 0), np.minimum(ends, n_rows - 1)
    nonempty = lo <= hi
    change = np.zeros(n_rows + 1, dtype=np.int64)
    np.add.at(change, lo[nonempty], 1)
    np.add.at(change, hi[nonempty] + 1, -1)
    return (np.cumsum(change[:-1]) > 0).astype(np.int32)


def write_video_segments(out_root: Path, subject: str, video_name: str, features: np.ndarray,
                         labels: np.ndarray) -> list[Path]:
    """Write the 270-row windows of one video under ``train/`` and ``test/``; return the test paths.

    ``features`` (R, 12, 2) float (stored as float32) and ``labels`` (R, 8)
    int (stored as int32) are the video's rows. Window k (offset 256k) holds
    rows 256k-7 .. 256k+262, zero-padded outside the video, and is written to
    ``<out_root>/{train,test}/<subject>/<video_name>_<offset>.npz`` with keys
    ``feature`` (270, 12, 2), ``label`` (270, 8) and ``video_name`` (0-d str).
    Each file appears complete or not at all (temporary name + os.replace).
    Afterwards the video's other window files in both folders (offsets its
    rows no longer reach: the video got shorter) are deleted, see
    :func:`remove_stale_segments`.
    """
    if features.ndim != 3 or features.shape[1:] != FEATURE_ROW_SHAPE:
        raise ValueError(f"{video_name}: features have shape {features.shape}, expected (R, {NUM_ROIS}, 2)")
    if labels.shape != (features.shape[0], len(LABEL_COLUMNS)):
        raise ValueError(f"{video_name}: labels have shape {labels.shape}, expected ({features.shape[0]}, 8)")
    check_path_name(video_name, out_root, "video name")
    features = features.astype(np.float32, copy=False)
    labels = labels.astype(np.int32, copy=False)
    folders = split_folders(out_root, subject)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    written = []
    for offset in window_offsets(features.shape[0]):
        buffer = io.BytesIO()
        np.savez(buffer, **segment_arrays(cut_window(features, int(offset)), cut_window(labels, int(offset)),
                                          video_name))
        name = window_file_name(video_name, int(offset))
        for folder in folders:
            atomic_write_bytes(folder / name, buffer.getvalue())
        written.append(folders[1] / name)
    remove_stale_segments(out_root, subject, video_name, keep=[path.name for path in written])
    return written


def split_folders(out_root: Path, subject: str) -> list[Path]:
    """``<out_root>/train/<subject>`` and ``<out_root>/test/<subject>``; a one-line UserError naming ``out_root``
    when ``subject`` is not a plain folder name (:func:`utils.names.check_path_name`)."""
    check_path_name(subject, out_root, "subject name")
    return [Path(out_root) / split / subject for split in ("train", "test")]


def remove_stale_segments(out_root: Path, subject: str, video_name: str, keep) -> list[Path]:
    """Delete ``video_name``'s window files in ``<out_root>/{train,test}/<subject>/`` not named in ``keep``.

    A file belongs to the video when :func:`utils.indexing.parse_window_file_name`
    gives exactly ``video_name`` (``vid_1`` does not own ``vid_10_0000.npz``);
    other files are left alone. Returns the deleted paths.
    """
    check_path_name(video_name, out_root, "video name")
    keep = set(keep)
    removed = []
    for folder in split_folders(out_root, subject):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name in keep:
                continue
            try:
                owner, _ = parse_window_file_name(path.name)
            except ValueError:  # not a window file (a temporary file of another write...)
                continue
            if owner == video_name:
                path.unlink(missing_ok=True)  # a merge running at the same time may have removed it first
                removed.append(path)
    return removed


def write_annotation_csv(path: Path, annotations: pd.DataFrame) -> None:
    """Write the paper's annotation table (its 7 columns, in order, no index) atomically."""
    missing = [column for column in ANNOTATION_COLUMNS if column not in annotations.columns]
    if missing:
        raise ValueError(f"{path}: annotations lack columns {', '.join(missing)}")
    text = annotations.loc[:, list(ANNOTATION_COLUMNS)].to_csv(index=False, lineterminator="\n")
    atomic_write_bytes(path, text.encode("utf-8"))
