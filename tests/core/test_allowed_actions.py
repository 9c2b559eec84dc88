"""One test per cell of the allowed-actions table: every status x every action."""

from __future__ import annotations

from typing import Any

import pytest

from stormflow import core
from stormflow.core import Action, Graph, Status

from .helpers import T, do, drive, run

# The spec's table, with the update family spelled out (retry only on retryable statuses).
TABLE: dict[Status, set[Action]] = {
    Status.OPEN: {Action.UPDATE, Action.REVERT, Action.REPLAY, Action.HOLD, Action.SKIP},
    Status.HOLDING: {Action.UPDATE, Action.REVERT, Action.REPLAY, Action.UNHOLD, Action.SKIP},
    Status.RUNNING: {
        Action.UPDATE,
        Action.RETRY,
        Action.REVERT,
        Action.REPLAY,
        Action.SKIP,
        Action.CANCEL,
    },
    Status.SKIPPED: {Action.UPDATE, Action.RETRY, Action.REVERT, Action.REPLAY, Action.CANCEL},
    Status.FAILED: {Action.UPDATE, Action.RETRY, Action.REVERT, Action.REPLAY, Action.SKIP},
    Status.CANCELED: {Action.UPDATE, Action.RETRY, Action.REVERT, Action.REPLAY, Action.SKIP},
    Status.SUCCEEDED: {Action.UPDATE, Action.RETRY, Action.REVERT, Action.REPLAY, Action.CANCEL},
}

# Where an allowed action sends a node (updates go to the submitted status: open here).
RESULT: dict[Action, Status] = {
    Action.HOLD: Status.HOLDING,
    Action.UNHOLD: Status.OPEN,
    Action.SKIP: Status.SKIPPED,
    Action.CANCEL: Status.CANCELED,
    Action.UPDATE: Status.OPEN,
    Action.RETRY: Status.OPEN,
    Action.REVERT: Status.OPEN,
    Action.REPLAY: Status.OPEN,
}


def node_in(status: Status) -> Graph:
    """A single node with a patch (revert has something to undo) and one snapshot in its
    history, then brought to `status`."""
    graph = Graph.build([("n", "open", {"frames": "1-10"})])
    do(graph, core.update(graph, ["n"], {"frames": "1-8"}, at=T))
    do(graph, core.succeed(graph, "n", run(graph, "n"), at=T))
    do(graph, core.retry(graph, ["n"], at=T))
    drive(graph, "n", status)
    return graph


def test_table_matches_the_spec() -> None:
    assert {s: set(a) for s, a in core.ALLOWED.items()} == TABLE


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("status", list(Status), ids=str)
def test_cell(status: Status, action: Action) -> None:
    graph = node_in(status)
    kwargs: dict[str, Any] = {"patch": {"frames": "1-5"}} if action is Action.UPDATE else {}
    if action is Action.REPLAY:
        kwargs = {"snapshot": 1}
    out = core.act(graph, action, ["n"], at=T, **kwargs)
    if action in TABLE[status]:
        assert out.ineligible == []
        do(graph, out)
        assert graph.node("n").status is RESULT[action]
    else:
        assert [i.node for i in out.ineligible] == ["n"]
        assert out.nodes == {} and out.events == [] and out.snapshots == []
        with pytest.raises(core.ActionRefused):
            core.act(graph, action, ["n"], at=T, strict=True, **kwargs)


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_allowed_actions_follow_the_table_and_the_nodes_patch_and_snapshots(
    status: Status,
) -> None:
    graph = node_in(status)
    assert set(core.allowed_actions(graph.node("n"))) == TABLE[status]
    bare = Graph.build([("n", "open", {"frames": "1-10"})])
    drive(bare, "n", status)  # no patch, no snapshot: neither revert nor replay
    assert set(core.allowed_actions(bare.node("n"))) == TABLE[status] - {
        Action.REVERT,
        Action.REPLAY,
    }
