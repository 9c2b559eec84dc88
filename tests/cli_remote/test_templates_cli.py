"""`storm templates add/ls/show/rm`, `storm submit --set` against a real server; `storm run
--set` and `storm validate --set` on this machine. Bad input: one line, exit 2, nothing
stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from stormflow.cli.main import app
from stormflow.client import Client
from stormflow.store import Store
from tests.client.serverproc import Server

SHOT: dict[str, Any] = {
    "name": "shot-${shot}",
    "params": {
        "shot": {"type": "string", "description": "shot name"},
        "frames": {"type": "frames", "default": "1-2"},
    },
    "nodes": [
        {"name": "render", "commands": [["echo", "${shot}", "{start}"]], "frames": "${frames}"},
        {"name": "comp", "commands": [["echo", "${shot}"]]},
    ],
    "edges": [["render", "comp"]],
}


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def storm(server: Server | None, *args: str, code: int = 0) -> Any:
    env = {"STORM_HOME": str(server.home) if server else None, "COLUMNS": "200"}
    result = CliRunner().invoke(
        app, list(args), env={**env, "STORM_SERVER": None, "STORM_TOKEN": None}
    )
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def test_templates_add_ls_show_rm(server: Server, tmp_path: Path) -> None:
    client = Client(url=server.url, token=server.token)
    path = write(tmp_path, "shot.yaml", SHOT)
    out = storm(server, "templates", "add", str(path)).stdout
    assert "stored template shot (params: shot:string, frames:frames=1-2)" in out
    assert "shot" in storm(server, "templates", "ls").stdout
    shown = storm(server, "templates", "show", "shot").stdout
    assert "shot: string (required)  shot name" in shown and "name: shot-${shot}" in shown
    assert (
        json.loads(storm(server, "templates", "show", "shot", "--json").stdout)["document"] == SHOT
    )
    # taken: one line, exit 2; --replace replaces
    taken = storm(server, "templates", "add", str(path), code=2)
    assert taken.stderr.count("\n") == 1 and "already stored" in taken.stderr
    storm(server, "templates", "add", str(path), "--replace")
    # a workflow from it by name, with params, from the client
    answer = client.submit_template("shot", {"shot": "sh010"})
    assert answer["name"] == "shot-sh010"
    storm(server, "templates", "rm", "shot")
    assert client.templates() == []
    missing = storm(server, "templates", "rm", "shot", code=2)
    assert "unknown template 'shot'" in missing.stderr


def test_add_refuses_bad_templates_and_stores_nothing(server: Server, tmp_path: Path) -> None:
    client = Client(url=server.url, token=server.token)
    bad_type = write(tmp_path, "bad.yaml", {**SHOT, "params": {"shot": {"type": "float"}}})
    result = storm(server, "templates", "add", str(bad_type), code=2)
    assert "type 'float'" in result.stderr and result.stderr.count("\n") == 1
    loop = write(
        tmp_path,
        "loop.yaml",
        {"name": "loop", "nodes": [{"name": "a", "kind": "workflow", "template": "loop.yaml"}]},
    )
    assert "includes itself" in storm(server, "templates", "add", str(loop), code=2).stderr
    assert (
        "not a name"
        not in storm(server, "templates", "add", str(bad_type), "--name", "bad name", code=2).stderr
    )
    assert [t["name"] for t in client.templates()] == []


def test_submit_with_set_and_files_beside_the_document(server: Server, tmp_path: Path) -> None:
    client = Client(url=server.url, token=server.token)
    write(tmp_path, "shot.yaml", SHOT)
    (tmp_path / "shots.csv").write_text("shot,frames\nsh010,1-2\nsh020,3\n")
    seq = {
        "name": "seq-${show}",
        "params": {"show": {"type": "choice", "choices": ["abc", "xyz"]}},
        "nodes": [
            {
                "name": "shots",
                "kind": "workflow",
                "template": "shot.yaml",
                "for_each": "shots.csv",
                "key": "shot",
            },
            {"name": "edit", "commands": [["echo", "${show}"]]},
        ],
        "edges": [["shots", "edit"]],
    }
    path = write(tmp_path, "seq.yaml", seq)
    bad = storm(server, "submit", str(path), "--set", "show=nope", code=2)
    assert "param 'show' must be one of abc, xyz, got 'nope'" in bad.stderr
    assert (
        "must be NAME=VALUE" in storm(server, "submit", str(path), "--set", "show", code=2).stderr
    )
    before = len(client.workflows())
    answer = json.loads(
        storm(server, "submit", str(path), "--set", "show=abc", "--hold", "--json").stdout
    )
    assert answer["name"] == "seq-abc" and len(client.workflows()) == before + 1
    names = sorted(n["name"] for n in client.nodes(answer["id"]))
    assert names == ["edit", "shots.sh010", "shots.sh020"]
    node = client.node(answer["id"], "shots.sh020")
    assert node["current"]["params"] == {"shot": "sh020", "frames": "3"}


def test_validate_with_set(tmp_path: Path) -> None:
    path = write(tmp_path, "shot.yaml", SHOT)
    assert "valid" in storm(None, "validate", str(path)).stdout  # stand-ins: a template is fine
    missing = storm(None, "validate", str(path), "--set", "frames=1-3", code=2).stdout
    assert "missing-param-value" in missing and "param 'shot'" in missing
    bad = storm(None, "validate", str(path), "--set", "shot=a", "--set", "frames=x", code=2).stdout
    assert "param 'frames' must be a frame spec" in bad
    storm(None, "validate", str(path), "--set", "shot=a")
    child = write(
        tmp_path,
        "seq.yaml",
        {"name": "seq", "nodes": [{"name": "s", "kind": "workflow", "template": "nope.yaml"}]},
    )
    assert (
        "template 'nope.yaml': file not found" in storm(None, "validate", str(child), code=2).stdout
    )


def test_the_shot_example_runs_here_with_set(tmp_path: Path) -> None:
    """examples/shot.yaml as its comment says: one shot of the demo pipeline, to a movie."""
    example = str(Path(__file__).parents[2] / "examples" / "shot.yaml")
    data = tmp_path / "data"
    bad = storm(None, "run", example, "--set", "last=x", "--data-dir", str(data), code=2)
    assert "param 'last' must be a whole number, got a string 'x'" in bad.stderr
    assert "used in nodes[0].commands[0][6], nodes[1].frames, nodes[2].frames" in bad.stderr
    assert not (data / "storm.db").exists()
    sets = ["--set", "shot=sh020", "--set", "last=4", "--set", "chunk=2"]
    out = storm(None, "run", example, *sets, "--data-dir", str(data), "--quiet").stdout
    assert "shot-sh020" in out and "succeeded" in out
    store = Store.default(data)
    try:
        (row,) = store.workflows()
        assert row.name == "shot-sh020"
        names = sorted(n.name for n in store.nodes(row.id))
        assert names == ["comp.1-2", "comp.3-4", "encode", "render.1-2", "render.3-4", "simulate"]
        assert (data / "work" / row.id / "sh020.mp4").stat().st_size > 0
    finally:
        store.close()
