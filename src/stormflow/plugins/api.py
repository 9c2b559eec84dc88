"""What a plugin declares: the typed values a package hands Storm through its entry point.

A package adds to Storm by naming, in its `pyproject.toml`, an entry point in the group
`stormflow.plugins` that points at a `Plugin` (or at a function of no arguments returning
one). The plugin says which `api_version` of this module it was written against, and what
it adds:

- `kinds`: node kinds (`stormflow.kinds.Kind`: parameters, rules with fixers, how an attempt
  runs: commands it renders itself, an action, or a wait);
- `rules`: validation rules for any node, the built-in kinds' included;
- `providers`: external-job providers, by name (a farm, a cloud service) for the kinds that
  hand work to something outside;
- `notifications`: notification kinds (action kinds such as `email`, listed apart);
- `integrations`: DCC integrations the plugins page offers (version, download, install steps).

Only this module and `stormflow.kinds` / `stormflow.spec` are the plugin API; see
docs/plugins.md. A change that would break a plugin written for version N raises
`API_VERSION`; Storm refuses a plugin declaring a version it does not support.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from stormflow.kinds.base import Kind, Rule

#: The plugin API this Storm implements, and the versions it still loads.
API_VERSION = 1
SUPPORTED_API_VERSIONS = frozenset({1})

#: A download: an http(s) URL, a server path ("/api/v1/..."), a file, or a function that
#: makes the file when asked (e.g. zips an add-on's sources).
Download = str | Path | Callable[[], Path]


@dataclass(frozen=True)
class DccIntegration:
    """Something a user installs in a DCC so that it talks to Storm (an add-on, a shelf)."""

    name: str  # unique id, e.g. "blender"
    title: str  # shown on the plugins page, e.g. "Blender"
    version: str  # the version this server offers, e.g. "1.2.0"
    description: str = ""
    #: The product name the integration sends in `X-Storm-Client: <client>/<version>`; the
    #: server remembers the last version it saw, and the page says when an update exists.
    client: str | None = None
    download: Download | None = None
    #: The file name a download is saved as (defaults to the file's own name).
    filename: str | None = None
    #: Which versions of the DCC it supports, as text ("4.2 and later").
    dcc_versions: str = ""
    #: Install steps, one sentence each, in order.
    install: tuple[str, ...] = ()


#: How an external job stands, as a provider reports it.
ExternalState = Literal["queued", "running", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class ExternalStatus:
    state: ExternalState
    message: str = ""  # one line for the node's log
    progress: float | None = None  # 0..1 when known


@dataclass(frozen=True)
class ProviderContext:
    """Who a submission is for; providers key their jobs on `token` to stay idempotent."""

    workflow_id: str
    node: str
    token: str
    data_dir: Path | None = None


@runtime_checkable
class JobProvider(Protocol):
    """An external-job provider: a farm or service that runs work outside Storm's executors.

    Storm (the "wait" kinds) calls `submit` once per attempt, then `poll` until the state is
    final, and `cancel` when the node is stopped. Each call may raise: the attempt fails with
    the error and the plugin is reported and disabled; Storm goes on.
    """

    name: str
    description: str

    def submit(self, payload: Mapping[str, Any], ctx: ProviderContext) -> str:
        """Start the work; returns the provider's job id."""
        ...

    def poll(self, job_id: str) -> ExternalStatus: ...

    def cancel(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class Plugin:
    """Everything one package adds to Storm."""

    name: str
    version: str
    api_version: int
    description: str = ""
    kinds: tuple[Kind, ...] = ()
    rules: tuple[Rule, ...] = ()
    providers: tuple[JobProvider, ...] = ()
    notifications: tuple[Kind, ...] = ()
    integrations: tuple[DccIntegration, ...] = ()
    #: Anything else the plugin wants shown on its card (homepage, author...).
    about: Mapping[str, str] = field(default_factory=dict)
