"""`GET /metrics`: what operators watch, in the Prometheus text format (docs/deploy.md).

Behind the server token like everything else (Prometheus sends it with
`authorization: {credentials_file: ...}`). Figures come from four places: the database
(runnable and running attempts, at scrape time), the scheduler child (its report,
summed over restarts), this process (requests by route, the event pump, the read
cache, the connection pool) and the supervisor (restarts, liveness).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stormflow.core import Status
from stormflow.metrics import Exposition, Histogram
from stormflow.store import Store
from stormflow.store.schema import attempts, nodes

from .context import Ctx
from .scheduler_process import SchedulerProcess

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
API_PREFIX = "/api/v1"


class RequestFigures:
    """Latency by route template (until the response starts: an event stream's connect time,
    not its life) and answers by status class. Unmatched paths share one `other` label."""

    def __init__(self) -> None:
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.answers: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def started(self, route: str, method: str, seconds: float) -> None:
        with self._lock:
            hist = self.latency.get((route, method))
            if hist is None:
                hist = self.latency[(route, method)] = Histogram()
        hist.observe(seconds)

    def answered(self, route: str, method: str, status: str) -> None:
        with self._lock:
            key = (route, method, status)
            self.answers[key] = self.answers.get(key, 0) + 1

    def snapshot(self) -> tuple[list[Any], list[Any]]:
        with self._lock:
            return sorted(self.latency.items()), sorted(self.answers.items())


class RequestMetrics:
    """The middleware that feeds `RequestFigures` (innermost: the route is known after)."""

    def __init__(self, app: ASGIApp, figures: RequestFigures) -> None:
        self.app = app
        self.figures = figures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = "5xx"  # if nothing answers

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = f"{message['status'] // 100}xx"
                self.figures.started(_route(scope), scope["method"], time.perf_counter() - began)
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            self.figures.answered(_route(scope), scope["method"], status)


def _route(scope: Scope) -> str:
    """The matched route's template, e.g. /api/v1/workflows/{workflow_id}."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return "other"
    # a route included under a prefix knows its path without it
    if scope["path"].startswith(API_PREFIX + "/") and not path.startswith(API_PREFIX + "/"):
        path = API_PREFIX + path
    return path


def _attempt_counts(store: Store) -> tuple[int, int]:
    """(runnable, running): live attempts of running nodes, due and unleased / leased."""
    live = (
        select(func.count())
        .select_from(attempts)
        .join(
            nodes,
            (nodes.c.workflow_id == attempts.c.workflow_id) & (nodes.c.name == attempts.c.node),
        )
        .where(
            attempts.c.result.is_(None),
            attempts.c.snapshot.is_(None),
            nodes.c.status == Status.RUNNING.value,
        )
    )
    with store.read() as conn:
        runnable = conn.execute(
            live.where(attempts.c.lease_owner.is_(None), attempts.c.not_before <= time.time())
        ).scalar_one()
        running = conn.execute(live.where(attempts.c.lease_owner.is_not(None))).scalar_one()
    return int(runnable), int(running)


