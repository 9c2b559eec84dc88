"""Node kinds and their parameters: the registry new kinds (upload, sub-workflow...) plug into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError


@dataclass(frozen=True)
class Param:
    """One node parameter: its JSON type (checked strictly), default and meaning."""

    name: str
    type: Any
    expected: str  # how messages describe the type: "a list of strings"
    description: str
    required: bool = False
    default: Any = None  # copied into the node's base config when not None

    def check(self, value: object) -> bool:
        try:
            _adapter(self.type).validate_python(value, strict=True)
        except ValidationError:
            return False
        except (RecursionError, TypeError, ValueError):
            return False
        return True


_ADAPTERS: dict[int, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    key = id(tp)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(tp)
    return _ADAPTERS[key]


@dataclass(frozen=True)
class NodeKind:
    name: str
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)
    #: Whether `frames` may expand this node into one node per chunk.
    frame_ranged: bool = False

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params.values() if p.default is not None}


_KINDS: dict[str, NodeKind] = {}


def register_kind(kind: NodeKind) -> NodeKind:
    """Add (or replace) a node kind; documents may then use `kind: <name>`."""
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> NodeKind | None:
    return _KINDS.get(name)


def kind_names() -> list[str]:
    return sorted(_KINDS)


def _params(*params: Param) -> dict[str, Param]:
    return {p.name: p for p in params}


NonNegInt = Annotated[int, Field(ge=0)]
NonNegNumber = Annotated[float, Field(ge=0)]
Command = list[str] | str

#: Node-level keys shared by every kind; everything else in a node is a parameter.
NODE_KEYS = ("name", "kind", "status")

RETRIES = Param("retries", NonNegInt, "a whole number >= 0", "automatic retries", default=0)
RETRY_DELAY = Param(
    "retry_delay",
    Annotated[float, Field(ge=0, allow_inf_nan=False)],
    "a number of seconds >= 0",
    "seconds before the first automatic retry, doubled per retry (at most 300 s; default 2)",
)
LOST_RETRIES = Param(
    "lost_retries", NonNegInt, "a whole number >= 0", "reruns after a lost worker (default 3)"
)

TASK = register_kind(
    NodeKind(
        name="task",
        description="runs its commands in series on a worker",
        frame_ranged=True,
        params=_params(
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

EMAIL = register_kind(
    NodeKind(
        name="email",
        description="sends an email when its upstream nodes are ready",
        params=_params(
            Param(
                "addresses",
                list[str],
                "a list of email addresses",
                "recipients",
                required=True,
            ),
            Param(
                "subject",
                str,
                "a string",
                "subject; ${workflow-name} ${workflow-id} ${node-name} ${status} are filled",
                default="${workflow-name}: ${status}",
            ),
            Param(
                "body",
                str,
                "a string",
                "body; same tokens as subject",
                default="Workflow ${workflow-name} (${workflow-id}): ${node-name} ${status}.",
            ),
            RETRIES,
            RETRY_DELAY,
            LOST_RETRIES,
        ),
    )
)
