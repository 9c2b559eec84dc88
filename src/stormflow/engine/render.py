"""Turn a claimed attempt into a `Job`: commands with their tokens filled, env, cwd, log path.

Relative working directories land in the workflow's own directory under the data
directory (`work/<workflow id>/`), so the example pipeline's relative outputs stay
together and never escape it by accident.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stormflow.core import Node
from stormflow.engine.jobs import Job
from stormflow.kinds import get_kind
from stormflow.spec import render_commands

_BINDIR = str(Path(sys.executable).parent)
_UNSAFE = re.compile(r"[^A-Za-z0-9._,#=+-]")


def safe_name(name: str) -> str:
    """A file name for a node or token: no separators, no leading dots."""
    cleaned = _UNSAFE.sub("_", name).lstrip(".")
    return cleaned or "_"


def workflow_dir(data_dir: Path, workflow_id: str) -> Path:
    return Path(_workflow_dir(data_dir, workflow_id))


def log_path(data_dir: Path, workflow_id: str, token: str) -> Path:
    return Path(_log_dir(data_dir, workflow_id), f"{safe_name(token)}.log")


# Per-task path: the directories of a workflow as strings, computed once (pathlib's joins
# cost ~10 us each, several per task).
@functools.lru_cache(maxsize=1024)
def _workflow_dir(data_dir: Path, workflow_id: str) -> str:
    return str(data_dir / "work" / safe_name(workflow_id))


@functools.lru_cache(maxsize=1024)
def _log_dir(data_dir: Path, workflow_id: str) -> str:
    return str(data_dir / "logs" / safe_name(workflow_id))


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _env(config: Mapping[str, Any], tokens: Mapping[str, str], attempt: str) -> dict[str, str]:
    env = {str(k): str(v) for k, v in (config.get("env") or {}).items() if v is not None}
    # The interpreter running Storm first on PATH: `python -m stormflow.demo...` and
    # pipeline tools installed beside Storm resolve to this environment.
    bindir = _BINDIR
    base_path = env.get("PATH", os.environ.get("PATH", ""))
    env["PATH"] = os.pathsep.join([bindir, base_path]) if base_path else bindir
    env.setdefault("STORM_WORKFLOW_ID", tokens["workflow-id"])
    env.setdefault("STORM_WORKFLOW_NAME", tokens["workflow-name"])
    env.setdefault("STORM_NODE", tokens["node-name"])
    # Unique per attempt: a command can tell a retry from a re-delivery (and name temp files).
    env.setdefault("STORM_ATTEMPT", attempt)
    return env


def render_job(
    *,
    data_dir: Path,
    workflow_id: str,
    workflow_name: str,
    kind: str,
    node: Node,
    token: str,
    status: str,
    log: str,
    summary: Mapping[str, Any] | None = None,
) -> Job:
    config = node.current
    tokens = {
        "workflow-id": workflow_id,
        "workflow-name": workflow_name,
        "node-name": node.name,
        "status": status,
    }
    workdir = _workflow_dir(data_dir, workflow_id)
    cwd_value = config.get("cwd")
    cwd = str(Path(workdir) / str(cwd_value)) if cwd_value else workdir
    spec = get_kind(kind)
    payload = spec.payload(config, tokens) if spec is not None and spec.payload else {}
    if summary is not None:
        payload = {**payload, "summary": dict(summary)}
    runs_commands = spec is None or spec.runs == "commands"
    rendered: tuple[str | tuple[str, ...], ...] = ()
    if runs_commands:
        # A plugin kind renders its own commands from its parameters; task renders its own.
        found = (
            spec.commands(config, tokens)
            if spec is not None and spec.commands
            else render_commands(config, tokens)
        )
        rendered = tuple(c if isinstance(c, str) else tuple(c) for c in found)
    return Job(
        workflow_id=workflow_id,
        node=node.name,
        token=token,
        kind=kind,
        commands=rendered,
        env=_env(config, tokens, token),
        cwd=cwd,
        log_path=log,
        min_seconds=_seconds(config.get("min_seconds")),
        max_seconds=_seconds(config.get("max_seconds")),
        payload=payload,
        # "Switch these frames to a bigger machine" = a new instance_type = another queue.
        queue=str(config["instance_type"]) if config.get("instance_type") else None,
    )
