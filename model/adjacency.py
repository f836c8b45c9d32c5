"""Where a fold's adjacency comes from: the config's ``adjacency`` file, built from ``anno_csv`` when missing."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.errors import UserError
from utils.make_coc_matrix import build_adjacency_file


def load_adjacency(config) -> np.ndarray:
    """``(12, 12)`` float32 from ``config['adjacency']``; built from ``config['anno_csv']`` if the file is absent."""
    path = Path(config["adjacency"])
    if not path.is_file():
        return build_adjacency_file(Path(config["anno_csv"]), path)
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable .npy adjacency ({error})") from None
    if matrix.shape != (12, 12):
        raise UserError(f"{path}: adjacency must be 12 x 12, got {matrix.shape}")
    return matrix.astype(np.float32)
