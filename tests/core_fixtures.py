"""The one helper module of the tests: tiny synthetic archives and their config sections, CLIs called in this
process, the pipeline run from a test, run outputs compared byte for byte, small file makers.

:func:`run_pipeline` calls ``python -m pipeline`` in this process (its ``main``, with the environment given),
which is what pipeline.sh runs; ``AUWGCN_PIPELINE_SUBPROCESS=1`` runs ``bash pipeline.sh`` instead, so the same
test can be run against a tree that has no ``pipeline`` package (to watch it fail there).
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
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


# eval_info.json fields that name a place or a time, not a result
PATH_AND_TIME_FIELDS = ("checkpoints_dir", "checkpoints_fingerprint")


@dataclass
class Result:
    """What a command did: its exit status and what it printed."""
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-4000:]}\n{self.stderr[-4000:]}"


def call_main(main: Callable[[list[str]], int], argv: list[str], cwd: Path | None = None) -> Result:
    """A CLI's ``main(argv)`` in this process (no interpreter to start, no torch to import again): its exit
    status and output. The working folder and torch's thread count are restored afterwards."""
    out, err = io.StringIO(), io.StringIO()
    threads, here = torch.get_num_threads(), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)
    return Result(code, out.getvalue(), err.getvalue())


def run_pipeline(env: dict, cwd: Path | None = None, base: dict | None = None, timeout: float = 900,
                 process: bool = False) -> Result:
    """The pipeline with ``env`` over ``base`` (default: this process's environment), in this process; as
    ``bash pipeline.sh`` with ``process`` (e.g. under Slurm, whose sbatch and squeue read the process
    environment)."""
    full = {**(base or os.environ), "PYTHON": sys.executable, **{k: str(v) for k, v in env.items()}}
    if process or os.environ.get("AUWGCN_PIPELINE_SUBPROCESS") == "1":
        done = subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], env=full, cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)
    from pipeline.__main__ import main

    return call_main(lambda argv: main(argv, env=full), [], cwd)


def run_script(script: str, config: Path, *extra: str, subject: str = "subj_a", output: Path | None = None,
               in_process: bool = True) -> Result:
    """``train.py`` / ``eval.py`` on section ``tiny`` of ``config`` (run folder: ``config``'s folder/run): its
    ``main`` in this process, or (``in_process=False``) the script as its own process."""
    argv = ["--dataset", "tiny", "--config", str(config), "--output", str(output or config.parent / "run"),
            "--subject", subject, "--quiet", *map(str, extra)]
    if in_process:
        return call_main(importlib.import_module(Path(script).stem).main, argv)
    done = subprocess.run([sys.executable, str(REPO_ROOT / script), *argv], capture_output=True, text=True,
                          timeout=300)
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit status 2 and one line ``error: ...`` holding every fragment."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def copy_dataset(source_root: Path, target_root: Path) -> Path:
    """A copy of a tiny dataset's features and config under ``target_root``; returns the config path."""
    import shutil

    shutil.copytree(source_root / "features", target_root / "features")
    shutil.copy(source_root / "config.yaml", target_root / "config.yaml")
    return target_root / "config.yaml"


