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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import UserError
from utils.indexing import NUM_ROIS
from utils.layout import RunLayout
from utils.make_coc_matrix import (ADJACENCY_SCOPES, AdjacencyScope, build_adjacency_file, cooccurrence_matrix,
                                    read_au_strings)


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


@dataclass(frozen=True)
class AdjacencySource:
    """Where a model's matrix comes from: ``given`` (config key ``adjacency``), else built from ``anno_csv``
    under ``scope`` (``adjacency_scope``)."""

    given: Path | None
    scope: AdjacencyScope
    anno_csv: Path

    @classmethod
    def from_config(cls, config) -> "AdjacencySource":
        given = config.get("adjacency")
        return cls(Path(given) if given else None, ADJACENCY_SCOPES[config["adjacency_scope"]], Path(config["anno_csv"]))


def adjacency_path(config, output: Path, subject: str) -> Path | None:
    """Where the fold's built matrix goes; None when the config gives a matrix."""
    source = AdjacencySource.from_config(config)
    if source.given:
        return None
    run = RunLayout(Path(output))
    return run.fold(subject).adjacency if source.scope.holds_out_subject else run.shared_adjacency


def fold_left_out(config, subject: str) -> list[str]:
    """Whose annotation rows the matrix of the fold holding out ``subject`` leaves out (adjacency_scope)."""
    return AdjacencySource.from_config(config).scope.left_out(subject)


def load_adjacency(config, output: Path, subject: str) -> np.ndarray:
    """The ``(12, 12)`` float32 matrix for training the fold that holds out ``subject``."""
    return model_adjacency(config, adjacency_path(config, output, subject), fold_left_out(config, subject))


def model_adjacency(config, path: Path | None, left_out: list[str]) -> np.ndarray:
    """A given matrix as the folds read it, else the one built without ``left_out``'s rows, saved as ``path``
    (rebuilt on every training run, in milliseconds: a changed anno_csv never meets a stale matrix)."""
    source = AdjacencySource.from_config(config)
    if source.given:
        return read_adjacency(source.given)
    return build_adjacency_file(source.anno_csv, path, exclude_subjects=left_out)


def adjacency_matrix(config, left_out: list[str]) -> np.ndarray:
    """The matrix a model trained without ``left_out`` uses, computed in memory and written nowhere (a given
    one, else built from ``anno_csv``): what the pipeline's keys read."""
    source = AdjacencySource.from_config(config)
    if source.given:
        return read_adjacency(source.given)
    return cooccurrence_matrix(read_au_strings(source.anno_csv, left_out))
