"""`storm show` at 80 columns with every status; every remote `--json` shape as docs/cli.md says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stormflow import core
from stormflow.api.app import create_app
from stormflow.cli.main import app
from stormflow.spec import expand
from stormflow.store import Store
from tests.api.helpers import TOKEN, live_server

DOC = {
    "schema": 1,
    "name": "a_workflow_with_a_rather_long_name_for_the_header_line",
    "ttl": "30d",
    "nodes": [
        {
            "name": "render_with_a_long_name",
            "commands": [["true"]],
            "frames": "1-8",
            "chunk_size": 1,
        },
        {"name": "notify", "kind": "email", "addresses": ["a@example.com"]},
    ],
    "edges": [["render_with_a_long_name", "notify"]],
}
R = "render_with_a_long_name"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(server URL, workflow id) with nodes succeeded, failed, canceled, executing, queued,
    holding and open."""
    store = Store.default(tmp_path / "data")
    plan = expand(DOC)
    at = time.time()
    wf = store.submit(plan.nodes, plan.edges, name=plan.name, metadata={}, actor="a", at=at)
    chunks = [f"{R}.{i}" for i in range(1, 9)]
    store.transact(wf, lambda v: core.hold(v, chunks[7:], at=at))
    applied = store.transact(wf, lambda v: core.run_ready(v, chunks[:7], at=at))
    assert applied.outcome is not None
    tokens = {name: attempt.token for name, attempt in applied.outcome.start}
    for name in chunks[:4]:
        store.transact(wf, lambda v, n=name: core.started(v, n, tokens[n], at=at, worker="w"))
    store.transact(wf, lambda v: core.succeed(v, chunks[0], tokens[chunks[0]], at=at))
    store.transact(wf, lambda v: core.fail(v, chunks[1], tokens[chunks[1]], at=at, error="x"))
    store.transact(wf, lambda v: core.cancel(v, [chunks[2]], at=at))
    with live_server(create_app(store, data_dir=tmp_path / "data", token=TOKEN)) as url:
        yield url, wf
    store.close()


def storm(url: str, *args: str, width: int = 200, code: int = 0) -> str:
    env = {"COLUMNS": str(width), "STORM_HOME": None, "STORM_SERVER": url, "STORM_TOKEN": TOKEN}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (args, result.output)
    return result.stdout


def test_show_fits_80_columns_and_tells_failed_from_canceled(served: tuple[str, str]) -> None:
    url, wf = served
    page = storm(url, "show", wf, width=80)
    assert max(len(line) for line in page.splitlines()) <= 80, page
    assert "node" in page and "kind" in page and "chunks" in page and "statuses" in page
    assert f"failed: {R}.2\n" in page and f"canceled: {R}.3\n" in page
    assert f"executing: {R}.4\n" in page
    assert f"queued: {R}.5, {R}.6, {R}.7" in " ".join(page.split())  # wrapped at 80
    assert "running 4 (1 executing, 3 queued)" in page


def keys(text: str) -> set[str]:
    return set(json.loads(text))


def test_every_json_output_is_the_documented_shape(served: tuple[str, str], tmp_path: Path) -> None:
    url, wf = served
    doc = tmp_path / "wf.yaml"
    doc.write_text(yaml.safe_dump({"name": "w", "nodes": [{"name": "a", "commands": ["true"]}]}))
    summary = {"id", "name", "owner", "created_at", "archived", "expires_at", "expired", "status"}
    summary |= {"counts", "phases", "total", "skipped", "seq", "parent"}
    submitted = json.loads(storm(url, "submit", str(doc), "--hold", "--json"))
    assert set(submitted) == {"id", "name", "status", "url", "replayed"}
    listed = json.loads(storm(url, "ls", "--json"))
    assert (
        set(listed) == {"items", "limit", "offset", "next_cursor"}
        and set(listed["items"][0]) == summary
    )
    assert set(json.loads(storm(url, "ls", "--all", "--json"))) == {
        "items",
        "limit",
        "offset",
        "next_cursor",
    }
    shown = json.loads(storm(url, "show", wf, "--json"))
    assert set(shown) == {
        "workflow", "groups", "running", "executing", "queued", "failed", "canceled", "truncated"
    }  # fmt: skip
    assert set(shown["workflow"]) == summary | {"metadata", "children", "rollup"}
    assert set(shown["groups"][0]) == {"name", "kind", "chunks", "counts"}
    answer = json.loads(storm(url, "retry", wf, f"{R}.2", "--json"))
    assert {"action", "selected", "changed", "cascaded", "ineligible", "changes"} <= set(answer)
    assert {"snapshots", "first_seq", "last_seq", "replayed"} <= set(answer)
    assert keys(storm(url, "history", wf, f"{R}.2", "--json")) == {"current", "snapshots", "base"}
    diff = storm(url, "history", wf, f"{R}.2", "--diff", "1", "current", "--json")
    assert keys(diff) == {"a", "b", "changes"}
    assert keys(storm(url, "logs", wf, f"{R}.1", "--json")) == {"node", "attempt", "text"}
    assert keys(storm(url, "events", wf, "--json")) == {"items", "last_seq"}
    assert json.loads(storm(url, "limits", "--json")) == []
    assert json.loads(storm(url, "limits", "lic", "2", "--json")) == {
        "name": "lic", "capacity": 2, "used": 0
    }  # fmt: skip
    held = submitted["id"]  # holding: watch ends at once (nothing runs `wf` here)
    last: Any = json.loads(storm(url, "watch", held, "--json", code=1).splitlines()[-1])
    assert set(last) == {"summary"} and set(last["summary"]) == summary | {
        "metadata",
        "children",
        "rollup",
    }
