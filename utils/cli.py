"""Command-line pieces shared by every CLI: the --dataset, --config and --output flags, one fold's flags (train.py,
eval.py), run-folder checks and the device."""
from __future__ import annotations

import argparse
import ctypes
from pathlib import Path

from utils.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse whose flag errors follow the one error convention (utils/errors.py run_cli): one line
    ``error: <message>`` on stderr, exit status 2, no usage block."""

    def error(self, message):
        self.exit(2, f"error: {message}\n")


def shipped_sections() -> list[str]:
    """The config sections of the shipped config.yaml (cas(me)^2, samm, cas(me)^3, mesynth...), for help texts."""
    import yaml

    from utils.config import DEFAULT_CONFIG

    try:
        return [name for name in yaml.safe_load(DEFAULT_CONFIG.read_text()) if not name.startswith(".")]
    except (OSError, yaml.YAMLError, TypeError):
        return []


def add_dataset(parser: argparse.ArgumentParser, required: bool = True, help: str | None = None) -> None:
    """``--dataset``: a config section, everywhere. The shipped sections are read only for the default help (they
    import the config loader, which spot.py would otherwise import before it forks its helper)."""
    if help is None:
        help = f"config section (shipped: {', '.join(shipped_sections())}; or one of your own config file)"
    parser.add_argument("--dataset", required=required, default=None, help=help)


def add_config(parser: argparse.ArgumentParser) -> None:
    """``--config``: the config file."""
    parser.add_argument("--config", default=None, type=Path,
                        help="config file (default: config.yaml beside the scripts)")


def add_output(parser: argparse.ArgumentParser, help: str = "run folder") -> None:
    """``--output``: a run folder (required)."""
    parser.add_argument("--output", required=True, type=Path, help=help)


def fold_parser(description: str) -> argparse.ArgumentParser:
    """The published flags of one fold: --dataset --output --subject, plus --config, --device, --quiet."""
    parser = Parser(description=description)
    add_dataset(parser)
    add_output(parser, "run folder; the fold lives in <output>/<subject>")
    parser.add_argument("--subject", required=True, help="held-out subject, e.g. casme_015")
    add_config(parser)
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


def config_device(config):
    """The device a config section names (``device``, after any ``--device``), resolved as :func:`resolve_device`."""
    return resolve_device(config["device"])


def resolve_device(name: str):
    """``auto`` -> cuda when available, else cpu; anything else as torch understands it (a ``torch.device``)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise UserError(f"unknown device '{name}' ({error})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{name}' requested but CUDA is not available")
    return device
