"""`storm validate` and `storm plan`: exit codes, one-line errors, fixers."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from stormflow.cli.main import app

runner = CliRunner()

BROKEN = """
name: wf
nodes:
  - {name: render, kind: task, commands: [x], frames: "1-10", chunksize: 5}
edges:
  - [render, comp]
"""


def write(tmp_path: Path, text: str, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_document_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, "name: wf\nnodes: [{name: a, commands: [x]}]\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_errors_exit_2_and_list_fixers(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, BROKEN))])
    assert result.exit_code == 2
    assert "unknown-param" in result.stdout
    assert "--fix rename-param:render:chunksize:chunk_size" in result.stdout
    assert "--fix drop-edge:render:comp" in result.stdout


def test_fixer_names_print_whole_and_cycles_read_once(tmp_path: Path) -> None:
    """`drop-edge:b:a` once printed as `drop-edge🅱a` (a Rich emoji code)."""
    text = "name: wf\nnodes: [{name: a, commands: [x]}, {name: b, commands: [x]}]\n"
    result = runner.invoke(
        app, ["validate", str(write(tmp_path, text + "edges: [[a, b], [b, a]]"))]
    )
    assert result.exit_code == 2
    assert "cycle: the edges a -> b -> a form a cycle" in result.stdout
    assert "--fix drop-edge:b:a " in result.stdout


def test_fixers_apply_in_order_and_write_the_fixed_document(tmp_path: Path) -> None:
    out = tmp_path / "fixed.yaml"
    args = ["validate", str(write(tmp_path, BROKEN))]
    args += ["--fix", "rename-param:render:chunksize:chunk_size", "--fix", "drop-edge:render:comp"]
    result = runner.invoke(app, [*args, "--write", str(out)])
    assert result.exit_code == 0, result.output
    fixed = yaml.safe_load(out.read_text())
    assert fixed["nodes"][0]["chunk_size"] == 5
    assert fixed["edges"] == []


def test_write_dash_prints_the_document(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    result = runner.invoke(
        app, ["validate", str(path), "--fix", "drop-edge:render:comp", "--write", "-"]
    )
    assert yaml.safe_load(result.stdout)["edges"] == []


def test_json_output_is_a_list_of_entries(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, BROKEN)), "--json"])
    assert result.exit_code == 2
    entries = json.loads(result.stdout)
    assert {e["code"] for e in entries} == {"unknown-param", "unknown-edge-node"}
    assert entries[0]["fixers"][0]["name"]


def test_missing_file_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "file not found" in result.stderr
    assert "Traceback" not in result.output


def test_unparseable_yaml_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, "name: [unclosed\n"))])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot parse" in result.stderr


def test_unknown_fixer_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, BROKEN)), "--fix", "bogus"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no fixer named 'bogus'" in result.stderr


def test_plan_summarises_chunks_and_edges(tmp_path: Path) -> None:
    text = (
        "name: wf\nnodes:\n"
        "  - {name: sim, commands: [x]}\n"
        "  - {name: r, commands: [x], frames: '1-10', chunk_size: 5, scout: '1'}\n"
        "edges: [[sim, r]]\n"
    )
    result = runner.invoke(app, ["plan", str(write(tmp_path, text)), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["nodes"], summary["edges"]) == (3, 2)
    render = summary["groups"][1]
    assert (render["chunks"], render["statuses"]) == (2, {"open": 1, "holding": 1})
    assert runner.invoke(app, ["plan", str(write(tmp_path, text))]).exit_code == 0


def test_plan_of_an_invalid_document_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(write(tmp_path, BROKEN))])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "storm validate" in result.stderr
