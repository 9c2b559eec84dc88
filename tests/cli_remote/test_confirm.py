"""`storm skip/cancel/retry/...` at a terminal ask first, quoting the server's dry run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from stormflow.cli import remote_actions
from stormflow.cli.main import app
from stormflow.client import Client
from tests.cli_remote.test_remote_cli import as_json, settle, write
from tests.client.serverproc import Server

FRAMES = {
    "name": "frames",
    "nodes": [
        {"name": "render", "frames": "1-12", "commands": [["true"]]},
        {"name": "comp", "frames": "1-12", "chunk_size": 4, "commands": [["true"]]},
    ],
    "edges": [{"from": "render", "to": "comp", "mode": "frames"}],
}


@pytest.fixture
def at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_actions, "interactive", lambda: True)


def storm(server: Server, *args: str, answer: str = "") -> Result:
    env = {"STORM_HOME": str(server.home), "STORM_SERVER": None, "STORM_TOKEN": None}
    return CliRunner().invoke(app, list(args), input=answer, env={**env, "COLUMNS": "200"})


def last_seq(server: Server, workflow_id: str) -> int:
    client = Client(url=server.url, token=server.token)
    return int(client.events(workflow_id, after=0, limit=10_000)["last_seq"])


def test_the_question_says_what_will_happen_and_no_changes_nothing(
    server: Server, tmp_path: Path, at_a_terminal: None
) -> None:
    wf = as_json(server, "submit", write(tmp_path, FRAMES))["id"]
    assert settle(server, wf) == "succeeded"
    before = last_seq(server, wf)
    refused = storm(server, "retry", wf, "--glob", "render.*", answer="n\n")
    assert refused.exit_code == 1
    question = f"Retry 12 nodes of {wf}: 12 restart, 3 downstream reset (snapshots kept)?"
    assert question in refused.stdout
    assert last_seq(server, wf) == before  # the dry run and the "no" stored nothing
    done = storm(server, "retry", wf, "--glob", "render.1*", answer="y\n")
    assert done.exit_code == 0, done.output
    assert f"Retry 4 nodes of {wf}: 4 restart, 2 downstream reset (snapshots kept)?" in done.stdout
    assert "4 selected, 4 changed, 2 more retried by the cascade" in done.stdout
    assert settle(server, wf) == "succeeded"
    one = storm(server, "cancel", wf, "comp.9-12", answer="y\n")  # destructive: asks for one
    assert f"Cancel 1 node of {wf}: 1 canceled?" in one.stdout and one.exit_code == 0


def test_one_node_without_a_cascade_is_not_asked_about(
    server: Server, tmp_path: Path, at_a_terminal: None
) -> None:
    wf = as_json(server, "submit", write(tmp_path, FRAMES))["id"]
    assert settle(server, wf) == "succeeded"
    result = storm(server, "retry", wf, "comp.1-4")  # no input: a question would abort
    assert result.exit_code == 0, result.output
    assert "?" not in result.stdout.splitlines()[0]
    assert "1 selected, 1 changed" in result.stdout


def test_a_bad_selection_fails_in_the_dry_run_before_any_question(
    server: Server, tmp_path: Path, at_a_terminal: None
) -> None:
    # held: the server's scheduler runs nothing of it, so any new event would be ours
    wf = as_json(server, "submit", write(tmp_path, FRAMES), "--hold")["id"]
    before = last_seq(server, wf)
    result = storm(server, "skip", wf, "--glob", "nothing.*", answer="y\n")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("storm: error: ") and "matches no node" in result.stderr
    assert "?" not in result.stdout
    bad = storm(server, "retry", wf, "--glob", "render.*", "--to", "later")
    assert bad.exit_code == 2 and "bad --to" in bad.stderr
    assert last_seq(server, wf) == before


def test_show_lists_frames_in_natural_order(server: Server, tmp_path: Path) -> None:
    failing = {"name": "failing", "nodes": [{"name": "render", "frames": "1-12",
                                             "commands": [["false"]]}], "edges": []}  # fmt: skip
    wf = as_json(server, "submit", write(tmp_path, failing))["id"]
    assert settle(server, wf) == "failed"
    shown = as_json(server, "show", wf, inproc=True)
    assert shown["failed"] == [f"render.{i}" for i in range(1, 13)]
    text = storm(server, "show", wf).stdout
    assert text.index("render.2") < text.index("render.10")
