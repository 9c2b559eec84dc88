"""Celery tests run against the real services: Redis (broker and results), RabbitMQ, PostgreSQL.

Without a service the tests skip, except under CI=true where that is a failure. Every test
gets queues of its own (a random suffix on each instance type), so messages left behind by
another test or run never reach its workers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.celery.helpers import RABBIT_URL, REDIS_URL, Farm

# The scheduler side of these tests always uses PostgreSQL, the scale-out database.
POSTGRES = pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not reachable; CI=true requires it", pytrace=False)
    pytest.skip(f"{what} is not reachable")


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        _missing(f"Redis at {REDIS_URL}")
    yield client
    client.close()


@pytest.fixture
def rabbitmq() -> str:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        _missing("RabbitMQ at 127.0.0.1:5672")
    return RABBIT_URL


@pytest.fixture
def farm(tmp_path: Path, redis_client: redis.Redis) -> Iterator[Farm]:
    made = Farm(tmp_path, uuid.uuid4().hex[:8])
    try:
        yield made
    finally:
        made.cleanup()
