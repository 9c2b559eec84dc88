"""The node list, the compact graph and the summary carry the event seq they reflect: that
answer plus the events after its seq is the state now, with nothing missed or replayed."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from stormflow import core
from stormflow.store import Store
from tests.api.helpers import API, act, run_node, submit


def replay(statuses: dict[str, str], events: list[dict[str, Any]]) -> dict[str, str]:
    out = dict(statuses)
    for event in events:
        if event["node"] is not None and event["new"] is not None:
            assert out[event["node"]] == event["old"], event  # no event applied twice
            out[event["node"]] = event["new"]
    return out


def after(api: TestClient, wf: str, seq: int) -> list[dict[str, Any]]:
    page = api.get(f"{API}/workflows/{wf}/events", params={"after": seq, "limit": 10_000})
    return list(page.json()["items"])


def node_statuses(api: TestClient, wf: str) -> tuple[dict[str, str], int]:
    page = api.get(f"{API}/workflows/{wf}/nodes").json()
    return {n["name"]: n["status"] for n in page["items"]}, int(page["seq"])


def graph_statuses(api: TestClient, wf: str) -> tuple[dict[str, str], int]:
    graph = api.get(f"{API}/workflows/{wf}/graph").json()
    return dict(zip(graph["nodes"]["name"], graph["nodes"]["status"], strict=True)), graph["seq"]


def test_the_seq_is_the_last_event_the_answers_reflect(api: TestClient, store: Store) -> None:
    wf = submit(api)
    for read in (node_statuses, graph_statuses):
        statuses, seq = read(api, wf)
        assert seq == 1 and set(statuses.values()) == {"open"}  # the submit event
    run_node(store, wf, "simulate")
    act(api, wf, {"action": "hold", "selection": {"glob": "render.*"}})
    last = api.get(f"{API}/workflows/{wf}/events").json()["last_seq"]
    summary = api.get(f"{API}/workflows/{wf}").json()
    assert summary["seq"] == last
    for read in (node_statuses, graph_statuses):
        statuses, seq = read(api, wf)
        assert seq == last and statuses["simulate"] == "succeeded"
        assert Counter(statuses.values()) == +Counter(summary["counts"])
    listed = api.get(f"{API}/workflows").json()["items"]
    assert [w["seq"] for w in listed if w["id"] == wf] == [last]


def test_an_answer_plus_the_events_after_its_seq_is_the_state_now(
    api: TestClient, store: Store
) -> None:
    """Read while a writer changes the workflow: whatever moment each read saw, replaying
    the events after its seq onto it gives the final state."""
    wf = submit(api)
    run_node(store, wf, "simulate")
    chunks = ["render.1-2", "render.3-4", "render.5-6", "render.7-8"]
    done = threading.Event()

    def writer() -> None:
        for i in range(40):
            name = chunks[i % 4]
            run_node(store, wf, name, ok=i % 3 != 0)
            store.transact(wf, lambda v, n=name: core.retry(v, [n], at=2.0))
        done.set()

    reads: list[tuple[dict[str, str], int]] = []
    summaries: list[dict[str, Any]] = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while not done.is_set():
            reads.append(node_statuses(api, wf))
            reads.append(graph_statuses(api, wf))
            summaries.append(api.get(f"{API}/workflows/{wf}").json())
    finally:
        thread.join()
    final, seq = node_statuses(api, wf)
    assert len({s for _, s in reads}) > 1  # the reads saw several moments
    for statuses, at in reads:
        assert replay(statuses, after(api, wf, at)) == final
    for summary in summaries:
        counts = Counter(summary["counts"])
        for event in after(api, wf, summary["seq"]):
            if event["node"] is not None and event["new"] is not None:
                counts[event["old"]] -= 1
                counts[event["new"]] += 1
        assert +counts == Counter(final.values())
    assert api.get(f"{API}/workflows/{wf}").json()["seq"] == seq
