"""The one seeding helper: same command twice -> same checkpoints and metrics on CPU."""
from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch.

    Returns a CPU ``torch.Generator`` seeded with ``seed`` for shuffling, so the
    batch order does not depend on how many other random draws happened first.
    Deterministic kernels: :func:`deterministic_kernels`.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@contextmanager
def deterministic_kernels() -> Iterator[None]:
    """Ask torch for deterministic kernels inside the block; the caller's switches are restored after it.

    Library code must not leave process-wide switches changed: a caller's own torch settings would change
    behind its back.
    """
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark = saved[2]
