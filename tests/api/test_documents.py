"""Validation, fixers, drafts (create, read, update, submit, delete) and limits."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import API, DOC, TOKEN


def broken() -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    doc["edges"].append(["notify", "simulate"])  # a cycle
    doc["nodes"][3]["subjekt"] = "typo"  # an unknown parameter
    return doc


def test_validate_counts_entries(api: TestClient) -> None:
    clean = api.post(f"{API}/validate", json=DOC).json()
    assert clean == {"entries": [], "errors": 0, "warnings": 0}
    answer = api.post(f"{API}/validate", json=broken()).json()
    assert answer["errors"] == 2
    codes = {e["code"]: e for e in answer["entries"]}
    assert codes["cycle"]["fixers"] == [
        {"name": "drop-edge:notify:simulate", "description": "remove the edge notify -> simulate"}
    ]
    fields = {"severity", "code", "message", "nodes", "field", "line", "fixers"}
    assert set(codes["cycle"]) == fields
    assert api.post(f"{API}/validate", json=[1, 2]).status_code == 422


def test_fix_applies_a_named_fixer(api: TestClient) -> None:
    doc = broken()
    fixed = api.post(f"{API}/fix", json={"document": doc, "fixer": "drop-edge:notify:simulate"})
    assert fixed.status_code == 200
    body = fixed.json()
    assert ["notify", "simulate"] not in body["document"]["edges"]
    assert [e["code"] for e in body["entries"]] == ["unknown-param"]
    unknown = api.post(f"{API}/fix", json={"document": doc, "fixer": "make-it-work"})
    assert unknown.status_code == 422
    error = unknown.json()["error"]
    assert error["code"] == "unknown-fixer" and "drop-edge:notify:simulate" in error["message"]


def test_drafts_crud_and_submit(api: TestClient) -> None:
    created = api.post(f"{API}/drafts", json=broken())
    assert created.status_code == 201
    draft = created.json()
    assert draft["url"] == f"http://testserver/ui/composer/{draft['id']}?token={TOKEN}"
    assert len([e for e in draft["entries"] if e["severity"] == "error"]) == 2
    path = f"{API}/drafts/{draft['id']}"
    got = api.get(path).json()
    assert got["document"] == broken() and got["workflow_id"] is None
    assert got["created_at"] == got["updated_at"]
    refused = api.post(f"{path}/submit")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid-document"
    assert len(refused.json()["error"]["details"]["entries"]) == 2
    put = api.put(path, json=DOC)
    assert put.status_code == 200
    assert put.json()["entries"] == [] and put.json()["updated_at"] >= got["updated_at"]
    submitted = api.post(f"{path}/submit", headers={"X-Storm-User": "bo"})
    assert submitted.status_code == 201
    workflow = submitted.json()
    assert workflow["name"] == "shot010" and workflow["status"] == "running"
    assert api.get(path).json()["workflow_id"] == workflow["id"]
    assert api.get(f"{API}/workflows/{workflow['id']}").json()["owner"] == "bo"
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404
    assert api.put(path, json=DOC).status_code == 404
    assert api.post(f"{path}/submit").status_code == 404


def test_limits(api: TestClient) -> None:
    assert api.get(f"{API}/limits").json() == []
    put = api.put(f"{API}/limits/nuke-license", json={"capacity": 4})
    assert put.status_code == 200
    assert put.json() == {"name": "nuke-license", "capacity": 4, "used": 0}
    api.put(f"{API}/limits/arnold", json={"capacity": 0})
    assert [limit["name"] for limit in api.get(f"{API}/limits").json()] == [
        "arnold",
        "nuke-license",
    ]
    assert api.put(f"{API}/limits/x", json={"capacity": -1}).status_code == 422
    assert api.put(f"{API}/limits/x", json={"capacity": 1, "extra": 1}).status_code == 422


def test_text_the_database_cannot_store_is_invalid_input(api: TestClient) -> None:
    """PostgreSQL refuses NUL characters (in JSONB too): that is the input's fault, not a 500."""
    doc = copy.deepcopy(DOC)
    doc["metadata"] = {"note": "a\u0000b"}
    created = api.post(f"{API}/drafts", json=doc)
    assert created.status_code in (201, 422)
    submitted = api.post(f"{API}/workflows", json=doc)
    assert submitted.status_code in (201, 422)
    assert api.get(f"{API}/workflows/a%00b").status_code in (404, 422)
    assert api.put(f"{API}/limits/a%00b", json={"capacity": 1}).status_code in (200, 422)


def test_a_yaml_document_imports_as_a_draft(api: TestClient) -> None:
    text = (
        "name: dropped\n"
        "defaults: &d {retries: 2}\n"
        "nodes:\n"
        "  - {name: a, <<: *d, commands: [[echo, hi]]}\n"
    )
    answer = api.post(
        f"{API}/drafts/import", content=text, headers={"Content-Type": "application/yaml"}
    )
    assert answer.status_code == 201, answer.text
    draft = api.get(f"{API}/drafts/{answer.json()['id']}").json()
    assert draft["document"]["nodes"][0] == {
        "name": "a",
        "retries": 2,
        "commands": [["echo", "hi"]],
    }
    # JSON is YAML too
    assert api.post(f"{API}/drafts/import", content='{"name": "j", "nodes": []}').status_code == 201


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: [unclosed\n", "at line 2"),
        ("- just\n- a list\n", "mapping at the top level"),
        ("", "mapping at the top level"),
        ("a: &a [*a]\n", "refers to a node that contains it"),
        (
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
                for i in range(9)
            ),
            "more than 1,000,000 values",
        ),
    ],
    ids=["syntax", "list", "empty", "recursive", "billion-laughs"],
)
def test_a_bad_dropped_document_is_refused_with_where(
    api: TestClient, text: str, says: str
) -> None:
    answer = api.post(f"{API}/drafts/import", content=text)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid-document"
    assert says in answer.json()["error"]["message"]
    bad = api.post(f"{API}/drafts/import", content=b"\xff\xfe name: x")
    assert bad.status_code == 422 and "UTF-8" in bad.json()["error"]["message"]