def touch(path: Path) -> Path:
    """An empty file, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_config(tmp_path: Path, name: str, **extra):
    """Section ``name`` (CAS(ME)^2's values, features under tmp_path, ``extra`` over them) in tmp_path/config.yaml,
    loaded."""
    from utils.config import load_config

    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update({"segment_feat_root": "features", "anno_csv": "anno.csv", "adjacency": None, **extra})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({name: section}))
    return load_config(name, path)


def tiny_archive(root: Path, subjects: list[str], seed: int = 3, rows: int = 560, **values) -> Path:
    """A synthetic archive of one video per subject under ``root/features`` and a config ``root/config.yaml``
    (section ``tiny``: 3 epochs from 1, small batches, CPU); ``values`` override config keys."""
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
    state = torch.load(path, weights_only=True)["state_dict"]
    return state[next(key for key in state if key.endswith(".adj"))].numpy()


def flow_to_feature_units(flow: np.ndarray, quantise: bool = True) -> np.ndarray:
    """Flow in px -> feature units as extraction stores and reads them back (codes storage)."""
    from feature_extraction.flow import stored_flow, to_feature_units

    return to_feature_units(stored_flow(flow, quantise))


class MarkedFaces:
    """Stand-in FaceLandmarker: the whole frame is the face; no landmarks on frames whose marker pixel
    (frame number, top-left) is in ``faceless``."""

    def __init__(self, faceless=()):
        self.faceless = set(faceless)

    def face_box(self, gray):
        return (0, gray.shape[0] - 1, 0, gray.shape[1] - 1)

    def face_boxes(self, gray):
        return [self.face_box(gray)]

    def landmarks(self, cropped, detect="full"):
        return None if int(cropped[0, 0]) in self.faceless else np.full((68, 2), 20)


def marked_frame(number: int) -> np.ndarray:
    """A noise frame whose top-left 4x4 corner holds its number (read back by :class:`MarkedFaces`)."""
    image = np.random.default_rng(number).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    image[:4, :4] = number  # survives JPEG well enough in the 4x4 corner block
    return image


def marked_frame_folder(folder: Path, numbers) -> Path:
    """A frame folder img<N>.png of :func:`marked_frame` for each number."""
    import cv2

    folder.mkdir()
    for number in numbers:
        cv2.imwrite(str(folder / f"img{number}.png"), marked_frame(number))  # PNG: the marker stays exact
    return folder


def megc_brute_force(kept, truth):
    """The megc rule read literally, with plain loops: {type: (tp, fp, fn, left_out)}."""
    def iou(p, g):
        len_p, len_g = p[1] - p[0] + 1, g[1] - g[0] + 1
        if len_p <= 0 or len_g <= 0:
            return 0.0
        inter = max(0, min(p[1], g[1]) - max(p[0], g[0]) + 1)
        return inter / (len_p + len_g - inter)

    out = {}
    for t in (2, 1):
        preds = [r for r in kept if r[4] == t]
        gts = [r for r in truth if r[3] == t]
        if not preds:
            out[t] = (0, 0, 0, len(gts))
            continue
        tp = fp = 0
        matched = set()
        for pred in preds:  # written order
            if not any(g[0] == pred[0] for g in gts):
                continue  # a video without ground truth of this type: not counted
            reached = [j for j, g in enumerate(gts)
                       if g[0] == pred[0] and j not in matched and iou(pred[1:3], g[1:3]) >= 0.5]
            if reached:
                tp += len(reached)
                matched.update(reached)
            else:
                fp += 1
        out[t] = (tp, fp, len(gts) - tp, 0)
    return out


def write_fold_model(run: Path, subject: str, section: str, settings) -> None:
    """A fold of ``run`` with one untrained checkpoint (seed 0), trained (so its logs say) on ``section`` with
    extraction ``settings`` (a FlowSettings; None: no record)."""
    from feature_extraction.record import write_record
    from model.auwgcn import AUWGCN

    models, logs = run / subject / "models", run / subject / "logs"
    models.mkdir(parents=True)
    logs.mkdir()
    torch.manual_seed(0)
    torch.save({"epoch": 1, "state_dict": AUWGCN(torch.eye(12)).state_dict()}, models / "checkpoint_epoch_000.pth.tar")
    (logs / "config.txt").write_text(json.dumps({"dataset": section, "subject": subject}))
    if settings is not None:
        write_record(logs, settings, "generic")


def write_grey_video(path: Path, fps: float, n_frames: int = 6, size: tuple[int, int] = (32, 24)) -> Path:
    """An MJPG video of ``n_frames`` flat grey frames (grey 40 * index, mod 256) at ``fps``."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for index in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), 40 * index % 256, np.uint8))
    writer.release()
    return path
