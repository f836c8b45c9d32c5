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
