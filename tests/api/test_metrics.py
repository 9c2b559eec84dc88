"""`GET /metrics`: the Prometheus text format, behind the token, and figures that move."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from stormflow import core
from stormflow.api.app import create_app
from stormflow.metrics import Exposition, Histogram
from stormflow.store import Store
from tests.api.helpers import API, DOC, TOKEN, live_server, submit
from tests.api.prometheus import parse, value


def scrape(api: TestClient) -> dict:  # type: ignore[type-arg]
    answer = api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(answer.text)[1]


def test_metrics_need_the_token(api: TestClient) -> None:
    assert TestClient(api.app).get("/metrics").status_code == 401


def test_attempt_and_request_figures_move(api: TestClient, store: Store) -> None:
    wf = submit(api)
    before = scrape(api)
    assert value(before, "storm_attempts_runnable") == 0
    assert value(before, "storm_attempts_running") == 0
    route = f"{API}/workflows/{{workflow_id}}"
    seen = before.get(("storm_http_requests_total", frozenset(
        {"route": route, "method": "GET", "status": "2xx"}.items())), 0)  # fmt: skip
    for _ in range(3):
        api.get(f"{API}/workflows/{wf}")
    api.get(f"{API}/workflows/zzzzzzzz")
    at = time.time()
    applied = store.transact(wf, lambda v: core.run(v, "simulate", at=at))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    after = scrape(api)
    assert value(after, "storm_attempts_runnable") == 1
    get = {"route": route, "method": "GET"}
    assert value(after, "storm_http_requests_total", **get, status="2xx") == seen + 3
    assert value(after, "storm_http_requests_total", **get, status="4xx") == 1
    assert value(after, "storm_http_request_duration_seconds_count", **get) == seen + 4
    store.claim(wf, "simulate", token, owner="me", now=at, lease_seconds=30, worker="me", log=None)
    claimed = scrape(api)
    assert value(claimed, "storm_attempts_runnable") == 0
    assert value(claimed, "storm_attempts_running") == 1
    assert value(claimed, "storm_read_cache_hits_total") >= 2  # the repeated summary reads
    assert ("storm_db_pool_checked_out", frozenset()) in claimed


def test_stream_subscribers_are_counted(store: Store, data_dir: Path) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN, keepalive=5)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        wf = http.post(f"{API}/workflows", json=DOC).json()["id"]
        with http.stream("GET", f"{API}/workflows/{wf}/events/stream") as stream:
            lines = stream.iter_lines()  # kept: dropping it would close the stream
            next(line for line in lines if line.startswith("id: "))
            during = parse(http.get("/metrics").text)[1]
            assert value(during, "storm_sse_subscribers") == 1
            assert value(during, "storm_event_pump_reads_total") >= 0
        deadline = time.monotonic() + 10
        while value(parse(http.get("/metrics").text)[1], "storm_sse_subscribers") != 0:
            assert time.monotonic() < deadline, "the closed stream is still counted"
            time.sleep(0.05)


def test_the_exposition_escapes_labels_and_adds_histograms() -> None:
    out = Exposition()
    a, b = Histogram(), Histogram()
    a.observe(0.003)
    b.observe(20.0)
    both = a.add(b)
    assert Histogram.from_dict(both.as_dict()).count == 2
    out.histograms("t_seconds", "help", [({"route": 'a"b\\c\nd'}, both)])
    types, samples = parse(out.text())
    assert types == {"t_seconds": "histogram"}
    assert value(samples, "t_seconds_count", route='a\\"b\\\\c\\nd') == 2
    assert value(samples, "t_seconds_bucket", route='a\\"b\\\\c\\nd', le="0.005") == 1
    assert value(samples, "t_seconds_bucket", route='a\\"b\\\\c\\nd', le="+Inf") == 2
    assert both.quantile(0.5) == 0.005
