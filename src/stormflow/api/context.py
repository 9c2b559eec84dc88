"""What every route needs: the store, the data directory, the scheduler; who acts; when."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import Depends, Header, Request

from stormflow.core import Outcome
from stormflow.store import Store

#: `Idempotency-Key`: 1-200 printable ASCII characters (docs/api.md).
KEY_PATTERN = r"^[\x20-\x7e]{1,200}$"


class OutcomeSink(Protocol):
    """An embedded scheduler: told about outcomes made here, so it acts without polling."""

    def apply(self, workflow_id: str, outcome: Outcome) -> None: ...


#: Seconds the API keeps the provider names it validates `external` nodes against.
PROVIDERS_TTL = 2.0


@dataclass
class ApiContext:
    store: Store
    data_dir: Path
    token: str
    scheduler: OutcomeSink | None = None

    # provider names (for validating `external` nodes), read again after PROVIDERS_TTL
    _providers: tuple[float, frozenset[str]] = (float("-inf"), frozenset())

    def told(self, workflow_id: str, outcome: Outcome | None) -> None:
        if self.scheduler is not None and outcome is not None:
            self.scheduler.apply(workflow_id, outcome)

    def provider_names(self) -> frozenset[str]:
        """The store's providers, read at most every PROVIDERS_TTL seconds (another server
        on the same database may add one: it is seen that much later)."""
        at, names = self._providers
        now = time.monotonic()
        if now - at > PROVIDERS_TTL:
            names = frozenset(self.store.provider_names())
            self._providers = (now, names)
        return names

    def forget_providers(self) -> None:
        self._providers = (float("-inf"), frozenset())


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.storm
    return ctx


def actor(request: Request) -> str:
    """`X-Storm-User` if given (trimmed, at most 200 characters), else "api"."""
    user = request.headers.get("x-storm-user", "").strip()[:200]
    return user or "api"


def now() -> float:
    return time.time()


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def workflow_url(request: Request, workflow_id: str) -> str:
    return f"{base_url(request)}/ui/workflows/{workflow_id}"


Ctx = Annotated[ApiContext, Depends(context)]
Actor = Annotated[str, Depends(actor)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="A repeated key returns the first answer and changes nothing.",
    ),
]
