"""A tiny synthetic feature archive and a config section for it, shared by the core tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch
import yaml

from dataset.synthetic_features import write_synthetic_features
from model.auwgcn import AUWGCN
from model.scoring import INFERENCE_BATCH, Scores, scores_of_checkpoints

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = ["subj_a", "subj_b", "subj_c"]
KEPT_COLUMNS = ["video_name", "start_frame", "end_frame", "score", "type_idx"]  # an NMS table's columns
TRUTH_COLUMNS = ["video_name", "start_frame", "end_frame", "type_idx"]  # ground truth as matching reads it


def kept_table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=KEPT_COLUMNS)


def truth_table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def run_demo_pipeline(root: Path, timeout: int, env: dict | None = None, base: dict | None = None,
                      **overrides) -> subprocess.CompletedProcess:
    """``bash pipeline.sh`` on the mesynth section with its paths moved under ``root`` (and ``overrides``),
    using the test's own interpreter; the run goes to ``root/run``. ``env``: more variables for the
    pipeline, over ``base`` (default this process's environment)."""
    root.mkdir(parents=True, exist_ok=True)
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["mesynth"]
    section.update(raw_root="raw", raw_anno="raw/CAS(ME)^2code_final.xlsx", segment_feat_root="features",
                   anno_csv="features/annotations.csv", adjacency=None, **overrides)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"demo": section}))
    env = {**(base or os.environ), "DATASET": "demo", "CONFIG": str(config), "OUTPUT": str(root / "run"),
           "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], env=env, capture_output=True, text=True,
                          timeout=timeout)


def tiny_annotations() -> pd.DataFrame:
    """Two videos per subject, a few macro (type 1) and micro (type 2) rows each."""
    rows = []
    for s_index, subject in enumerate(SUBJECTS):
        for v_index in range(2):
            video = f"{subject}_{v_index:04d}"
            shift = 17 * s_index + 5 * v_index
            rows += [
                (subject, video, 40 + shift, 60 + shift, 85 + shift, 1, "12"),
                (subject, video, 200 + shift, 212 + shift, 230 + shift, 2, "1+2"),
                (subject, video, 330 + shift, 352 + shift, 380 + shift, 1, "25+26"),
                (subject, video, 470 + shift, 478 + shift, 486 + shift, 2, "4"),
                (subject, video, 520 + shift, 540 + shift, 0, 1, "14"),  # end 0: labelled, never matched
            ]
    return pd.DataFrame(rows, columns=["subject", "video_name", "start_frame", "apex_frame", "end_frame",
                                       "type_idx", "au"])


def make_tiny_dataset(root: Path, epochs: int = 30, epoch_begin: int = 15, section: str = "tiny") -> Path:
    """Write features under ``root/features`` and a config file ``root/config.yaml``; return the config path."""
    write_synthetic_features(root / "features", tiny_annotations(), seed=3, min_rows=600)
    values = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    values.update(segment_feat_root="features", anno_csv="features/annotations.csv", adjacency=None,
                  epochs=epochs, epoch_begin=epoch_begin, subject_list=list(SUBJECTS), device="cpu",
                  batch_size=2)  # ~8 training windows: small batches give enough steps
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump({section: values}, sort_keys=False))
    return config_path


@torch.no_grad()
def predict(model: AUWGCN, inputs: torch.Tensor) -> Scores:
    """The plain reference forward of one checkpoint, which the batched evaluation must equal: eval-mode
    ``model`` on normalised windows ``(W, 270, 12, 2)``, in chunks of ``INFERENCE_BATCH``."""
    model.eval()
    logits = torch.cat([model(chunk) for chunk in inputs.split(INFERENCE_BATCH)])
    return scores_of_checkpoints(logits[None])[0]
