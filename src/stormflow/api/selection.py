"""Resolve a selection (names, glob, status, kind) to node names through the store's filters.

Pure of HTTP: the API and the CLI share it. All given filters must match; `names`
are exact. A selection that matches no node is an error, so a mistyped glob never
looks like a successful action on nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from stormflow.core import Status
from stormflow.store import Store


class SelectionError(ValueError):
    """The selection is empty, has no filter, or matches no node."""


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...] | None = None
    glob: str | None = None
    status: tuple[str, ...] | None = None
    kind: tuple[str, ...] | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Selection:
        """From the JSON shape `{"names", "glob", "status", "kind"}` (absent or null: no filter)."""

        def seq(key: str) -> tuple[str, ...] | None:
            value = data.get(key)
            if value is None:
                return None
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise SelectionError(f"selection.{key} must be a list of strings")
            return tuple(str(v) for v in value)

        glob = data.get("glob")
        return cls(
            names=seq("names"),
            glob=None if glob is None else str(glob),
            status=seq("status"),
            kind=seq("kind"),
        )

    def describe(self) -> str:
        parts = []
        if self.names is not None:
            shown = ", ".join(self.names[:3]) + (" ..." if len(self.names) > 3 else "")
            parts.append(f"names [{shown}]")
        if self.glob is not None:
            parts.append(f"glob {self.glob!r}")
        if self.status is not None:
            parts.append(f"status {'|'.join(self.status)}")
        if self.kind is not None:
            parts.append(f"kind {'|'.join(self.kind)}")
        return " and ".join(parts)


def resolve(
    store: Store,
    workflow_id: str,
    selection: Selection | Mapping[str, Any],
    conn: Connection | None = None,
) -> list[str]:
    """Names of the selected nodes; names-only selections keep their order, others are in
    natural order of names.

    `conn`: resolve inside that transaction (an action's, so a query means "now", under its
    lock, without a second pool connection). Raises `UnknownWorkflow`, and `SelectionError`
    when nothing is selected. Unknown names in a names-only selection are returned as given:
    the core refuses them (`UnknownNode`), which names them.
    """
    sel = selection if isinstance(selection, Selection) else Selection.of(selection)
    if sel.names is None and sel.glob is None and sel.status is None and sel.kind is None:
        raise SelectionError("a selection needs at least one of names, glob, status, kind")
    if sel.status is not None:
        for s in sel.status:
            try:
                Status(s)
            except ValueError:
                raise SelectionError(f"unknown status {s!r} in selection") from None
    if conn is None:
        with store.read() as own:
            return _names(store, own, workflow_id, sel)
    return _names(store, conn, workflow_id, sel)


def _names(store: Store, conn: Connection, workflow_id: str, sel: Selection) -> list[str]:
    store.workflow_in(conn, workflow_id)  # UnknownWorkflow before "matches nothing"
    if sel.glob is None and sel.status is None and sel.kind is None:
        names = list(dict.fromkeys(sel.names or ()))
    else:
        rows = store.nodes_in(conn, workflow_id, statuses=sel.status, kinds=sel.kind, glob=sel.glob)
        wanted = set(sel.names) if sel.names is not None else None
        names = [r.name for r in rows if wanted is None or r.name in wanted]
    if not names:
        raise SelectionError(f"the selection ({sel.describe()}) matches no node")
    return names