def exposition(request: Request, store: Store, scheduler: Any) -> str:
    out = Exposition()
    runnable, running = _attempt_counts(store)
    out.scalar(
        "storm_attempts_runnable", "gauge", "Live attempts due and waiting for a slot.", runnable
    )
    out.scalar("storm_attempts_running", "gauge", "Live attempts leased to a scheduler.", running)
    if isinstance(scheduler, SchedulerProcess):
        _scheduler_figures(out, scheduler)
    pump = getattr(request.app.state, "pump", None)
    out.scalar(
        "storm_sse_subscribers",
        "gauge",
        "Open event streams.",
        pump.subscribers if pump is not None else 0,
    )
    stats = pump.stats if pump is not None else None
    for name, help_text, value in (
        ("storm_sse_dropped_total", "Streams dropped for falling behind.", "dropped"),
        ("storm_event_pump_reads_total", "Queries made by the event pump.", "reads"),
        ("storm_event_pump_events_total", "Events handed to streams (once each).", "delivered"),
    ):
        out.scalar(name, "counter", help_text, getattr(stats, value, 0))
    hooks = getattr(request.app.state, "hook_figures", None)
    for name, help_text, value in (
        ("storm_webhooks_received_total", "Webhooks with a good signature.", "received"),
        ("storm_webhooks_applied_total", "Webhook results written.", "applied"),
        ("storm_webhooks_noop_total", "Webhook results for finished attempts.", "no_op"),
        ("storm_webhooks_duplicate_total", "Webhook events seen before.", "duplicates"),
        (
            "storm_webhooks_bad_signature_total",
            "Webhooks refused: bad signature.",
            "bad_signatures",
        ),
    ):
        out.scalar(name, "counter", help_text, getattr(hooks, value, 0))
    cache = request.app.state.read_cache
    out.scalar("storm_read_cache_hits_total", "counter", "Reads answered from memory.", cache.hits)
    out.scalar("storm_read_cache_misses_total", "counter", "Reads computed.", cache.misses)
    _pool(out, store)
    figures: RequestFigures | None = getattr(request.app.state, "request_figures", None)
    if figures is not None:
        latency, answers = figures.snapshot()
        out.histograms(
            "storm_http_request_duration_seconds",
            "Time to the start of the response, by route.",
            (({"route": r, "method": m}, h) for (r, m), h in latency),
        )
        out.family("storm_http_requests_total", "counter", "Requests by route and status class.")
        for (route, method, status), n in answers:
            out.sample(
                "storm_http_requests_total", n, {"route": route, "method": method, "status": status}
            )
    return out.text()


def _scheduler_figures(out: Exposition, scheduler: SchedulerProcess) -> None:
    figures = scheduler.figures()
    out.scalar("storm_scheduler_up", "gauge", "1 while the scheduler child runs.", scheduler.alive)
    out.scalar(
        "storm_scheduler_restarts_total",
        "counter",
        "Times the scheduler child was restarted.",
        scheduler.restarts,
    )
    for name, help_text, key in (
        ("storm_tasks_dispatched_total", "Attempts handed to the executor.", "dispatched"),
        ("storm_results_total", "Results recorded (rate(): results per second).", "results"),
        ("storm_results_stale_total", "Results ignored as stale duplicates.", "stale"),
        ("storm_attempts_lost_total", "Attempts whose worker or lease was lost.", "lost"),
    ):
        out.scalar(name, "counter", help_text, figures[key])
    out.scalar("storm_executor_running", "gauge", "Commands running now.", figures["running"])
    out.scalar("storm_executor_free_slots", "gauge", "Free executor slots.", figures["free_slots"])
    out.histograms(
        "storm_dispatch_latency_seconds",
        "From a node becoming runnable to its command handed to the executor.",
        [({}, figures["dispatch_seconds"])],
    )
    out.histograms(
        "storm_transaction_seconds",
        "The scheduler's write transactions (results, runs, claims).",
        [({}, figures["transaction_seconds"])],
    )


def _pool(out: Exposition, store: Store) -> None:
    pool: Any = store.engine.pool
    for name, help_text, attr in (
        ("storm_db_pool_size", "Connections the API's pool keeps.", "size"),
        ("storm_db_pool_checked_out", "The API's connections in use now.", "checkedout"),
        ("storm_db_pool_overflow", "Connections opened beyond the pool size.", "overflow"),
    ):
        method = getattr(pool, attr, None)
        if callable(method):
            out.scalar(name, "gauge", help_text, max(0, int(method())))


router = APIRouter(tags=["server"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(ctx: Ctx, request: Request) -> PlainTextResponse:
    """Prometheus text format (version 0.0.4); needs the token."""
    text = exposition(request, ctx.store, ctx.scheduler)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
