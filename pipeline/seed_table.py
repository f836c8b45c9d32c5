"""One table over several seeds of the same LOSO: each seed's F1, their mean and standard deviation.

python -m pipeline.seed_table --output DIR --seeds 1 2 3

Reads ``<output>/seed_<s>/final_results.json`` (written by pipeline/final_results.py) and writes
``<output>/seed_results.csv`` and ``seed_results.json``. The standard deviation is the sample one
(ddof 1), left empty for a single seed.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from utils.errors import UserError, exit_process, run_cli
from utils.io import atomic_write_csv, atomic_write_text
from utils.layout import RunLayout
from utils.metrics import SCORE_ROWS


def seed_table(output: Path, seeds: list[str]) -> tuple[pd.DataFrame, dict]:
    """Rows micro / macro / overall; columns ``f1_seed_<s>`` for every seed, ``f1_mean``, ``f1_std``."""
    documents = {}
    for seed in seeds:
        path = RunLayout(output).seed(seed).final_results_json
        if not path.is_file():
            raise UserError(f"{path}: missing; pool seed {seed} first (bash pipeline.sh with SEEDS)")
        documents[seed] = json.loads(path.read_text())
    for key in ("matching", "selection", "fixed_epoch"):
        used = sorted({str(d.get(key)) for d in documents.values()})
        if len(used) > 1:
            raise UserError(f"{output}: seeds were evaluated with different {key} settings ({', '.join(used)})")
    f1 = np.array([[documents[s]["scores"][t]["f1"] for s in seeds] for t in SCORE_ROWS])  # (type, seed)
    mean = f1.mean(axis=1)
    std = f1.std(axis=1, ddof=1) if len(seeds) > 1 else np.full(len(SCORE_ROWS), np.nan)
    table = pd.DataFrame(f1, index=pd.Index(SCORE_ROWS, name="type"), columns=[f"f1_seed_{s}" for s in seeds])
    table["f1_mean"], table["f1_std"] = mean, std
    first = documents[seeds[0]]
    document = {"matching": first["matching"], "selection": first["selection"], "fixed_epoch": first.get("fixed_epoch"),
                "seeds": seeds, "subjects": first["subjects"],
                "f1": {t: {"per_seed": {s: float(v) for s, v in zip(seeds, f1[i])}, "mean": float(mean[i]),
                           "std": None if np.isnan(std[i]) else float(std[i])} for i, t in enumerate(SCORE_ROWS)}}
    atomic_write_csv(RunLayout(output).seed_results_csv, table.reset_index())
    atomic_write_text(RunLayout(output).seed_results_json, json.dumps(document, indent=2) + "\n")
    return table, document


def format_seed_table(table: pd.DataFrame, document: dict) -> str:
    seeds = document["seeds"]
    lines = [f"F1 over {len(seeds)} seeds (matching: {document['matching']}, selection: {document['selection']})",
             f"{'type':<8}" + "".join(f"{'seed ' + s:>10}" for s in seeds) + f"{'mean':>9}{'std':>9}"]
    for name, row in table.iterrows():
        std = "" if np.isnan(row.f1_std) else f"{row.f1_std:.4f}"
        lines.append(f"{name:<8}" + "".join(f"{row[f'f1_seed_{s}']:>10.4f}" for s in seeds)
                     + f"{row.f1_mean:>9.4f}{std:>9}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from utils.cli import add_output

    parser = argparse.ArgumentParser(description="Pool the per-seed LOSO tables into one F1 table with mean and std.")
    add_output(parser)
    parser.add_argument("--seeds", required=True, nargs="+")
    args = parser.parse_args(argv)

    def run() -> None:
        table, document = seed_table(args.output, args.seeds)
        print(format_seed_table(table, document))
        print(f"written: {args.output / 'seed_results.csv'}, {args.output / 'seed_results.json'}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
