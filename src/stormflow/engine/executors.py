"""Build a scheduler with the executor a command asked for (`--executor local|celery`)."""

from __future__ import annotations

from stormflow.engine.scheduler import Scheduler, Settings, new_owner
from stormflow.kinds.email import EmailSender
from stormflow.store import Store

EXECUTORS = ("local", "celery")


def make_scheduler(
    store: Store,
    settings: Settings,
    *,
    executor: str = "local",
    slots: int | None = None,
    broker: str | None = None,
    redis_url: str | None = None,
    heartbeat_ttl: float = 10.0,
) -> Scheduler:
    if executor == "local":
        return Scheduler(store, settings, slots=slots)
    if executor != "celery":
        raise ValueError(f"unknown executor {executor!r} (choose from {', '.join(EXECUTORS)})")
    from stormflow.engine.celery.app import DEFAULT_BROKER, redis_url_for
    from stormflow.engine.celery.executor import CeleryExecutor

    if heartbeat_ttl * 2 > settings.lease_seconds:
        # A lost worker must be noticed (ttl) well before the lease lapses into a lost attempt.
        raise ValueError(
            f"heartbeat ttl {heartbeat_ttl:g}s must be at most half the lease "
            f"({settings.lease_seconds:g}s)"
        )
    broker = broker or DEFAULT_BROKER
    owner = new_owner()
    # The executor needs the scheduler's result queue before the scheduler exists: results
    # only come back after the first submit, which the scheduler makes once built.
    built: list[Scheduler] = []
    celery = CeleryExecutor(
        lambda result: built[0].deliver(result),
        broker,
        redis_url=redis_url_for(broker, redis_url),
        slots=slots or 1000,
        heartbeat_ttl=heartbeat_ttl,
        owner=owner,
        email_sender=EmailSender.from_env(data_dir=settings.data_dir),  # emails go out from here
        orphan_grace=settings.orphan_grace,
    )
    try:
        built.append(Scheduler(store, settings, celery, owner=owner))
    except BaseException:
        celery.close(grace=0.0)
        raise
    return built[0]
