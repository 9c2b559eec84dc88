"""Validation entries and the fixers that correct them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

RawDocument = dict[str, Any]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Fixer:
    """A named correction. `apply` returns a corrected copy and never mutates its input.

    Names are stable and typeable after `storm validate --fix`, e.g.
    `drop-edge:render:comp` or `rename-param:render:chunksize:chunk_size`.
    """

    name: str
    description: str
    edit: Callable[[RawDocument], None] = field(repr=False, compare=False)

    def apply(self, document: RawDocument) -> RawDocument:
        fixed = copy.deepcopy(document)
        self.edit(fixed)
        return fixed


@dataclass(frozen=True)
class Entry:
    severity: Severity
    code: str
    message: str
    nodes: tuple[str, ...] = ()
    field: str | None = None
    fixers: tuple[Fixer, ...] = ()
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "nodes": list(self.nodes),
            "field": self.field,
            "line": self.line,
            "fixers": [{"name": f.name, "description": f.description} for f in self.fixers],
        }


def error(code: str, message: str, **kwargs: Any) -> Entry:
    return Entry(Severity.ERROR, code, message, **kwargs)


def warning(code: str, message: str, **kwargs: Any) -> Entry:
    return Entry(Severity.WARNING, code, message, **kwargs)


def info(code: str, message: str, **kwargs: Any) -> Entry:
    return Entry(Severity.INFO, code, message, **kwargs)


def has_errors(entries: list[Entry]) -> bool:
    return any(e.severity is Severity.ERROR for e in entries)


class DocumentError(ValueError):
    """Raised by the strict loaders; carries every entry (errors first)."""

    def __init__(self, entries: list[Entry], source: str | None = None) -> None:
        self.entries = sorted(entries, key=lambda e: _ORDER[e.severity])
        self.source = source
        errors = [e for e in self.entries if e.severity is Severity.ERROR]
        head = errors[0].message if errors else "invalid document"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{head}{more}")


_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def sort_entries(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: _ORDER[e.severity])
