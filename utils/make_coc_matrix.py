"""AU co-occurrence adjacency over the 12 ROIs (METHOD.md section 7).

``python utils/make_coc_matrix.py --anno CSV --out NPY [--au-map JSON|@FILE]``
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Collection
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from utils.errors import UserError, exit_process, run_cli
from utils.indexing import NUM_ROIS
from utils.io import atomic_path
from utils.registry import Registry


@dataclass(frozen=True)
class AdjacencyScope:
    """Which annotation rows build a fold's matrix (config key ``adjacency_scope``): ``all`` of the table
    (published, one matrix every fold shares), or ``train``: without the held-out subject's rows (one per fold)."""

    name: str
    holds_out_subject: bool

    def left_out(self, subject: str) -> list[str]:
        """Whose rows the matrix of the fold holding out ``subject`` leaves out."""
        return [subject] if self.holds_out_subject else []


ADJACENCY_SCOPES: Registry[AdjacencyScope] = Registry("adjacency scope", {
    scope.name: scope for scope in (AdjacencyScope("all", False), AdjacencyScope("train", True))})
# Published mapping (FACS would put AU1 on the inner brow, ROIs 2 and 3).
PUBLISHED_AU_TO_ROIS: dict[str, tuple[int, ...]] = {
    "1": (0, 1, 4, 5), "2": (2, 3), "12": (8, 10), "14": (8, 10), "25": (9, 11), "26": (9, 11),
}


def cooccurrence_matrix(au_strings, au_to_rois: dict[str, tuple[int, ...]] = PUBLISHED_AU_TO_ROIS) -> np.ndarray:
    """Row-normalised ROI co-occurrence counts, ``(12, 12)`` float32.

    Per AU string (e.g. ``"4+10+14"``): keep the AUs of the mapping (exact match
    after splitting on '+'); one kept AU adds 1 to the diagonal of each of its
    ROIs; two or more add 1 to ``M[r][s]`` and ``M[s][r]`` for every unordered
    pair of kept AUs and every ROI r of one and s of the other. Each row is
    finally divided by its L1 norm + 1e-6.
    """
    counts = np.zeros((NUM_ROIS, NUM_ROIS), dtype=np.float64)
    for au_string in au_strings:
        if not isinstance(au_string, str):
            continue
        kept = [au for au in au_string.split("+") if au in au_to_rois]
        if len(kept) == 1:
            rois = list(au_to_rois[kept[0]])
            counts[rois, rois] += 1
        for first, second in combinations(kept, 2):
            for r in au_to_rois[first]:
                for s in au_to_rois[second]:
                    counts[r, s] += 1
                    counts[s, r] += 1
    return (counts / (np.abs(counts).sum(axis=1, keepdims=True) + 1e-6)).astype(np.float32)


def read_au_strings(anno_csv: Path, exclude_subjects: Collection[str] = ()) -> list:
    """The ``au`` column of an annotation table, as strings; one-line errors naming the file.

    ``exclude_subjects``: leave out these subjects' rows (``adjacency_scope: train``, inner cross-validation).
    """
    anno_csv = Path(anno_csv)
    if not anno_csv.is_file():
        raise UserError(f"{anno_csv}: annotation file not found")
    try:
        table = pd.read_csv(anno_csv, dtype={"au": str, "subject": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{anno_csv}: not a readable CSV ({error})") from None
    if "au" not in table.columns:
        raise UserError(f"{anno_csv}: no 'au' column (columns: {', '.join(map(str, table.columns))})")
    if exclude_subjects:
        if "subject" not in table.columns:
            raise UserError(f"{anno_csv}: no 'subject' column, needed to leave out "
                            f"'{', '.join(sorted(exclude_subjects))}'")
        table = table[~table["subject"].isin(list(exclude_subjects))]
    return [value.strip() if isinstance(value, str) else value for value in table["au"].tolist()]


def parse_au_map(text: str) -> dict[str, tuple[int, ...]]:
    """``'{"1": [0, 1], ...}'`` (JSON text) or ``@file`` (a JSON file) -> AU -> ROI indices.

    The ``@`` says which one is meant: text is never tried as a file name (a long JSON string made
    the file-name test fail with an OS error).
    """
    where = "--au-map"
    raw = text
    if text.startswith("@"):
        where = text[1:]
        try:
            raw = Path(where).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"{where}: cannot read the --au-map file ({getattr(error, 'strerror', None) or error})") from None
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as error:
        raise UserError(f"{where}: not JSON ({error})") from None
    if not isinstance(mapping, dict) or not all(
            isinstance(rois, list) and all(isinstance(r, int) and 0 <= r < NUM_ROIS for r in rois)
            for rois in mapping.values()):
        raise UserError(f"{where}: expected {{\"AU\": [ROI indices 0..11], ...}}")
    return {str(au): tuple(rois) for au, rois in mapping.items()}


def build_adjacency_file(anno_csv: Path, out_path: Path,
                         au_to_rois: dict[str, tuple[int, ...]] = PUBLISHED_AU_TO_ROIS,
                         exclude_subjects: Collection[str] = ()) -> np.ndarray:
    """Build the matrix from ``anno_csv`` (without ``exclude_subjects``' rows) and save it atomically as
    ``out_path`` (.npy)."""
    matrix = cooccurrence_matrix(read_au_strings(anno_csv, exclude_subjects), au_to_rois)
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, matrix)
    return matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the AU co-occurrence adjacency (12 x 12) from an annotation CSV.")
    parser.add_argument("--anno", required=True, type=Path, help="annotation CSV with an 'au' column")
    parser.add_argument("--out", required=True, type=Path, help="output .npy file")
    parser.add_argument("--au-map", default=None,
                        help="JSON text, or @FILE holding JSON, mapping AU -> ROI indices; default: the published mapping")
    args = parser.parse_args(argv)

    def build() -> None:
        mapping = parse_au_map(args.au_map) if args.au_map else PUBLISHED_AU_TO_ROIS
        matrix = build_adjacency_file(args.anno, args.out, mapping)
        print(f"wrote {args.out} (12 x 12, {int((matrix > 0).sum())} non-zero entries)")

    return run_cli(build)


if __name__ == "__main__":
    exit_process(main())
