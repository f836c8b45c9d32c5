"""Command-line pieces shared by train.py and eval.py."""
from __future__ import annotations

import argparse
import ctypes
from pathlib import Path

import torch

from utils.errors import UserError


def fold_parser(description: str) -> argparse.ArgumentParser:
    """The published flags of one fold: --dataset --output --subject, plus --config, --device, --quiet."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", required=True, help="config section, e.g. cas(me)^2, samm, mesynth")
    parser.add_argument("--output", required=True, type=Path, help="run folder; the fold lives in <output>/<subject>")
    parser.add_argument("--subject", required=True, help="held-out subject, e.g. casme_015")
    parser.add_argument("--config", default=None, help="config file (default: config.yaml beside the scripts)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 or auto (default: the config's device)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def check_run_folders(output: Path, subject: str, checkpoints: Path | None = None) -> None:
    """One-line refusals before any work: ``--output`` a file, a fold holding foreign results, an archive
    that ``--output`` would write into. ``checkpoints``: the read-only archive of ``eval.py --checkpoints``."""
    from utils.layout import FoldLayout

    if output.exists() and not output.is_dir():
        raise UserError(f"{output}: --output exists and is not a folder")
    if checkpoints is not None:
        if not checkpoints.is_dir():
            raise UserError(f"{checkpoints}: --checkpoints is not a folder")
        if output.resolve().is_relative_to(checkpoints.resolve()):
            raise UserError(f"{output}: --output is inside --checkpoints {checkpoints}, which is only read; "
                            "give a new folder")
    fold = FoldLayout.of(output, subject)
    if fold.root.exists() and not fold.root.is_dir():
        raise UserError(f"{fold.root}: the fold's folder exists and is not a folder")
    if fold.has_foreign_results():
        raise UserError(f"{fold.root}: holds results this project did not write (best_res.csv without "
                        "eval_info.json, e.g. a published archive); it is left alone: use "
                        "CHECKPOINTS=<archive> OUTPUT=<new folder> (eval.py --checkpoints <archive> --output <new folder>)")


def reuse_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse rather than hand it back to the OS.

    Every batch allocates and frees activations of tens of MB; by default glibc maps
    each one afresh and every first touch page-faults, which made evaluation about
    twice as slow. Allocation strategy only: results are unchanged. No-op without glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameter numbers from <malloc.h>
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; anything else as torch understands it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise UserError(f"unknown device '{name}' ({error})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{name}' requested but CUDA is not available")
    return device
