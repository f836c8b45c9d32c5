"""Where a fold's adjacency comes from (config keys ``adjacency`` and ``adjacency_scope``).

* ``adjacency: <path>``: a given matrix (e.g. a shipped one under ``model/assets/``), read as is and never
  written; a missing file is an error.
* ``adjacency: null`` (or empty): built from ``anno_csv`` into the run folder, never into the source tree:
  ``adjacency_scope: all`` (published) from the whole table, ``<output>/adjacency_all.npy``;
  ``adjacency_scope: train`` without the held-out subject's rows, ``<output>/<subject>/adjacency.npy``,
  so the fold's model never sees its test subject's AU labels. Inner cross-validation (model/inner_cv.py)
  builds each inner model's matrix from its own training subjects, ``<output>/<subject>/inner/<k>/adjacency.npy``;
  the final model (FINAL=1) uses a given matrix as the folds do, else one built from the whole table.

Checkpoints carry their matrix, so evaluation needs none of this.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.errors import UserError
from utils.indexing import NUM_ROIS
from utils.make_coc_matrix import build_adjacency_file, cooccurrence_matrix, read_au_strings


def read_adjacency(path: Path) -> np.ndarray:
    """``(12, 12)`` float32 from a given ``.npy``; one-line errors naming the file."""
    if not path.is_file():
        raise UserError(f"{path}: adjacency file not found (set adjacency: null in the config to build it "
                        "from anno_csv into the run folder)")
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable .npy adjacency ({error})") from None
    if matrix.shape != (NUM_ROIS, NUM_ROIS):
        raise UserError(f"{path}: adjacency must be {NUM_ROIS} x {NUM_ROIS}, got {matrix.shape}")
    return matrix.astype(np.float32)


def adjacency_path(config, output: Path, subject: str) -> Path | None:
    """Where the fold's built matrix goes; None when the config gives a matrix."""
    if config.get("adjacency"):
        return None
    if config.get("adjacency_scope", "all") == "train":
        return Path(output) / subject / "adjacency.npy"
    return Path(output) / "adjacency_all.npy"


def fold_left_out(config, subject: str) -> list[str]:
    """Whose annotation rows the matrix of the fold holding out ``subject`` leaves out (adjacency_scope)."""
    return [subject] if config.get("adjacency_scope", "all") == "train" else []


def load_adjacency(config, output: Path, subject: str) -> np.ndarray:
    """The ``(12, 12)`` float32 matrix for training the fold that holds out ``subject``."""
    if config.get("adjacency"):
        return read_adjacency(Path(config["adjacency"]))
    return built_adjacency(config, adjacency_path(config, output, subject), fold_left_out(config, subject))


def model_adjacency(config, path: Path, left_out: list[str]) -> np.ndarray:
    """A given matrix as the folds read it, else the one built without ``left_out``'s rows, saved as ``path``."""
    if config.get("adjacency"):
        return read_adjacency(Path(config["adjacency"]))
    return built_adjacency(config, path, left_out)


def adjacency_matrix(config, left_out: list[str]) -> np.ndarray:
    """The matrix a model trained without ``left_out`` uses, computed in memory and written nowhere (a given
    one, else built from ``anno_csv``): what the pipeline's keys read."""
    if config.get("adjacency"):
        return read_adjacency(Path(config["adjacency"]))
    return cooccurrence_matrix(read_au_strings(Path(config["anno_csv"]), left_out))


def built_adjacency(config, path: Path, left_out: list[str]) -> np.ndarray:
    """The matrix built from ``anno_csv`` without the rows of ``left_out``, saved as ``path``.

    Rebuilt on every training run (milliseconds): a changed anno_csv never meets a stale matrix."""
    return build_adjacency_file(Path(config["anno_csv"]), path, exclude_subjects=left_out)
