"""Epoch selection protocols (METHOD.md 8.6, docs/protocols.md): which epoch of a fold's checkpoints its counts
come from.

Each protocol is a :class:`SelectionProtocol` in :data:`SELECTION_PROTOCOLS`, which the config key ``selection``
and ``eval.py --selection`` name. A protocol picks the epoch from the fold's ``epoch_metrics`` table and says what
else it needs: a given epoch (fixed-epoch: ``abfcm_best_epoch``; inner-cv: the inner models' choice), inner
models trained on the fold's training subjects, a check of the config section.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from utils.errors import UserError
from utils.make_coc_matrix import ADJACENCY_SCOPES
from utils.registry import Registry


class SelectionProtocol:
    """A selection protocol. ``pick`` chooses among the epochs; the attributes say what the protocol reads."""

    name = ""
    # The config key holding the epoch it takes (fixed-epoch's abfcm_best_epoch), recorded as eval_info's
    # fixed_epoch; None: it chooses the epoch itself.
    epoch_key: str | None = None
    # Its epoch comes from inner models trained and evaluated on the fold's training subjects (model/inner_cv.py).
    uses_inner_models = False
    # Whether eval_info records the last checkpoint's epoch (the one it took).
    records_last_epoch = False
    tie_rule: str | None = None
    # A line printed under a pooled table selected with it.
    table_note: str | None = None
    # Columns of the epoch metrics table it reads.
    reads_columns: tuple[str, ...] = ("epoch",)

    def pick(self, epoch_metrics: pd.DataFrame, given: int | None, last_epoch: int | None) -> int | None:
        """The chosen epoch (None: none chosen). ``given``: the epoch handed to a protocol that takes one;
        ``last_epoch``: the final checkpoint's epoch, when known."""
        raise NotImplementedError

    def check_section(self, section: dict, where: str) -> None:
        """A UserError when the config section (defaults applied) cannot work under this protocol."""

    def needs_given_epoch(self) -> bool:
        return self.epoch_key is not None or self.uses_inner_models


class BestOnTest(SelectionProtocol):
    """The highest ``all_f1`` on the fold's own test labels (the paper's, optimistic); the earliest epoch on ties
    (the published pick depends on an unstable sort); None when no epoch had a proposal."""

    name = "best-on-test"
    tie_rule = "earliest epoch among equal all_f1"
    table_note = "note: best-on-test picks each fold's epoch on its own test labels (the paper's protocol; optimistic)"
    reads_columns = ("epoch", "all_f1")

    def pick(self, epoch_metrics, given, last_epoch):
        if epoch_metrics.empty:
            return None
        epochs = epoch_metrics["epoch"].to_numpy()
        f1 = epoch_metrics["all_f1"].to_numpy(dtype=np.float64)
        return int(epochs[np.lexsort((epochs, -f1))[0]])  # highest F1, then smallest epoch


class FixedEpoch(SelectionProtocol):
    """The config's ``abfcm_best_epoch``: the test labels only count it."""

    name = "fixed-epoch"
    epoch_key = "abfcm_best_epoch"

    def pick(self, epoch_metrics, given, last_epoch):
        return int(given)


class LastEpoch(SelectionProtocol):
    """The final checkpoint, so the pick never depends on the test outputs; without its number, the highest epoch
    of the table (None when empty)."""

    name = "last-epoch"
    records_last_epoch = True

    def pick(self, epoch_metrics, given, last_epoch):
        if last_epoch is not None:
            return int(last_epoch)
        return None if epoch_metrics.empty else int(epoch_metrics["epoch"].to_numpy().max())


