"""Command-line pieces shared by train.py and eval.py."""
from __future__ import annotations

import argparse
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
