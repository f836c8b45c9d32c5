"""Precision / recall / F1, per-epoch rows, epoch selection and pooled scores (METHOD.md 8.5-8.7)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES, MACRO, MICRO
from utils.errors import UserError

_GROUPS = (*EXPRESSION_TYPES.values(), "all")
SCORE_ROWS = (*EXPRESSION_TYPES.values(), "overall")  # the rows of every pooled table: micro, macro, overall
COUNT_COLUMNS = [f"{g}_{c}" for g in _GROUPS for c in ("tp", "n", "m")]
EPOCH_METRIC_COLUMNS = [f"{g}_{c}" for g in _GROUPS for c in ("precision", "recall", "f1")] + COUNT_COLUMNS + ["epoch"]
SELECTION_PROTOCOLS = ("best-on-test", "fixed-epoch", "last-epoch", "inner-cv")


def precision_recall_f1(tp, n, m) -> tuple[float, float, float]:
    """P = TP/N, R = TP/M, F1 = 2PR/(P+R); each 0 where undefined (N = 0, M = 0, P + R = 0)."""
    precision = tp / n if n > 0 else 0.0
    recall = tp / m if m > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def _counts_with_all(counts: dict[int, tuple[int, int, int]]) -> dict[str, int]:
    """COUNT_COLUMNS from ``{MICRO: (tp, n, m), MACRO: (tp, n, m)}``; all = micro + macro."""
    missing = sorted(set(EXPRESSION_TYPES) - set(counts))
    if missing:
        raise ValueError(f"counts lack expression types {missing} (need {MICRO} = micro and {MACRO} = macro)")
    row = {}
    for type_idx, prefix in EXPRESSION_TYPES.items():
        row.update(zip((f"{prefix}_tp", f"{prefix}_n", f"{prefix}_m"), (int(v) for v in counts[type_idx])))
    for c in ("tp", "n", "m"):
        row[f"all_{c}"] = row[f"micro_{c}"] + row[f"macro_{c}"]
    return {c: row[c] for c in COUNT_COLUMNS}


def epoch_metrics_row(counts: dict[int, tuple[int, int, int]], epoch: int) -> dict:
    """One epoch_metrics.csv row (keys ``EPOCH_METRIC_COLUMNS``, in order) from (TP, N, M) per type."""
    totals = _counts_with_all(counts)
    row = {}
    for g in _GROUPS:
        row.update(zip((f"{g}_precision", f"{g}_recall", f"{g}_f1"),
                       precision_recall_f1(totals[f"{g}_tp"], totals[f"{g}_n"], totals[f"{g}_m"])))
    row.update(totals)
    row["epoch"] = int(epoch)
    return {c: row[c] for c in EPOCH_METRIC_COLUMNS}


def empty_counts_row(m_micro: int, m_macro: int) -> dict:
    """best_res.csv row (``COUNT_COLUMNS``) when the chosen epoch has no proposal: TP = N = 0, M kept."""
    return _counts_with_all({MICRO: (0, 0, m_micro), MACRO: (0, 0, m_macro)})


def fixed_epoch(config) -> int | None:
    """The epoch that fixed-epoch selection takes (config key ``abfcm_best_epoch``); None under any other."""
    return config["abfcm_best_epoch"] if config["selection"] == "fixed-epoch" else None


def protocol_epoch(epoch_metrics: pd.DataFrame, protocol: str, fixed_epoch: int | None = None,
                   last_epoch: int | None = None) -> int | None:
    """The epoch ``protocol`` chooses, whether or not it has a row (proposals) in ``epoch_metrics``.

    best-on-test: highest all_f1, the earliest epoch on ties (the published
    pick depends on an unstable sort), None when the table is empty (no epoch
    had a proposal); fixed-epoch: ``fixed_epoch``; inner-cv: ``fixed_epoch``,
    here the epoch the inner cross-validation chose (model/inner_cv.py), so the
    held-out labels only count it; last-epoch: ``last_epoch`` (the final
    checkpoint, so the pick never depends on the test outputs), or, when it is
    not given, the highest epoch number in the table (None when empty).
    """
    if protocol not in SELECTION_PROTOCOLS:
        raise ValueError(f"unknown selection protocol {protocol!r}; valid: {', '.join(SELECTION_PROTOCOLS)}")
    if protocol in ("fixed-epoch", "inner-cv") and fixed_epoch is None:
        raise ValueError(f"selection protocol '{protocol}' needs fixed_epoch")
    needed = ["epoch"] + (["all_f1"] if protocol == "best-on-test" else [])
    missing = [c for c in needed if c not in epoch_metrics.columns]
    if missing:
        raise ValueError(f"epoch metrics table lacks columns {missing}")
    if protocol in ("fixed-epoch", "inner-cv"):
        return int(fixed_epoch)
    if protocol == "last-epoch" and last_epoch is not None:
        return int(last_epoch)
    if epoch_metrics.empty:
        return None
    epochs = epoch_metrics["epoch"].to_numpy()
    if protocol == "last-epoch":  # without the final checkpoint's number: the highest epoch with a row
        return int(epochs.max())
    f1 = epoch_metrics["all_f1"].to_numpy(dtype=np.float64)
    return int(epochs[np.lexsort((epochs, -f1))[0]])  # highest F1, then smallest epoch


def epoch_row(epoch_metrics: pd.DataFrame, epoch: int | None) -> pd.Series | None:
    """The row of ``epoch`` in ``epoch_metrics``; None when it has none (no proposal then) or ``epoch`` is None."""
    hits = np.flatnonzero(epoch_metrics["epoch"].to_numpy() == epoch) if epoch is not None else []
    return epoch_metrics.iloc[hits[0]].copy() if len(hits) else None


def select_epoch(epoch_metrics: pd.DataFrame, protocol: str, fixed_epoch: int | None = None,
                 last_epoch: int | None = None) -> pd.Series | None:
    """The epoch_metrics row of the epoch ``protocol`` chooses (:func:`protocol_epoch`), or None when that
    epoch has no row (no proposal) or none was chosen."""
    return epoch_row(epoch_metrics, protocol_epoch(epoch_metrics, protocol, fixed_epoch, last_epoch))


def read_epoch_metrics(path: Path) -> pd.DataFrame:
    """A fold's ``epoch_metrics.csv`` (one row per epoch with proposals, ``EPOCH_METRIC_COLUMNS``; the counts
    and ``epoch`` are what readers use). Raises :class:`UserError` naming the file when it cannot be read or
    lacks one of those columns."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable epoch metrics table ({str(error).splitlines()[0]})") from None
    missing = [c for c in (*COUNT_COLUMNS, "epoch") if c not in table.columns]
    if missing:
        raise UserError(f"{path}: epoch metrics table lacks column(s) {', '.join(missing)}")
    return table


