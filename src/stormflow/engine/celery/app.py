"""The Celery app: the same settings in the scheduler (sending) and in workers (running).

acks_late + prefetch 1: a message is acknowledged only once its attempt has finished, and a
worker holds no more messages than it runs, so a worker that dies mid-task has its message
redelivered instead of losing it. The attempt token makes that redelivery harmless (see keys).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

TASK = "stormflow.run_attempt"
DEFAULT_QUEUE = "default"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
# Redis as a broker redelivers an unacknowledged message after this many seconds even if its
# worker still runs it; the duplicate finds the run lock held and is dropped. Kept short so a
# message taken by a worker that died before starting it comes back within minutes.
VISIBILITY_TIMEOUT = 300


def make_app(broker_url: str) -> Any:
    app = Celery("stormflow", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # results travel through Redis, keyed by attempt token
        worker_prefetch_multiplier=1,
        task_default_queue=DEFAULT_QUEUE,
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def redis_url_for(broker_url: str, redis_url: str | None) -> str:
    """Redis for results and heartbeats: explicit, else the broker itself when it is Redis."""
    if redis_url:
        return redis_url
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    raise ValueError(f"broker {broker_url} is not Redis: pass the Redis URL (--redis) as well")
