"""A name -> entry registry (timm's pattern), shared by the model and dataset registries."""
from __future__ import annotations

from typing import Generic, TypeVar

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    def __init__(self, kind: str, error: type[Exception] = ValueError):
        self.kind = kind
        self.error = error
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, entry: Entry) -> None:
        self._entries[name] = entry

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def get(self, name: str) -> Entry:
        """The entry, or an error that names the unknown one and every allowed name."""
        if name not in self._entries:
            raise self.error(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._entries)}")
        return self._entries[name]
