"""Seed 002's failure table, with real processes: `storm server` (its scheduler a child
process), the fake job service calling back with signed webhooks, polling racing them."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormflow.signing import HEADER, sign
from stormflow.store import Store
from tests.api.helpers import API
from tests.api.prometheus import parse, value
from tests.external.conftest import SECRET, STORM, Farm, Server, provider, wait_for

pytestmark = pytest.mark.slow


def add_provider(server: Server, config: dict[str, Any]) -> None:
    answer = server.http.put(f"{API}/providers/{config['name']}", json=config)
    assert answer.status_code == 200, answer.text


def doc(name: str, provider_name: str, **request: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {"name": "render", "kind": "external", "provider": provider_name, "request": request},
            {"name": "after", "commands": [["true"]]},
        ],
        "edges": [["render", "after"]],
    }


def of_type(events: list[dict[str, Any]], kind: str, node: str = "render") -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and e["node"] == node]


def store_of(server: Server) -> Store:
    return Store(f"sqlite:///{server.home}/storm.db")


def test_webhook_arrives_normally_result_written_and_no_poll(
    server: Server, module_farm: Farm
) -> None:
    add_provider(server, provider(module_farm, "normal", server.hook_url("normal"), poll=[60]))
    before = module_farm.stats()["status_calls"]
    wf = server.submit(doc("normal", "normal", seconds=0.2))
    assert server.finished(wf) == "succeeded"
    events = server.events(wf)
    result = of_type(events, "external-result")
    assert [(e["payload"]["source"], e["payload"]["applied"]) for e in result] == [
        ("webhook", True)
    ]
    assert result[0]["payload"]["outputs"]["frames"] == 3
    assert of_type(events, "succeed", "after")  # downstream ran
    store = store_of(server)
    try:
        (wait,) = store.waits_of(wf)
        assert (wait.state, wait.ended_by, wait.polls) == ("done", "webhook", 0)
    finally:
        store.close()
    assert module_farm.stats()["status_calls"] == before  # the poll never happened


def test_webhook_lost_polling_finds_the_result(server: Server, module_farm: Farm) -> None:
    add_provider(server, provider(module_farm, "lost", server.hook_url("lost")))
    wf = server.submit(doc("lost", "lost", seconds=0.2, callbacks="lose"))
    assert server.finished(wf) == "succeeded"
    result = of_type(server.events(wf), "external-result")
    assert [(e["payload"]["source"], e["payload"]["applied"]) for e in result] == [("poll", True)]


def test_webhook_delayed_after_polling_is_a_no_op(server: Server, module_farm: Farm) -> None:
    add_provider(server, provider(module_farm, "late", server.hook_url("late")))
    wf = server.submit(doc("late", "late", seconds=0.2, callbacks="delay:1.5"))
    assert server.finished(wf) == "succeeded"

    def both() -> list[dict[str, Any]] | None:
        found = of_type(server.events(wf), "external-result")
        return found if len(found) == 2 else None

    first, second = wait_for(both, 15, "the late webhook")
    assert (first["payload"]["source"], first["payload"]["applied"]) == ("poll", True)
    assert (second["payload"]["source"], second["payload"]["applied"]) == ("webhook", False)
    events = server.events(wf)
    assert len(of_type(events, "succeed")) == 1
    assert of_type(events, "stale-result")  # the core's no-op record


def test_duplicate_callbacks_apply_once(server: Server, module_farm: Farm) -> None:
    add_provider(server, provider(module_farm, "twice", server.hook_url("twice"), poll=[60]))
    wf = server.submit(doc("twice", "twice", seconds=0.2, callbacks="duplicate"))
    assert server.finished(wf) == "succeeded"
    store = store_of(server)
    try:
        wait_for(lambda: _metric(server, "storm_webhooks_duplicate_total") >= 1, 10, "duplicate")
        assert len([e for e in store.hook_events("twice")]) == 1
    finally:
        store.close()
    assert len(of_type(server.events(wf), "external-result")) == 1


def test_both_paths_fail_the_give_up_horizon_fails_the_attempt_and_retries_apply(
    server: Server, module_farm: Farm
) -> None:
    config = provider(module_farm, "silent", None, give_up_after=1.0, poll=[5])
    add_provider(server, config)
    document = doc("silent", "silent", seconds=60, callbacks="lose")
    document["nodes"][0]["retries"] = 1
    document["nodes"][0]["retry_delay"] = 0
    wf = server.submit(document)
    assert server.finished(wf, 30) == "failed"
    events = server.events(wf)
    failed = of_type(events, "external-result")
    assert [e["payload"]["source"] for e in failed] == ["give-up", "give-up"]
    assert "gave up after 1s" in failed[-1]["payload"]["error"]
    assert len(of_type(events, "external-submitted")) == 2  # the retry submitted a new job


def _metric(server: Server, name: str) -> float:
    _types, samples = parse(server.http.get("/metrics").text)
    return value(samples, name)


def test_forged_and_replayed_signatures_are_refused_counted_and_never_stored(
    server: Server, module_farm: Farm
) -> None:
    add_provider(server, provider(module_farm, "guarded", server.hook_url("guarded"), poll=[60]))
    wf = server.submit(doc("guarded", "guarded", seconds=30, callbacks="lose"))
    store = store_of(server)
    try:
        wait = wait_for(
            lambda: next((w for w in store.waits_of(wf) if w.external_id), None), 10, "submit"
        )
        body = json.dumps({"event_id": "forged", "id": wait.external_id, "state": "succeeded"})
        raw = body.encode()
        bare = httpx.Client(base_url=server.url, timeout=10)  # webhooks need no token
        counted = _metric(server, "storm_webhooks_bad_signature_total")
        forged = bare.post(
            f"{API}/hooks/guarded", content=raw, headers={HEADER: sign("wrong-secret", raw)}
        )
        replayed = bare.post(
            f"{API}/hooks/guarded",
            content=raw,
            headers={HEADER: sign(SECRET, raw, timestamp=int(time.time()) - 600)},
        )
        unsigned = bare.post(f"{API}/hooks/guarded", content=raw)
        for answer in (forged, replayed, unsigned):
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == "bad-signature"
        assert "replay" in replayed.json()["error"]["message"]
        assert _metric(server, "storm_webhooks_bad_signature_total") == counted + 3
        assert store.hook_events("guarded") == []
        assert server.status(wf) == "running"
        assert bare.get(f"{API}/providers").status_code == 401  # nothing else without a token
        # the right signature is accepted, and its result written
        good = bare.post(f"{API}/hooks/guarded", content=raw, headers={HEADER: sign(SECRET, raw)})
        assert good.status_code == 200 and good.json()["outcome"] == "applied", good.text
        assert server.finished(wf) == "succeeded"
        bare.close()
    finally:
        store.close()


def test_cancel_of_a_waiting_node_reaches_the_provider_once_and_retry_submits_anew(
    server: Server, module_farm: Farm
) -> None:
    add_provider(server, provider(module_farm, "stoppable", None, poll=[60]))
    wf = server.submit(doc("stoppable", "stoppable", seconds=60, callbacks="lose"))
    events = lambda: server.events(wf)  # noqa: E731
    (submitted,) = wait_for(lambda: of_type(events(), "external-submitted"), 10, "the submit")
    job = submitted["payload"]["external_id"]
    detail = server.http.get(f"{API}/workflows/{wf}/nodes/render").json()
    assert (detail["status"], detail["wait"]["provider"]) == ("running", "stoppable")
    assert detail["wait"]["phase"].startswith(f"waiting (external id {job}")
    answer = server.http.post(
        f"{API}/workflows/{wf}/actions",
        json={"action": "cancel", "selection": {"names": ["render"]}},
    )
    assert answer.status_code == 200, answer.text
    (cancel,) = wait_for(lambda: of_type(events(), "external-cancel"), 10, "the cancel")
    assert cancel["payload"]["external_id"] == job and cancel["payload"]["asked"] is True
    assert module_farm.stats()["cancels"].count(job) == 1
    answer = server.http.post(
        f"{API}/workflows/{wf}/actions",
        json={"action": "retry", "selection": {"names": ["render"]}},
    )
    assert answer.status_code == 200, answer.text
    again = wait_for(
        lambda: (found := of_type(events(), "external-submitted")) and len(found) == 2 and found,
        10,
        "the second submit",
    )
    assert again[1]["payload"]["external_id"] != job
    time.sleep(1.5)  # a few sweeps later: still asked once
    assert module_farm.stats()["cancels"].count(job) == 1


def test_storm_providers_add_ls_show_rm_through_the_server(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        "providers:\n"
        "  - {name: cli-a, kind: http, base_url: 'http://127.0.0.1:9', submit: {url: /jobs},\n"
        "     status: {url: '/jobs/${id}'}, headers: {Authorization: 'Bearer ${env:A_TOKEN}'}}\n"
        "  - {name: cli-b, kind: command, submit: {command: [farmctl, submit]},\n"
        "     status: {command: [farmctl, status, '${id}']}, max_concurrent: 3}\n"
    )
    where = ["--server", server.url, "--token", server.token]

    def storm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*STORM, "providers", *args, *where], capture_output=True, text=True, timeout=60
        )

    added = storm("add", str(path))
    assert added.returncode == 0, added.stderr
    assert "provider cli-a (http) saved" in added.stdout
    listed = json.loads(storm("ls", "--json").stdout)
    assert {"cli-a", "cli-b"} <= {p["name"] for p in listed}
    shown = json.loads(storm("show", "cli-a").stdout)
    assert shown["config"]["headers"] == {"Authorization": "Bearer ${env:A_TOKEN}"}
    assert storm("rm", "cli-b").returncode == 0
    missing = storm("show", "cli-b")
    assert missing.returncode == 2 and "unknown provider" in missing.stderr


def test_a_webhook_before_the_submit_answers_is_applied_with_the_answer(
    server: Server, module_farm: Farm
) -> None:
    """The callback is sent (and stored as unknown-job) before the submit's answer brings the
    job id: recording the id applies it in the same transaction, without waiting for a poll."""
    add_provider(server, provider(module_farm, "first", server.hook_url("first"), poll=[3600]))
    before = module_farm.stats()["status_calls"]
    wf = server.submit(doc("first", "first", callbacks="first"))
    assert server.finished(wf, timeout=20) == "succeeded"  # a poll would come in an hour
    events = server.events(wf)
    (submitted,) = of_type(events, "external-submitted")
    (result,) = of_type(events, "external-result")
    assert (result["payload"]["source"], result["payload"]["applied"]) == ("webhook", True)
    assert result["payload"]["outputs"]["frames"] == 3
    assert submitted["seq"] < result["seq"]  # one transaction, the answer first
    assert of_type(events, "succeed", "after")
    store = store_of(server)
    try:
        (wait,) = store.waits_of(wf)
        assert (wait.state, wait.ended_by, wait.polls) == ("done", "webhook", 0)
        (event,) = store.hook_events("first")
        assert (event["external_id"], event["outcome"]) == (wait.external_id, "late-result")
    finally:
        store.close()
    assert module_farm.stats()["status_calls"] == before  # no poll was needed
