"""The one seeding helper: same command twice -> same checkpoints and metrics on CPU."""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch, ask torch for deterministic kernels.

    Returns a CPU ``torch.Generator`` seeded with ``seed`` for shuffling, so the
    batch order does not depend on how many other random draws happened first.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
