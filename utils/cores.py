"""The cores this process may use (its CPU affinity, which Slurm and taskset narrow), for worker pools."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on, at least 1: threads for per-epoch and per-video work."""
    return max(1, len(os.sched_getaffinity(0)))
