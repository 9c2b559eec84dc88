"""The `external` kind's rules and fixers, the builder and DCC client, `/providers` and
`storm providers`: bad input gets a clear error and stores nothing; secrets are never shown."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stormflow import client as dcc
from stormflow.spec import validate
from stormflow.spec.builder import Workflow
from stormflow.store import Store
from tests.api.helpers import API, client

CONFIG: dict[str, Any] = {
    "kind": "http",
    "base_url": "http://127.0.0.1:9",
    "headers": {"Authorization": "Bearer ${env:FARM_TOKEN}"},
    "submit": {"url": "/jobs"},
    "status": {"url": "/jobs/${id}"},
    "webhook": {"secret_env": "FARM_SECRET"},
    "max_concurrent": 3,
}


def doc(provider: str, **node: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "ext",
        "nodes": [
            {
                "name": "render",
                "kind": "external",
                "provider": provider,
                "request": {"a": 1},
                **node,
            }
        ],
        "edges": [],
    }


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with client(store, tmp_path) as c:
        yield c


def test_a_provider_is_added_shown_without_secrets_and_removed(
    api: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FARM_TOKEN", "s3cret-token-value")
    answer = api.put(f"{API}/providers/farm", json=CONFIG)
    assert answer.status_code == 200, answer.text
    listed = api.get(f"{API}/providers").json()
    assert [(p["name"], p["kind"], p["waiting"], p["webhook"]) for p in listed] == [
        ("farm", "http", 0, "/api/v1/hooks/farm")
    ]
    text = api.get(f"{API}/providers/farm").text
    assert "s3cret-token-value" not in text and "${env:FARM_TOKEN}" in text
    assert [(r.name, r.capacity) for r in store.limits()] == [("provider:farm", 3)]
    assert api.delete(f"{API}/providers/farm").status_code == 200
    assert api.get(f"{API}/providers/farm").status_code == 404
    assert store.limits() == []


def test_a_bad_provider_is_refused_with_its_field_and_nothing_is_stored(
    api: TestClient, store: Store
) -> None:
    answer = api.put(f"{API}/providers/farm", json={**CONFIG, "poll": [0]})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"].startswith("poll:")
    answer = api.put(f"{API}/providers/Farm!", json=CONFIG)
    assert answer.status_code == 422
    assert store.providers() == [] and store.limits() == []


def test_providers_need_the_token_but_hooks_do_not(api: TestClient) -> None:
    bare = {"Authorization": "Bearer wrong"}
    assert api.get(f"{API}/providers", headers=bare).status_code == 401
    assert api.put(f"{API}/providers/farm", json=CONFIG, headers=bare).status_code == 401
    # a hook for an unknown provider: past the token check, refused by its route
    answer = api.post(f"{API}/hooks/nobody", content=b"{}", headers=bare)
    assert answer.status_code == 404


def test_an_unknown_provider_is_refused_at_submit_with_a_fixer(
    api: TestClient, store: Store
) -> None:
    assert api.put(f"{API}/providers/farm", json=CONFIG).status_code == 200
    answer = api.post(f"{API}/workflows", json=doc("fram"))
    assert answer.status_code == 422
    entries = answer.json()["error"]["details"]["entries"]
    (entry,) = [e for e in entries if e["code"] == "unknown-provider"]
    assert "did you mean 'farm'" in entry["message"]
    assert [f["name"] for f in entry["fixers"]] == ["set-provider:render:farm"]
    assert store.workflows() == []
    fixed = api.post(
        f"{API}/fix", json={"document": doc("fram"), "fixer": "set-provider:render:farm"}
    )
    assert fixed.status_code == 200
    assert fixed.json()["document"]["nodes"][0]["provider"] == "farm"
    assert api.post(f"{API}/workflows", json=fixed.json()["document"]).status_code == 201


def test_outputs_must_be_json_pointers_fixer_adds_the_slash() -> None:
    entries = validate(doc("farm", outputs={"movie": "outputs/movie"}))
    (entry,) = [e for e in entries if e.code == "bad-pointer"]
    fixed = entry.fixers[0].apply(doc("farm", outputs={"movie": "outputs/movie"}))
    assert fixed["nodes"][0]["outputs"] == {"movie": "/outputs/movie"}
    assert not [e for e in validate(fixed) if e.severity == "error"]


def test_request_tokens_are_checked() -> None:
    entries = validate(doc("farm", request={"shot": "${workflow-nam}"}))
    (entry,) = [e for e in entries if e.code == "unknown-token"]
    assert "did you mean '${workflow-name}'" in entry.message


def test_a_missing_request_is_an_error() -> None:
    data = doc("farm")
    del data["nodes"][0]["request"]
    assert any(e.severity == "error" and e.field == "request" for e in validate(data))


def test_builder_and_dcc_client_write_the_same_external_node() -> None:
    built = Workflow("ext")
    built.external("render", "farm", {"scene": "a.usd"}, outputs={"movie": "/outputs/movie"})
    other = dcc.Workflow("ext")
    other.external("render", "farm", {"scene": "a.usd"}, outputs={"movie": "/outputs/movie"})
    assert built.to_dict()["nodes"] == other.to_dict()["nodes"]
    assert not [e for e in validate(built.to_dict()) if e.severity == "error"]


def test_storm_providers_add_refuses_a_bad_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "farm.yaml"
    path.write_text("name: farm\nkind: http\nsubmit: {url: /jobs}\nstatus: {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "stormflow.cli.main", "providers", "add", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "need a url" in done.stderr
