"""The remote `storm` commands as a user runs them: subprocesses against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stormflow.cli.main import app
from stormflow.client import Client
from tests.client.serverproc import STORM, Server, clean_env, wait_for

BATCH = {
    "name": "batch_edit",
    "nodes": [
        {"name": "prep", "commands": [["sh", "-c", "echo preparing the scene"]]},
        {
            "name": "render",
            "frames": "1-4",
            "chunk_size": 1,
            "env": {"MEM": "small"},
            # fails unless the node's env says MEM=large; chunk 1 always succeeds
            "commands": [["sh", "-c", 'echo "MEM=$MEM"; test "$MEM" = large || test {start} = 1']],
        },
        {"name": "comp", "frames": "1-4", "chunk_size": 1, "commands": [["true"]]},
    ],
    "edges": [["prep", "render"], ["render", "comp"]],
}


def write(tmp_path: Path, doc: dict[str, object], name: str = "wf.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def ok(server: Server, *args: str, code: int = 0, inproc: bool = False) -> str:
    """stdout of `storm ARGS` (exit code checked): a subprocess, or in this process.

    Each `storm` process pays ~1 s of imports, so the follow-up checks of a scenario
    run in-process: same command code, same server, over HTTP all the same.
    """
    if inproc:
        env = {"STORM_HOME": str(server.home), "STORM_SERVER": None, "STORM_TOKEN": None}
        result = CliRunner().invoke(app, list(args), env={**env, "COLUMNS": "200"})
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout
    done = server.storm(*args)
    assert done.returncode == code, (args, done.stdout, done.stderr)
    return done.stdout


def as_json(server: Server, *args: str, code: int = 0, inproc: bool = False) -> Any:
    return json.loads(ok(server, *args, "--json", code=code, inproc=inproc))


def settle(server: Server, workflow_id: str) -> str:
    """Wait (through the client) until the workflow stops running; its status."""
    client = Client(url=server.url, token=server.token)
    summary = wait_for(
        lambda: (lambda s: s if s["status"] != "running" else None)(client.workflow(workflow_id))
    )
    return str(summary["status"])


def one_line_error(server: Server, *args: str, env: dict[str, str] | None = None) -> str:
    import subprocess

    result = subprocess.run(
        [STORM, *args], capture_output=True, text=True, env=env or server.env, timeout=30
    )
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("storm: error: "), result.stderr
    return lines[0]


def test_show_and_ls_tell_when_a_workflow_expires(server: Server, tmp_path: Path) -> None:
    doc = {"name": "ttl", "ttl": "3d", "nodes": [{"name": "a", "commands": [["true"]]}]}
    workflow_id = as_json(server, "submit", write(tmp_path, doc))["id"]
    assert "expires " in ok(server, "show", workflow_id, inproc=True)
    data = as_json(server, "show", workflow_id, inproc=True)
    assert data["workflow"]["expired"] is False and data["workflow"]["expires_at"] > 0
    assert "expired" not in ok(server, "ls", inproc=True)


def test_submit_ls_show_watch(server: Server, tmp_path: Path) -> None:
    doc = {"name": "hello", "nodes": [{"name": "a", "commands": [["echo", "hi"]]}]}
    answer = as_json(server, "submit", write(tmp_path, doc))
    assert isinstance(answer, dict)
    workflow_id = answer["id"]
    out = ok(server, "watch", workflow_id)
    assert "succeeded" in out
    assert workflow_id in ok(server, "ls")
    listed = as_json(server, "ls", "--name", "hel*", "--status", "succeeded", inproc=True)
    assert set(listed) == {
        "items",
        "limit",
        "offset",
        "next_cursor",
    }  # the server's answer, as documented
    assert [w["id"] for w in listed["items"]] == [workflow_id]
    shown = ok(server, "show", workflow_id, inproc=True)
    assert "hello" in shown and "1 nodes" in shown
    data = as_json(server, "show", workflow_id, inproc=True)
    assert data["groups"] == [
        {"name": "a", "kind": "task", "chunks": 0, "counts": {"succeeded": 1}}
    ]
    assert "hi" in ok(server, "logs", workflow_id, "a", inproc=True)


def test_hold_on_submit_then_hold_unhold(server: Server, tmp_path: Path) -> None:
    doc = {
        "name": "held",
        # b is slow enough for watch to see it finish live
        "nodes": [
            {"name": "a", "commands": [["true"]]},
            {"name": "b", "commands": [["sleep", "3"]]},
        ],
        "edges": [["a", "b"]],
    }
    workflow_id = as_json(server, "submit", write(tmp_path, doc), "--hold")["id"]
    counts = as_json(server, "show", workflow_id, inproc=True)["workflow"]["counts"]
    assert (counts["holding"], counts["open"]) == (1, 1)  # the root holds, so nothing starts
    held = as_json(server, "hold", workflow_id, "b", inproc=True)
    assert held["changed"] == ["b"]
    out = ok(server, "unhold", workflow_id, "--status", "holding", "--yes")
    assert "2 changed" in out
    watched = ok(server, "watch", workflow_id)
    assert "running -> succeeded" in watched  # an event line printed as it happened
    assert watched.strip().splitlines()[-1].endswith("(succeeded 2)")


def test_the_batch_edit_scenario(server: Server, tmp_path: Path) -> None:
    workflow_id = as_json(server, "submit", write(tmp_path, BATCH))["id"]
    watched = server.storm("watch", workflow_id)
    assert watched.returncode == 1, watched.stdout  # render.2-4 failed
    show = ok(server, "show", workflow_id, inproc=True)
    assert "render.2" in show and "failed" in show

    out = ok(
        server,
        "update",
        workflow_id,
        "--status",
        "failed",
        "--glob",
        "render.*",
        "--set",
        "env.MEM=large",
        "--yes",
    )
    assert "3 selected, 3 changed" in out
    assert 'patch: {"env": {"MEM": "large"}}' in out
    for name in ("render.2", "render.3", "render.4"):
        assert name in out
    assert "snap(1)" in out

    ok(server, "watch", workflow_id)  # exit 0: the retried chunks and comp succeeded
    final = as_json(server, "show", workflow_id, inproc=True)
    assert final["workflow"]["counts"]["succeeded"] == 9
    assert "MEM=large" in ok(server, "logs", workflow_id, "render.3")
    assert "MEM=small" in ok(server, "logs", workflow_id, "render.3", "--attempt", "1", inproc=True)

    history = ok(server, "history", workflow_id, "render.3")
    assert "snap(1)" in history and "update" in history and "failed" in history
    assert (
        as_json(server, "history", workflow_id, "render.3", inproc=True)["snapshots"][0]["number"]
        == 1
    )
    diff = ok(server, "history", workflow_id, "render.3", "--diff", "1", "current", inproc=True)
    assert "env.MEM" in diff and "small" in diff and "large" in diff

    # the cascade: retrying a rendered chunk reruns the comp chunk fed by it
    retried = ok(server, "retry", workflow_id, "render.1", inproc=True)
    assert "cascade: comp.1" in retried
    assert settle(server, workflow_id) == "succeeded"
    # ineligible nodes are listed with the reason and left unchanged
    held = ok(server, "hold", workflow_id, "--glob", "comp.*", "--yes", inproc=True)
    assert "0 changed" in held and "ineligible" in held and "comp.4" in held
    assert one_line_error(server, "hold", workflow_id, "--glob", "comp.*", "--strict")

    replayed = as_json(server, "replay", workflow_id, "render.3", "--snapshot", "1", inproc=True)
    assert replayed["changed"][0] == "render.3"
    assert replayed["cascaded"] == ["comp.3"]
    # snap(1) holds the patch before the edit (MEM=small again), so render.3 fails again
    assert settle(server, workflow_id) == "failed"  # and no event comes after this

    events = as_json(server, "events", workflow_id, inproc=True)
    assert any(e["type"] for e in events["items"])
    after = events["items"][-3]["seq"]
    assert [
        e["seq"]
        for e in as_json(server, "events", workflow_id, "--after", str(after), inproc=True)["items"]
    ] == [
        after + 1,
        after + 2,
    ]


def test_limits(server: Server) -> None:
    assert as_json(server, "limits", "nuke_license", "3", inproc=True) == {
        "name": "nuke_license",
        "capacity": 3,
        "used": 0,
    }
    assert "nuke_license" in ok(server, "limits")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["update", "abcdefgh", "a", "--set", "novalue"], "bad --set"),
        (["update", "abcdefgh", "a", "--set", "env..A=1"], "bad --set"),
        (["update", "abcdefgh", "a", "--set", "env=1", "--set", "env.A=2"], "bad --set"),
        (["update", "abcdefgh", "a"], "--set"),
        (["hold", "abcdefgh"], "no selection"),
        (["hold", "zzzzzzzz", "a"], "zzzzzzzz"),  # the server's 404 message
        (["logs", "zzzzzzzz", "a", "--attempt", "x"], "--attempt"),
        (["limits", "x"], "CAPACITY"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(server: Server, args: list[str], needle: str) -> None:
    # In-process (each `storm` process costs ~1 s of imports); same code path, same server.
    env = {"STORM_HOME": str(server.home), "STORM_SERVER": None, "STORM_TOKEN": None}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("storm: error: "), result.stderr
    assert needle in lines[0]


def test_unknown_workflow_is_the_servers_404_message(server: Server) -> None:
    line = one_line_error(server, "show", "zzzzzzzz")
    assert "zzzzzzzz" in line


def test_no_server_found(server: Server, tmp_path: Path) -> None:
    line = one_line_error(server, "ls", env=clean_env(tmp_path))
    assert "no Storm server found" in line
    line = one_line_error(server, "ls", "--server", "http://127.0.0.1:9", env=clean_env(tmp_path))
    assert "cannot reach" in line


def test_server_and_token_options_override_discovery(server: Server, tmp_path: Path) -> None:
    import subprocess

    env = clean_env(tmp_path)
    args = [STORM, "ls", "--server", server.url, "--token", server.token, "--json"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout)["items"], list)
    line = one_line_error(server, "ls", "--server", server.url, "--token", "wrong", env=env)
    assert "STORM_TOKEN" in line


def test_a_bad_update_exits_2_with_one_line_per_entry(server: Server, tmp_path: Path) -> None:
    """Finding 1 of issue 11: `storm update --set frames=1-x` used to be stored."""
    submitted = as_json(server, "submit", write(tmp_path, BATCH, "checked.yaml"), inproc=True)
    wf = submitted["id"]
    env = {"STORM_HOME": str(server.home), "STORM_SERVER": None, "STORM_TOKEN": None}
    client = Client(url=server.url, token=server.token)

    def edits() -> Any:  # the workflow runs meanwhile: compare what an update would change
        updates = [e for e in client.events(wf)["items"] if e["type"] in ("update", "retry")]
        return updates, [client.node(wf, f"render.{i}")["patch"] for i in range(1, 5)]

    assert edits() == ([], [{}, {}, {}, {}])
    for sets, needle in (
        (["frames=1-x"], "frame spec '1-x'"),
        (["commands=5"], "commands must be"),
        (["env=5"], "env must be"),
        (["limits=5"], "limits must be"),
        (["retries=many"], "retries must be"),
        (["retry_delay=abc"], "retry_delay must be"),
        (["retires=2"], "did you mean 'retries'"),
    ):
        args = ["update", wf, "--glob", "render.*", "--yes"]
        for item in sets:
            args += ["--set", item]
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, (sets, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 4, lines  # one per render chunk
        assert all(line.startswith("storm: error: node 'render.") for line in lines), lines
        assert all(needle in line for line in lines), lines
    assert edits() == ([], [{}, {}, {}, {}])
