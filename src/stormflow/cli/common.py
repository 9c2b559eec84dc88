"""Helpers shared by commands: one-line errors with exit code 2, reading documents."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:  # command modules import the layers they use when they run: `storm ls`
    from stormflow.spec.entries import Entry  # should not load the spec, store and engine

P = ParamSpec("P")
T = TypeVar("T")

#: Exit code for bad input and for documents that still have errors.
EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Something the user can fix; printed as one line on stderr, exit code 2."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def one_line_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn UserError (and, unless STORM_DEBUG is set, any crash) into one stderr line."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            typer.echo(f"storm: error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get("STORM_DEBUG"):
                raise
            typer.echo(f"storm: internal error: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def read_document_data(path: str) -> tuple[Any, dict[str, int]]:
    """Raw data of a document file; unreadable or unparseable files are a UserError."""
    from stormflow.spec.document import read_file

    data, entries, lines = read_file(path)
    if entries:
        fail(f"{path}: {entries[0].message}")
    return data, lines


def entry_location(entry: Entry) -> str:
    parts = []
    if entry.line is not None:
        parts.append(f"line {entry.line}")
    if entry.field:
        parts.append(entry.field)
    return ", ".join(parts)


def log_to_stderr(level: int = logging.WARNING) -> None:
    """Storm's own log records (a scheduler error with its traceback, a busy store) on stderr,
    for the long-running commands (`storm server`, `storm scheduler`)."""
    logger = logging.getLogger("stormflow")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("storm: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)


#: `--set NAME=VALUE`: a template param's value (repeatable).
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="A template param's value, NAME=VALUE (repeatable)."),
]


def param_values(sets: list[str] | None) -> dict[str, str]:
    """`--set` options as a mapping; a malformed one is the user's to fix."""
    from stormflow.spec.params import parse_assignments

    try:
        return parse_assignments(sets)
    except ValueError as exc:
        fail(str(exc))


def _first(path: str, entries: list[Entry]) -> str:
    errors = [e for e in entries if e.severity == "error"] or entries
    more = f" (and {len(errors) - 1} more; see storm validate {path})" if len(errors) > 1 else ""
    return f"{path}: {errors[0].message}{more}"


def instantiated_document(
    path: str,
    sets: list[str] | None,
    *,
    lookup: Callable[[str], Any] | None = None,
    strict: bool = True,
) -> Any:
    """The document of a file with its params filled (`--set`, else defaults) and its
    `workflow` nodes' templates and for_each files read relative to it; the first problem
    is the user's to fix (one line, exit 2). `lookup` finds stored templates; without it
    their names are left for the server (`strict=False`)."""
    from pathlib import Path

    from stormflow.spec.params import instantiate_checked, is_template
    from stormflow.spec.templates import resolve_checked

    data, _lines = read_document_data(path)
    values = param_values(sets)
    if values or is_template(data):
        data, entries = instantiate_checked(data, values)
        if data is None:
            fail(_first(path, entries))
    file = Path(path).resolve()
    data, entries = resolve_checked(
        data, base_dir=file.parent, lookup=lookup, source=f"file:{file}", strict=strict
    )
    if entries:
        fail(_first(path, entries))
    return data
