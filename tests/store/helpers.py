"""Small helpers for the store tests: planned nodes and workflow builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stormflow.core import Status
from stormflow.store import Store


@dataclass
class Planned:
    name: str
    kind: str = "task"
    status: Status = Status.OPEN
    config: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    frames: str | None = None


def submit(
    store: Store,
    names: list[str] | list[Planned],
    edges: list[tuple[str, str]] = (),  # type: ignore[assignment]
    *,
    name: str = "wf",
    at: float = 1.0,
    **kw: Any,
) -> str:
    planned = [p if isinstance(p, Planned) else Planned(p) for p in names]
    return store.submit(
        planned, edges, name=name, metadata={"by": "test"}, actor="tester", at=at, **kw
    )
