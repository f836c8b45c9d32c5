"""Registries: a name (a config value, a command-line choice) -> the object that carries its behaviour.

Each registry is the one list of its names: the config checker (utils/config.py) and argparse's ``choices`` read
it, and code asks it for the entry behind a name. An unknown name is a one-line :class:`UserError` naming the
kind and the known names; nothing falls back to a default entry.

Where entries live:

* entries in the ground sit beside their registry: matching rules (utils/matching.py), selection protocols
  (utils/selection.py), adjacency scopes (utils/make_coc_matrix.py);
* entries of a stage are declared here by module path, so that the config checker knows their names without
  importing a stage (utils/ imports none); an entry's module is imported the first time it is asked for:
  :data:`FLOW_METHODS` (feature_extraction/flow.py) and :data:`RAW_LAYOUTS` (one module per dataset under
  feature_extraction/adapters/).

Adding an entry is its module (or object) and one line in its registry.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from utils.errors import UserError

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    """Names -> entries of one ``kind`` (``"matching rule"``...), in the order given.

    An entry is an object, or a string ``"package.module"`` (the module is the entry) or
    ``"package.module:NAME"`` (an attribute of it), imported on first lookup. ``in``, ``len`` and iteration see
    the names, so a registry serves as argparse's ``choices``.
    """

    def __init__(self, kind: str, entries: dict[str, Entry | str]):
        self.kind = kind
        self._entries: dict[str, Entry | str] = dict(entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"

    def __getitem__(self, name: str) -> Entry:
        """The entry named ``name``; an unknown name is a one-line UserError listing the known ones."""
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}; expected one of {', '.join(self.names)}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            loaded = importlib.import_module(module)
            entry = getattr(loaded, attribute) if attribute else loaded
            self._entries[name] = entry
        return entry

    def items(self) -> Iterator[tuple[str, Entry]]:
        return ((name, self[name]) for name in self.names)

    @contextmanager
    def added(self, name: str, entry: Entry | str) -> Iterator[Entry | str]:
        """``name`` registered for the duration of a ``with`` block (tests, plug-ins tried out); an existing name
        is refused, so a built-in entry is never replaced."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        self._entries[name] = entry
        try:
            yield entry
        finally:
            del self._entries[name]


# A flow method: feature_extraction.flow.FlowMethod (how to make its flow function, its face-detection mode and
# the option that varies its features).
FLOW_METHODS: Registry = Registry("flow method", {
    "tvl1": "feature_extraction.flow:TVL1",
    "dis": "feature_extraction.flow:DIS",
    "farneback": "feature_extraction.flow:FARNEBACK",
})
# A raw dataset layout (config key raw_layout, the extraction CLI's --dataset): its adapter module
# (feature_extraction/adapters/__init__.py says what one provides).
RAW_LAYOUTS: Registry = Registry("dataset layout", {
    "cas(me)^2": "feature_extraction.adapters.casme2",
    "samm": "feature_extraction.adapters.samm",
    "cas(me)^3": "feature_extraction.adapters.casme3",
    "generic": "feature_extraction.adapters.generic",
})
