"""Workflows over HTTP: auth, errors, submit, list, read, archive, compact graph, node rows."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient

from stormflow.store import Store
from tests.api.helpers import API, DOC, TOKEN, run_node, submit


def test_health_needs_no_token_and_everything_else_does(api: TestClient) -> None:
    bare = TestClient(api.app)
    health = bare.get(f"{API}/health")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "version": "0.1.0",
        "scheduler": False,
        "scheduler_stuck": False,
        "scheduler_errors": 0,
        "scheduler_busy": 0,
        "scheduler_last_error": None,
        "scheduler_process": None,
    }
    for path in (f"{API}/workflows", f"{API}/limits", "/", "/openapi.json"):
        answer = bare.get(path)
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthorized"
    assert bare.get(f"{API}/workflows", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_token_in_query_sets_the_cookie_which_then_suffices(api: TestClient) -> None:
    browser = TestClient(api.app)
    first = browser.get("/", params={"token": TOKEN})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"storm_token={TOKEN}")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get(f"{API}/workflows").status_code == 200  # the cookie jar sends it


def test_errors_are_json_with_a_stable_shape(api: TestClient) -> None:
    malformed = api.post(
        f"{API}/workflows", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed-json"
    assert api.get("/no/such/route").json()["error"]["code"] == "not-found"
    unknown = api.get(f"{API}/workflows/zzzzzzzz")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {
            "code": "unknown-workflow",
            "message": "unknown workflow 'zzzzzzzz'",
            "where": "zzzzzzzz",
            "details": None,
        }
    }
    bad_query = api.get(f"{API}/workflows", params={"limit": 0})
    assert bad_query.status_code == 422
    assert bad_query.json()["error"]["details"][0]["loc"] == "limit"


def test_body_over_the_limit_is_413(api: TestClient) -> None:
    big = b'{"x": "' + b"a" * (64 * 2**20) + b'"}'
    answer = api.post(f"{API}/validate", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too-large"


def test_submit_valid_document(api: TestClient) -> None:
    answer = api.post(f"{API}/workflows", json=DOC, headers={"X-Storm-User": "ann"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["name"] == "shot010" and body["status"] == "running" and not body["replayed"]
    assert body["url"] == f"http://testserver/ui/workflows/{body['id']}"
    got = api.get(f"{API}/workflows/{body['id']}").json()
    assert got["owner"] == "ann" and got["metadata"] == {"shot": "sh010"}
    assert got["total"] == 8 and got["counts"]["open"] == 8 and got["counts"]["failed"] == 0
    assert set(got["counts"]) == {
        "open", "holding", "running", "succeeded", "skipped", "failed", "canceled"
    }  # fmt: skip


def test_submit_invalid_document_lists_entries(api: TestClient) -> None:
    doc = copy.deepcopy(DOC)
    doc["edges"].append(["notify", "simulate"])  # a cycle
    answer = api.post(f"{API}/workflows", json=doc)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid-document"
    entries = error["details"]["entries"]
    assert any(e["severity"] == "error" and e["fixers"] for e in entries)
    assert api.get(f"{API}/workflows").json()["items"] == []


def test_submit_is_idempotent_with_a_key(api: TestClient) -> None:
    first = api.post(f"{API}/workflows", json=DOC, headers={"Idempotency-Key": "k-1"})
    again = api.post(f"{API}/workflows", json=DOC, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() | {"replayed": True}
    assert len(api.get(f"{API}/workflows").json()["items"]) == 1
    bad_key = api.post(f"{API}/workflows", json=DOC, headers={"Idempotency-Key": "x" * 201})
    assert bad_key.status_code == 422


def test_list_filters_and_pages_newest_first(api: TestClient, store: Store) -> None:
    ids = [submit(api, DOC | {"name": f"shot{i:03}"}) for i in range(5)]
    held = api.post(
        f"{API}/workflows/{ids[1]}/actions",
        json={"action": "hold", "selection": {"status": ["open"]}},
    )
    assert held.status_code == 200
    items = api.get(f"{API}/workflows").json()["items"]
    assert [w["id"] for w in items] == ids[::-1]
    page = api.get(f"{API}/workflows", params={"limit": 2, "offset": 1}).json()
    assert [w["id"] for w in page["items"]] == ids[::-1][1:3]
    assert (page["limit"], page["offset"]) == (2, 1)
    holding = api.get(f"{API}/workflows", params={"status": "holding"}).json()["items"]
    assert [w["id"] for w in holding] == [ids[1]]
    running = api.get(f"{API}/workflows", params={"status": "running", "offset": 1, "limit": 2})
    assert [w["id"] for w in running.json()["items"]] == [ids[3], ids[2]]
    named = api.get(f"{API}/workflows", params={"name": "shot00[34]"}).json()["items"]
    assert named == []  # globs are * and ? only
    named = api.get(f"{API}/workflows", params={"name": "shot00?"}).json()["items"]
    assert len(named) == 5
    archived = api.post(f"{API}/workflows/{ids[0]}/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert ids[0] not in [w["id"] for w in api.get(f"{API}/workflows").json()["items"]]
    only = api.get(f"{API}/workflows", params={"archived": True}).json()["items"]
    assert [w["id"] for w in only] == [ids[0]]


def test_compact_graph_indexes_point_at_the_page(api: TestClient) -> None:
    wf = submit(api)
    graph = api.get(f"{API}/workflows/{wf}/graph").json()
    names = graph["nodes"]["name"]
    assert names == sorted(names) and graph["total"] == 8 == len(names)
    edges = {(names[u], names[d]) for u, d in graph["edges"]}
    assert ("simulate", "render.1-2") in edges
    assert ("render.3-4", "comp.1-4") in edges and ("render.5-6", "comp.1-4") not in edges
    assert ("comp.5-8", "notify") in edges and len(edges) == 10
    i = names.index("render.5-6")
    assert graph["nodes"]["group"][i] == "render" and graph["nodes"]["frames"][i] == "5-6"
    assert graph["nodes"]["kind"][names.index("notify")] == "email"
    page = api.get(f"{API}/workflows/{wf}/graph", params={"offset": 3, "limit": 4}).json()
    sub = page["nodes"]["name"]
    assert sub == names[3:7] and page["total"] == 8
    # edges with an end outside the page are left out; the rest index into the page
    assert {(sub[u], sub[d]) for u, d in page["edges"]} == {
        (u, d) for u, d in edges if u in sub and d in sub
    }


def test_node_rows_filtered(api: TestClient, store: Store) -> None:
    wf = submit(api)
    run_node(store, wf, "simulate")
    run_node(store, wf, "render.1-2", ok=False)
    nodes = f"{API}/workflows/{wf}/nodes"
    failed = api.get(nodes, params={"status": "failed"}).json()["items"]
    row = {"name": "render.1-2", "kind": "task", "status": "failed", "group": "render"}
    assert failed == [row | {"frames": "1-2", "phase": None, "started_at": None}]
    both = api.get(nodes, params=[("status", "failed"), ("status", "succeeded")]).json()
    assert [n["name"] for n in both["items"]] == ["render.1-2", "simulate"]
    assert [n["name"] for n in api.get(nodes, params={"kind": "email"}).json()["items"]] == [
        "notify"
    ]
    paged = api.get(nodes, params={"glob": "render.*", "limit": 2, "offset": 1}).json()
    assert [n["name"] for n in paged["items"]] == ["render.3-4", "render.5-6"]
    assert api.get(nodes, params={"status": "nope"}).status_code == 422
    assert api.get(f"{API}/workflows/zzzzzzzz/nodes").status_code == 404


def test_numbers_beyond_the_database_are_invalid_input(api: TestClient) -> None:
    """Regression: SQLite cannot bind integers past 64 bits; they were 500s."""
    wf = submit(api)
    huge = str(10**20)
    for path, params in (
        ("/workflows", {"offset": huge}),
        (f"/workflows/{wf}/graph", {"offset": huge}),
        (f"/workflows/{wf}/nodes", {"offset": huge}),
        (f"/workflows/{wf}/events", {"after": huge}),
    ):
        assert api.get(API + path, params=params).status_code == 422, path
    replay = {"action": "replay", "selection": {"glob": "*"}, "snapshot": 10**20}
    assert api.post(f"{API}/workflows/{wf}/actions", json=replay).status_code == 422
    stream = api.get(f"{API}/workflows/{wf}/events/stream", headers={"Last-Event-ID": huge})
    assert stream.status_code == 422


def test_the_owner_is_the_documents_metadata_owner_else_the_submitter(api: TestClient) -> None:
    named = submit(api, DOC | {"metadata": {"owner": "ann"}})
    plain = submit(api, DOC)
    owners = {w["id"]: w["owner"] for w in api.get(f"{API}/workflows").json()["items"]}
    assert owners[named] == "ann"
    assert owners[plain] not in (None, "ann")
