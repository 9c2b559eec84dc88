"""`storm --version`, plain help pages that fit 80 columns, one-line usage errors."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

import stormflow
from stormflow.cli.main import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
ENV = {"COLUMNS": "80", "TERM": "xterm-256color"}


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"storm {stormflow.__version__}\n")


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]], ids=lambda c: " ".join(c))
def test_help_is_plain_and_fits_80_columns(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith(f"Usage: storm {' '.join(command)}".rstrip())
    usage = page.splitlines()[0]
    assert "{" not in usage and "<" not in usage, usage  # not `{file}`
    for typed in ("<bool>", "<str>", "<int", "<float", "list[", "╭"):
        assert typed not in page, (typed, page)
    assert max(len(line) for line in page.splitlines()) <= 80, page


def test_run_help_names_its_arguments_and_values() -> None:
    page = CliRunner().invoke(app, ["run", "--help"], env=ENV).stdout
    assert "Usage: storm run [OPTIONS] FILE\n" in page
    assert "--db URL" in page and "[env: STORM_DB]" in page
    assert "--data-dir DIR" in page and "-q, --quiet" in page


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run"], "storm: error: Missing argument 'FILE'. (see storm run --help)"),
        (["nope"], "storm: error: No such command 'nope'. (see storm --help)"),
        (
            ["run", "x.yaml", "--slots", "0"],
            "storm: error: Invalid value for '--slots': Input should be greater than or equal "
            "to 1 (see storm run --help)",
        ),
        (["show", "a", "--bogus"], "storm: error: No such option: --bogus (see storm show --help)"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], line: str) -> None:
    result = CliRunner().invoke(app, args, env=ENV)
    assert result.exit_code == 2
    assert result.stderr == line + "\n" and result.stdout == ""
