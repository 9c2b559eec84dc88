"""What a notice (the `webhook` kind) says about its workflow, read when its attempt starts.

Top-level nodes by name with their status; frame-ranged nodes as chunk counts per status;
the outputs succeeded nodes declare, as paths in the workflow's directory. A workflow with
thousands of nodes is cut to the first `limit` names (`truncated` says so): a chat message
or a pipeline hook wants the outline, the Monitor has the rest.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from stormflow.core import Status
from stormflow.store import Store

LIMIT = 200


def workflow_summary(
    store: Store, workflow_id: str, status: str, workdir: Path, limit: int = LIMIT
) -> dict[str, Any]:
    rows = store.nodes(workflow_id)
    counts = Counter(str(row.status) for row in rows)
    nodes: dict[str, str] = {}
    chunks: dict[str, Counter[str]] = {}
    first_chunk: dict[str, str] = {}
    for row in rows:
        if row.group is None:
            nodes[row.name] = str(row.status)
        else:
            chunks.setdefault(row.group, Counter())[str(row.status)] += 1
            first_chunk.setdefault(row.group, row.name)
    names = list(nodes) + [g for g in chunks if g not in nodes]
    truncated = len(names) > limit
    outputs: dict[str, str] = {}
    for name in names[:limit]:
        done = (
            nodes.get(name) == Status.SUCCEEDED
            if name in nodes
            else set(chunks[name]) == {str(Status.SUCCEEDED)}
        )
        if not done:
            continue
        # Chunks of one frame-ranged node share its output: the first one says it.
        value = store.node(workflow_id, first_chunk.get(name, name)).current.get("output")
        if isinstance(value, str) and value:
            outputs[name] = str(workdir / value)
    kept = set(names[:limit])
    return {
        "status": status,
        "counts": dict(sorted(counts.items())),
        "nodes": {n: s for n, s in nodes.items() if n in kept},
        "chunks": {g: dict(sorted(c.items())) for g, c in chunks.items() if g in kept},
        "outputs": outputs,
        "truncated": truncated,
    }