def pooled_scores(best_rows: pd.DataFrame) -> pd.DataFrame:
    """Final scores from one best_res row per fold (``COUNT_COLUMNS``).

    Counts are summed over folds first, then P, R, F1 computed. Returns a
    table indexed micro / macro / overall with columns
    tp, fp, fn, n, m, precision, recall, f1 (fp = n - tp, fn = m - tp).
    """
    missing = [c for c in COUNT_COLUMNS if c not in best_rows.columns]
    if missing:
        raise ValueError(f"best_res rows lack columns {missing}")
    sums = best_rows[COUNT_COLUMNS].sum(axis=0)
    for c in ("tp", "n", "m"):
        if sums[f"all_{c}"] != sums[f"micro_{c}"] + sums[f"macro_{c}"]:
            raise ValueError(f"best_res rows: all_{c} is not micro_{c} + macro_{c}")
    records = []
    for g in _GROUPS:
        tp, n, m = (int(sums[f"{g}_{c}"]) for c in ("tp", "n", "m"))
        records.append((tp, n - tp, m - tp, n, m) + precision_recall_f1(tp, n, m))
    return pd.DataFrame(records, columns=["tp", "fp", "fn", "n", "m", "precision", "recall", "f1"],
                        index=pd.Index(SCORE_ROWS))


def summed_epoch_metrics(parts: list[tuple[pd.DataFrame, dict[str, int]]], epochs: list[int]) -> pd.DataFrame:
    """Per-epoch metrics of several evaluations pooled: counts summed over the parts, then P, R, F1.

    ``parts``: each evaluation's epoch_metrics table and its M per type without proposals
    (``{'micro': m, 'macro': m}``, eval_info.json's ``m_without_proposals``). An epoch missing from a part's
    table (it had no proposal there) counts TP 0, N 0 and that M, as best_res.csv does for such an epoch.
    Returns one row per epoch of ``epochs`` (``EPOCH_METRIC_COLUMNS``).
    """
    names = list(EXPRESSION_TYPES.values())
    totals = np.zeros((len(epochs), len(names), 3), dtype=np.int64)  # (epoch, type, tp/n/m)
    position = {epoch: i for i, epoch in enumerate(epochs)}
    for table, m_without in parts:
        counts = np.zeros_like(totals)
        for t, name in enumerate(names):
            counts[:, t, 2] = m_without[name]
        rows = table[table["epoch"].isin(epochs)]
        where = rows["epoch"].map(position).to_numpy(dtype=np.int64)
        for t, name in enumerate(names):
            counts[where, t] = rows[[f"{name}_tp", f"{name}_n", f"{name}_m"]].to_numpy(dtype=np.int64)
        totals += counts
    return pd.DataFrame([epoch_metrics_row({t: tuple(totals[i, k]) for k, t in enumerate(EXPRESSION_TYPES)}, epoch)
                         for i, epoch in enumerate(epochs)], columns=EPOCH_METRIC_COLUMNS)
