"""Atomic writes: a temporary name in the same folder, then ``os.replace``.

A crash or a bad input never leaves a half-written checkpoint or table behind. The file gets the permissions
any new file gets (0644 under the usual umask 022), as a plain ``open(path, "w")`` would give it: the temporary
file is created with mode 0666 less the umask, not with ``tempfile.mkstemp``'s private 0600.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_NAME_TRIES = 100


def new_file_beside(path: Path) -> Path:
    """Create an empty, uniquely named hidden file in ``path``'s folder (mode 0666 less the umask); its path."""
    for _ in range(_NAME_TRIES):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name beside {path.name}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_file_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_csv(path: str | Path, table) -> Path:
    """Write a pandas DataFrame without its index."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return Path(path)
