"""The `task` kind: commands run in series on a worker, optionally one node per frame chunk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stormflow.kinds.base import (
    LOST_RETRIES,
    RETRIES,
    RETRY_DELAY,
    Kind,
    NonNegNumber,
    Param,
    params,
)
from stormflow.kinds.registry import register_kind
from stormflow.spec import fixers as fx
from stormflow.spec.entries import Entry, error
from stormflow.spec.validate import RuleContext

Command = list[str] | str


def task_commands(ctx: RuleContext) -> Iterator[Entry]:
    """A task has at least one command, and no empty ones (fixer: drop them)."""
    for node in ctx.nodes:
        commands = node.params.get("commands")
        if node.kind is None or node.kind.name != "task" or not isinstance(commands, list):
            continue
        empty = [c for c in commands if c in ("", []) or (isinstance(c, str) and not c.strip())]
        if not commands or len(empty) == len(commands):
            yield error(
                "empty-commands",
                f"task {node.label!r} has no commands to run",
                nodes=node.names,
                field="commands",
            )
        elif empty:

            def drop_empty(raw: dict[str, Any]) -> None:
                raw["commands"] = [
                    c
                    for c in raw.get("commands", [])
                    if c not in ("", []) and not (isinstance(c, str) and not c.strip())
                ]

            yield error(
                "empty-commands",
                f"task {node.label!r} has {len(empty)} empty command(s)",
                nodes=node.names,
                field="commands",
                fixers=(
                    fx.edit_node(
                        node.index,
                        node.label,
                        f"drop-empty-commands:{node.label}",
                        f"remove the empty commands of {node.label}",
                        drop_empty,
                    ),
                ),
            )


TASK = register_kind(
    Kind(
        name="task",
        description="runs its commands in series on a worker",
        frame_ranged=True,
        runs="commands",
        rules=(task_commands,),
        params=params(
            Param(
                "commands",
                list[Command],
                "a list of commands (argv lists of strings, or shell strings)",
                "commands run in series; argv lists or shell lines",
                required=True,
            ),
            Param(
                "env", dict[str, str], "a mapping of strings to strings", "environment", default={}
            ),
            Param("cwd", str, "a string", "working directory, relative to the workflow's"),
            Param("instance_type", str, "a string", "hardware / queue routing"),
            RETRIES,
            RETRY_DELAY,
            LOST_RETRIES,
            Param("min_seconds", NonNegNumber, "a number >= 0", "shortest plausible run"),
            Param("max_seconds", NonNegNumber, "a number >= 0", "time limit of one attempt"),
            Param("output", str, "a string", "output path"),
            Param("limits", list[str], "a list of strings", "named limits this node consumes"),
            Param("frames", str | int, "a frame spec string", "frame range, e.g. '1-100x2'"),
            Param("chunk_size", int, "a whole number", "frames per chunk", default=None),
            Param(
                "scout",
                str | int | list[int],
                "a frame spec string or a list of frames",
                "scout frames: only their chunks start open",
            ),
        ),
    )
)
