"""Running pipeline.sh's work from a test, and comparing runs byte for byte.

:func:`run_pipeline` calls ``python -m pipeline`` in this process (its ``main``, with the environment given),
which is what pipeline.sh runs; ``AUWGCN_PIPELINE_SUBPROCESS=1`` runs ``bash pipeline.sh`` instead, so the same
test can be run against a tree that has no ``pipeline`` package (to watch it fail there).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from core_fixtures import REPO_ROOT, tiny_annotations

# eval_info.json fields that name a place or a time, not a result
PATH_AND_TIME_FIELDS = ("checkpoints_dir", "checkpoints_fingerprint")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-4000:]}\n{self.stderr[-4000:]}"


def run_pipeline(env: dict, cwd: Path | None = None, base: dict | None = None, timeout: float = 900) -> Result:
    """The pipeline with ``env`` over ``base`` (default: this process's environment)."""
    full = {**(base or os.environ), "PYTHON": sys.executable, **{k: str(v) for k, v in env.items()}}
    if os.environ.get("AUWGCN_PIPELINE_SUBPROCESS") == "1":
        done = subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], env=full, cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)
    import torch

    from pipeline.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    threads, here = torch.get_num_threads(), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([], env=full)
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)
    return Result(code, out.getvalue(), err.getvalue())


def tiny_archive(root: Path, subjects: list[str], seed: int = 3, rows: int = 560, **values) -> Path:
    """A synthetic archive of one video per subject under ``root/features`` and a config ``root/config.yaml``
    (section ``tiny``: 3 epochs from 1, small batches, CPU); ``values`` override config keys."""
    from dataset.synthetic_features import write_synthetic_features

    table = tiny_annotations()
    table = table[table["video_name"].str.endswith("_0000")].copy()
    parts = []
    for index, subject in enumerate(subjects):  # the three subjects' rows, dealt out to as many as asked
        rows_of = table[table["subject"] == table["subject"].unique()[index % 3]].copy()
        rows_of["subject"], rows_of["video_name"] = subject, f"{subject}_0000"
        parts.append(rows_of)
    annotations = pd.concat(parts, ignore_index=True)
    write_synthetic_features(root / "features", annotations, seed=seed, min_rows=rows)
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update({"segment_feat_root": "features", "anno_csv": "features/annotations.csv", "adjacency": None,
                    "epochs": 3, "epoch_begin": 1, "subject_list": list(subjects), "device": "cpu", "batch_size": 2,
                    **values})
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"tiny": section}, sort_keys=False))
    return config


def edit_config(config: Path, section: str = "tiny", **values) -> None:
    document = yaml.safe_load(config.read_text())
    document[section].update(values)
    config.write_text(yaml.safe_dump(document, sort_keys=False))


def report_data(path: Path) -> dict:
    """The data a run report draws (its embedded JSON)."""
    text = path.read_text()
    found = re.search(r'<script type="application/json" id="review-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


def _comparable(path: Path) -> bytes:
    if path.name == "eval_info.json":
        info = json.loads(path.read_text())
        for name in PATH_AND_TIME_FIELDS:
            info.pop(name, None)
        return json.dumps(info, sort_keys=True).encode()
    if path.name == "report.html":
        return json.dumps(report_data(path), sort_keys=True).encode()
    return path.read_bytes()


RESULT_NAMES = {"epoch_metrics.csv", "eval_info.json", "best_res.csv", "final_results.csv", "final_results.json",
                "megc_predictions.csv", "megc_ground_truth.csv", "final_info.json", "seed_results.csv",
                "seed_results.json", "report.html", "adjacency.npy", "adjacency_all.npy"}


def run_outputs(output: Path, seeds: list[str] | None = None, final: bool = False, inner: bool = False,
                stamps: bool = True) -> dict[str, bytes]:
    """What a run's results are, by path relative to ``output``: checkpoints, per-epoch and pooled tables,
    eval_info.json (without its path and time fields), MEGC files, the final model, the report's data, and
    (``stamps``) every task's stamp. Only the folders of the request given: leftovers of other requests (an
    earlier seed, final model or inner models) are not its outputs."""
    roots = [output / f"seed_{s}" for s in seeds] if seeds else [output]
    files = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(output)
            parts = relative.parts[len(root.relative_to(output).parts):]
            if not path.is_file() or not parts or parts[0] in ("pipeline_logs", "plots", "previews", "slurm"):
                continue
            if (parts[0] == "final" and not final) or ("inner" in parts and not inner) or "logs" in parts:
                continue
            if parts[0].startswith("seed_") or (not seeds and relative.name.startswith("seed")):
                continue  # another request's seeds
            if path.suffix == ".tar" or path.name in RESULT_NAMES or (
                    stamps and path.parent.name == "stamps" and path.suffix == ".json"):
                files[str(relative)] = _comparable(path)
    if seeds:
        for name in ("seed_results.csv", "seed_results.json", "stamps/seeds.json"):
            files[name] = (output / name).read_bytes() if (output / name).is_file() else b"missing"
    return files


def differences(got: dict[str, bytes], want: dict[str, bytes]) -> list[str]:
    """The paths whose bytes differ or that only one side has."""
    return sorted(name for name in set(got) | set(want) if got.get(name) != want.get(name))


def checkpoint_adjacency(path: Path) -> np.ndarray:
    import torch

    state = torch.load(path, weights_only=True)["state_dict"]
    return state[next(key for key in state if key.endswith(".adj"))].numpy()
