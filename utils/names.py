"""Subject and video names that become file or folder names.

Names come from sheets, annotation tables and folder names that users edit. A writer that builds a path from
one (``<root>/<subject>/<video>_<offset>.npz``, a cache file, a preview) first checks it here, so that a name
such as ``../../x`` can never reach outside the folder the writer was given.
"""
from __future__ import annotations

import os
from pathlib import Path

from utils.errors import UserError

_SEPARATORS = ("/", "\\")  # both, so a name stays one component on every system the files may travel to


def _problem(name: object, separators: tuple[str, ...]) -> str | None:
    """Why ``name`` cannot be a single path component, or None when it can."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not text"
    if name in ("", ".", ".."):
        return "is empty" if name == "" else "names a folder, not an entry in one"
    if any(separator in name for separator in separators):
        return f"holds a path separator ({' or '.join(separators)})"
    if any(ord(character) < 32 or ord(character) == 127 for character in name):
        return "holds a control character"
    return None


def check_path_name(name: object, source: str | Path, what: str = "name", local: bool = False) -> str:
    """``name`` itself when it is a plain single path component; else a one-line :class:`UserError` naming
    ``source`` (the sheet, table or folder the name came from), what it is and the name.

    Refused: a non-string, the empty name, ``.`` and ``..``, a name holding ``/`` or ``\\`` (which would
    name a folder of folders, ``../x`` included), and control characters (NUL ends a path for the system;
    a line break would split the one-line messages and logs that name the file). Every writer that builds
    a path from a subject or video name calls this first.

    ``local``: the name is that of a file or folder on this system (a spot input), so only this system's
    separators count: ``a$\\x$b`` is a plain file name on Linux and is spotted as such.
    """
    separators = tuple(dict.fromkeys(s for s in (os.sep, os.altsep) if s)) if local else _SEPARATORS
    problem = _problem(name, separators)
    if problem is not None:
        raise UserError(f"{source}: {what} {name!r} {problem}; it cannot name a file or folder")
    return name