class InnerCv(SelectionProtocol):
    """The epoch inner models chose on the fold's training subjects (model/inner_cv.py), handed in as ``given``:
    the held-out labels only count it."""

    name = "inner-cv"
    uses_inner_models = True

    def pick(self, epoch_metrics, given, last_epoch):
        return int(given)

    def check_section(self, section, where):
        """inner-cv keeps every held-out label away from the fold: a matrix built with them is refused."""
        if section.get("adjacency"):
            raise UserError(f"{where}: key 'adjacency' gives a matrix, which selection 'inner-cv' refuses: it may "
                            "have been built with every subject (the shipped SAMM one was); set adjacency: null and "
                            "adjacency_scope: train")
        if not ADJACENCY_SCOPES[section["adjacency_scope"]].holds_out_subject:
            raise UserError(f"{where}: key 'adjacency_scope' is '{section['adjacency_scope']}', which builds the "
                            "matrix with the held-out subject's labels; selection 'inner-cv' needs "
                            "adjacency_scope: train")
        groups, training_subjects = section["inner_folds"], len(section["subject_list"]) - 1
        if groups > training_subjects:
            raise UserError(f"{where}: key 'inner_folds' is {groups}, but a fold has only {training_subjects} "
                            f"training subject(s) to split: must be at most {training_subjects}")


# The protocols by name (config key selection, eval.py --selection, SELECTION=): a new one is a class and a line.
SELECTION_PROTOCOLS: Registry[SelectionProtocol] = Registry("selection protocol", {
    protocol.name: protocol for protocol in (BestOnTest(), FixedEpoch(), LastEpoch(), InnerCv())})


@dataclass(frozen=True)
class SelectionSettings:
    """What a fold's selection reads from the config: the protocol, the epoch it is given (fixed-epoch's
    ``abfcm_best_epoch``, else None) and the inner groups (inner-cv's ``inner_folds``, else None)."""

    protocol: SelectionProtocol
    fixed_epoch: int | None
    inner_folds: int | None

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ("selection",)
    # Read under the protocols that use them; they reach an evaluation's key as its fixed epoch and its inner tasks.
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("abfcm_best_epoch", "inner_folds")

    @classmethod
    def from_config(cls, config) -> "SelectionSettings":
        protocol = SELECTION_PROTOCOLS[config["selection"]]
        return cls(protocol, config[protocol.epoch_key] if protocol.epoch_key else None,
                   config["inner_folds"] if protocol.uses_inner_models else None)


def protocol_epoch(epoch_metrics: pd.DataFrame, protocol: str, fixed_epoch: int | None = None,
                   last_epoch: int | None = None) -> int | None:
    """The epoch ``protocol`` chooses (:meth:`SelectionProtocol.pick`), whether or not it has a row (proposals)
    in ``epoch_metrics``. ``fixed_epoch``: the epoch a protocol that takes one is given (fixed-epoch, inner-cv)."""
    chosen = SELECTION_PROTOCOLS[protocol]
    if chosen.needs_given_epoch() and fixed_epoch is None:
        raise ValueError(f"selection protocol '{protocol}' needs fixed_epoch")
    missing = [c for c in chosen.reads_columns if c not in epoch_metrics.columns]
    if missing:
        raise ValueError(f"epoch metrics table lacks columns {missing}")
    return chosen.pick(epoch_metrics, fixed_epoch, last_epoch)


def epoch_row(epoch_metrics: pd.DataFrame, epoch: int | None) -> pd.Series | None:
    """The row of ``epoch`` in ``epoch_metrics``; None when it has none (no proposal then) or ``epoch`` is None."""
    hits = np.flatnonzero(epoch_metrics["epoch"].to_numpy() == epoch) if epoch is not None else []
    return epoch_metrics.iloc[hits[0]].copy() if len(hits) else None


def select_epoch(epoch_metrics: pd.DataFrame, protocol: str, fixed_epoch: int | None = None,
                 last_epoch: int | None = None) -> pd.Series | None:
    """The epoch_metrics row of the epoch ``protocol`` chooses (:func:`protocol_epoch`), or None when that
    epoch has no row (no proposal) or none was chosen."""
    return epoch_row(epoch_metrics, protocol_epoch(epoch_metrics, protocol, fixed_epoch, last_epoch))
