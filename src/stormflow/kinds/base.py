"""The Kind interface: everything Storm knows about one kind of node, in one value.

A kind says
- which parameters a node of it takes (`params`, each type-checked strictly),
- which validation rules concern it (`rules`: functions of a `spec.RuleContext` that yield
  entries with fixers, run beside the document-wide rules),
- whether `frames` expands it into chunks (`frame_ranged`),
- how an attempt runs (`runs`):
    "commands": the executor runs the rendered commands as processes (task);
    "action":   the executor calls `action` in one of its threads (email, webhook...);
    "wait":     the scheduler hands the work to something outside and waits for it without
                a slot (external jobs, sub-workflows).
- what an action kind needs rendered for its attempt (`payload`: config and tokens in, a
  JSON-able mapping out, carried by the Job),
- for a "commands" kind other than `task`, how its parameters become the commands run
  (`commands`: config and tokens in, argv lists or shell lines out; without it the node's
  own `commands` parameter is rendered, as for `task`).

This module imports nothing of Storm's, so `spec` and `engine` can both depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

Runs = Literal["commands", "action", "wait"]

#: A validation rule: RuleContext -> entries. Typed loosely here to keep this module free of
#: imports from `spec` (which imports the registry).
Rule = Callable[[Any], Iterator[Any]]


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


class ActionError(RuntimeError):
    """An action kind's attempt failed; the message is one line for the attempt's error."""


@dataclass
class ActionContext:
    """What an action is given besides its payload: who it runs for, and the executor's means."""

    workflow_id: str
    node: str
    token: str
    data_dir: Path | None = None
    log_path: str | None = None
    #: Shared means of the executor running it, by name (e.g. "email_sender").
    services: Mapping[str, Any] = field(default_factory=dict)
    #: True once the attempt was asked to stop (cancel, skip, timeout): long actions check it.
    stopped: Callable[[], bool] = lambda: False
    #: Long actions report how far they are (a JSON-able mapping: bytes done, rate...); the
    #: executor passes it on to whoever watches (a no-op unless someone does).
    progress: Callable[[Mapping[str, Any]], None] = lambda _figures: None


Payload = Callable[[Mapping[str, Any], Mapping[str, str]], Mapping[str, Any]]
Action = Callable[[Mapping[str, Any], ActionContext], str]
#: A rendered command: an argv list, or a shell line.
Command = list[str] | str
Commands = Callable[[Mapping[str, Any], Mapping[str, str]], list[Command]]


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)
    #: Whether `frames` may expand this node into one node per chunk.
    frame_ranged: bool = False
    runs: Runs = "commands"
    rules: tuple[Rule, ...] = ()
    #: For "action" kinds: the rendered payload of an attempt, and the action itself (returns
    #: one line for the node's log; raises ActionError with one line when it fails).
    payload: Payload | None = None
    action: Action | None = None
    #: For "commands" kinds: the attempt's commands from the node's config (frame values are
    #: in `config["frames"]`, see spec.tokens.frame_token_values) and the text tokens.
    commands: Commands | None = None
    #: Who provides the kind: "storm" for built-ins, else the plugin's name.
    provider: str = "storm"
    #: For "action" kinds that report on their workflow (webhook): the scheduler attaches
    #: the workflow's summary (status, nodes per status, outputs) to the payload as "summary".
    reports: bool = False

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params.values() if p.default is not None}


def params(*items: Param) -> dict[str, Param]:
    """A kind's params mapping, keyed by name, in the order given."""
    return {p.name: p for p in items}


NonNegInt = Annotated[int, Field(ge=0)]
NonNegNumber = Annotated[float, Field(ge=0)]

# The lifecycle parameters every kind that runs attempts takes.
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


def bound_host(config: Mapping[str, Any]) -> str | None:
    """The host a node is bound to (`host`: an upload whose files are on that workstation):
    only an agent of that host claims its attempts (`storm uploader`), never a scheduler."""
    host = config.get("host")
    return host if isinstance(host, str) and host else None
