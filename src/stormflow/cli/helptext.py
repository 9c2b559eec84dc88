"""Plain `--help` pages and one-line usage errors for every `storm` command.

Typer's own pages show the Python types of parameters (`--help <bool>`, `<list[str]>`)
and wrap required arguments in braces (`{file}`); a usage error is a framed box. Here a
page reads like any Unix tool's (`storm run [OPTIONS] FILE`, `--slots N`), fits 80
columns, and a usage error is one line on stderr with exit code 2, like every other
bad input.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.22 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

#: Value names of options, by parameter name (the others: the name in capitals).
VALUE_NAMES = {
    "data_dir": "DIR",
    "db": "URL",
    "server": "URL",
    "broker": "URL",
    "redis": "URL",
    "redis_url": "URL",
    "slots": "N",
    "limit": "N",
    "concurrency": "N",
    "snapshot": "N",
    "tail": "LINES",
    "after": "SEQ",
    "sets": "KEY=VALUE",
    "set_": "KEY=VALUE",
    "to": "STATUS",
    "status": "STATUS",
    "kind": "KIND",
    "glob": "GLOB",
    "name": "GLOB",
    "fix": "FIXER",
    "store_as": "NAME",
    "write": "FILE",
    "token_file": "FILE",
    "lease_seconds": "SECONDS",
    "heartbeat_ttl": "SECONDS",
}


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False))


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _value_name(param: Any) -> str:
    if param.metavar:
        return str(param.metavar)
    name = str(param.name or "value")
    return VALUE_NAMES.get(name, name.upper())


def _tidy(params: Sequence[Any]) -> None:
    """Name arguments in capitals (`FILE`): usage errors then say `Missing argument 'FILE'`."""
    for param in params:
        if _is_argument(param) and param.metavar is None:
            param.metavar = str(param.name).upper()


def _usage(command: Any, ctx: Any) -> str:
    pieces = ["[OPTIONS]"]
    for param in command.get_params(ctx):
        if not _is_argument(param):
            continue
        name = _value_name(param) + ("..." if param.nargs != 1 else "")
        pieces.append(name if param.required else f"[{name}]")
    if isinstance(command, TyperGroup):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


def _option_record(param: Any) -> tuple[str, str]:
    opts = sorted(param.opts, key=len) + list(param.secondary_opts)
    name = ", ".join(opts)
    if not _is_flag(param):
        name += f" {_value_name(param)}"
    extra = []
    envvar = param.envvar
    if envvar:
        extra.append(f"env: {envvar if isinstance(envvar, str) else ', '.join(envvar)}")
    help_text = " ".join((param.help or "").split())
    if extra:
        help_text += f" [{'; '.join(extra)}]"
    return name, help_text


def write_help(command: Any, ctx: Any, formatter: Any) -> None:
    formatter.write_usage(ctx.command_path, _usage(command, ctx))
    text = (command.help or "").strip()
    for paragraph in text.split("\n\n"):
        lines = paragraph.strip("\n")
        if not lines:
            continue
        formatter.write_paragraph()
        if lines.lstrip().startswith("storm "):  # an example: kept as written
            with formatter.indentation():
                for line in lines.splitlines():
                    formatter.write_text(line.strip())
        else:
            with formatter.indentation():
                formatter.write_text(" ".join(lines.split()))
    params = command.get_params(ctx)
    arguments = [
        (_value_name(p), " ".join((getattr(p, "help", None) or "").split()))
        for p in params
        if _is_argument(p)
    ]
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    options = [_option_record(p) for p in params if not _is_argument(p) and not p.hidden]
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)
    if isinstance(command, TyperGroup):
        rows = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                rows.append((name, sub.get_short_help_str(limit=60)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self.params)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        write_help(self, ctx, formatter)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, _usage(self, ctx))


class Group(TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        write_help(self, ctx, formatter)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, _usage(self, ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """As typer's, but a usage error is one line: `storm: error: ... (storm run --help)`."""
        try:
            code = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click_exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click_exceptions.ClickException as exc:
            if not standalone_mode:
                raise
            ctx = getattr(exc, "ctx", None)
            see = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            typer.echo(f"storm: error: {message}{see}", err=True)
            code = exc.exit_code
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("storm: aborted", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)
