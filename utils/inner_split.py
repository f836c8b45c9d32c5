"""The inner split of selection ``inner-cv``: which training subjects form each inner group.

A fold's training subjects (every subject of ``subject_list`` but the held-out one) are sorted by name and
dealt round robin into ``inner_folds`` groups: the i-th subject in name order goes to group ``i % K``. The
split depends on nothing but the names and K, so every process, task and rerun finds the same groups.
"""
from __future__ import annotations

from collections.abc import Sequence


def inner_groups(training_subjects: list[str], groups: int) -> list[list[str]]:
    """``groups`` lists of subjects, each sorted by name; group g holds the subjects g, g + K, ... in name order."""
    if not 2 <= groups <= len(training_subjects):
        raise ValueError(f"inner_folds must be between 2 and the {len(training_subjects)} training subjects, "
                         f"got {groups}")
    ordered = sorted(training_subjects)
    return [ordered[g::groups] for g in range(groups)]


def fold_inner_groups(subjects: Sequence[str], inner_folds: int, subject: str) -> list[list[str]]:
    """The ``inner_folds`` inner groups of the fold of ``subjects`` (subject_list) that holds out ``subject``."""
    return inner_groups([s for s in subjects if s != subject], inner_folds)


def inner_training_subjects(subjects: Sequence[str], subject: str, group: list[str]) -> list[str]:
    """The subjects an inner model trains on: every subject of ``subjects`` but the held-out one and its group,
    in ``subject_list`` order (the order the outer model's windows are stacked in)."""
    return [s for s in subjects if s != subject and s not in group]
