"""What the files of a feature archive hold, cheaply: a per-file content manifest and the digests read from it.

The extraction's merge writes ``<segment_feat_root>/manifest.json`` (:func:`write_manifest`):
``{"files": {"<split>/<subject>/<window>.npz": [size, mtime_ns, "<sha256>"]}}``, paths relative to the
archive, so a moved archive keeps its manifest. :class:`ContentIndex` gives a folder's content digest from
it: a file whose size and modification time match its entry takes the recorded hash; any other file (no
manifest, a file written or edited since) is hashed. A task's key holds these digests, never a path.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from utils.io import atomic_write_text

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _entry(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def window_files(root: Path) -> list[Path]:
    """Every window file of the archive at ``root`` (``train/*/*.npz``, ``test/*/*.npz``), sorted."""
    return sorted(path for split in ("train", "test") for path in (Path(root) / split).glob("*/*.npz"))


def write_manifest(path: Path, root: Path, known: dict[str, str] | None = None) -> dict:
    """Write the manifest of every window file under ``root`` to ``path``; ``known``: hashes already computed
    (relative path -> sha256), e.g. of the files just written."""
    known = known or {}
    files = {}
    for file in window_files(root):
        relative = file.relative_to(root).as_posix()
        size, mtime = _entry(file)
        files[relative] = [size, mtime, known.get(relative) or file_sha256(file)]
    document = {"files": files}
    atomic_write_text(path, json.dumps(document, indent=0, sort_keys=True) + "\n")
    return document


class ContentIndex:
    """Content digests of files and folders, from manifests where they still describe the files.

    One per decision pass: digests are remembered with the size and modification time they were taken at,
    so a file written in between is hashed again.
    """

    def __init__(self) -> None:
        self._manifests: dict[Path, dict] = {}
        self._hashes: dict[Path, tuple[int, int, str]] = {}

    def _manifest(self, root: Path, manifest: Path | None) -> dict:
        if manifest is None:
            return {}
        try:
            stamp = _entry(manifest)
        except OSError:
            return {}
        cached = self._manifests.get(manifest)
        if cached is None or cached[0] != stamp:
            try:
                files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
            except (OSError, ValueError, AttributeError):
                files = {}
            cached = (stamp, files if isinstance(files, dict) else {})
            self._manifests[manifest] = cached
        return cached[1]

    def file(self, path: Path, root: Path | None = None, manifest: Path | None = None) -> str:
        """The sha256 of ``path``'s bytes (from ``manifest`` of the archive at ``root`` when it still matches)."""
        path = Path(path)
        size, mtime = _entry(path)
        remembered = self._hashes.get(path)
        if remembered is not None and remembered[:2] == (size, mtime):
            return remembered[2]
        digest = None
        if root is not None:
            entry = self._manifest(Path(root), manifest).get(path.relative_to(root).as_posix())
            if isinstance(entry, list) and len(entry) == 3 and tuple(entry[:2]) == (size, mtime):
                digest = entry[2]
        digest = digest or file_sha256(path)
        self._hashes[path] = (size, mtime, digest)
        return digest

    def folder(self, folder: Path, pattern: str = "*.npz", root: Path | None = None,
               manifest: Path | None = None) -> str | None:
        """One digest over the names and contents of ``folder``'s files matching ``pattern``; None when the
        folder has none."""
        files = sorted(Path(folder).glob(pattern)) if Path(folder).is_dir() else []
        if not files:
            return None
        digest = hashlib.sha256()
        for path in files:
            digest.update(f"{path.name}\0{self.file(path, root, manifest)}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

