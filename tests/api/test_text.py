"""Text a database can hold: NUL and lone surrogates are refused at the door, nothing stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stormflow.spec import validate
from stormflow.store import Store
from stormflow.store.schema import drafts, events, workflows
from tests.api.helpers import API, DOC, submit

JSON = {"content-type": "application/json"}


def post(api: TestClient, path: str, body: Any, method: str = "POST") -> Any:
    # json.dumps writes "\ud800" and "\u0000" as the escapes a client would send
    return api.request(method, API + path, content=json.dumps(body), headers=JSON)


def rows(store: Store) -> tuple[int, int, int]:
    with store.read() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (workflows, drafts, events)
        )


def doc_with(**changes: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(DOC))
    for key, value in changes.items():
        if key == "env":
            doc["nodes"][0]["env"] = value
        else:
            doc[key] = value
    return doc


BAD_DOCUMENTS = [
    (doc_with(metadata={"k": "\ud800"}), "metadata.k", "a lone surrogate (\\ud800)"),
    (doc_with(metadata={"k": "a\x00b"}), "metadata.k", "a NUL character (\\u0000)"),
    (doc_with(env={"A": "\udfff"}), "nodes[0].env.A", "a lone surrogate (\\udfff)"),
    (doc_with(metadata={"\x00": 1}), "metadata.\\u0000", "a key with a NUL character"),
    (doc_with(name="shot\x00"), "name", "a NUL character"),
]


@pytest.mark.parametrize(("doc", "where", "what"), BAD_DOCUMENTS)
def test_documents_with_unstorable_text_are_refused_naming_the_field(
    api: TestClient, store: Store, doc: dict[str, Any], where: str, what: str
) -> None:
    before = rows(store)
    for path in ("/workflows", "/drafts", "/validate"):
        answer = post(api, path, doc)
        assert answer.status_code == 422, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "unstorable-text" and error["where"] == where
        assert what in error["message"] and error["message"].startswith(where)
    answer = post(api, "/fix", {"document": doc, "fixer": "x"})
    assert answer.status_code == 422 and answer.json()["error"]["where"] == f"document.{where}"
    assert rows(store) == before
    assert api.get(f"{API}/workflows").status_code == 200  # and every read still works


def test_patches_and_draft_edits_are_refused_and_nothing_changes(
    api: TestClient, store: Store
) -> None:
    wf = submit(api)
    draft = post(api, "/drafts", DOC).json()["id"]
    before = rows(store)
    node_before = api.get(f"{API}/workflows/{wf}/nodes/simulate").json()
    action = {"action": "update", "selection": {"names": ["simulate"]}, "patch": {"env": {}}}
    action["patch"]["env"] = {"A": "x\x00"}
    answer = post(api, f"/workflows/{wf}/actions", action)
    assert answer.status_code == 422
    assert answer.json()["error"]["where"] == "patch.env.A"
    answer = post(api, f"/drafts/{draft}", doc_with(metadata={"k": "\ud800"}), method="PUT")
    assert answer.status_code == 422 and answer.json()["error"]["where"] == "metadata.k"
    assert rows(store) == before
    assert api.get(f"{API}/workflows/{wf}/nodes/simulate").json() == node_before
    assert api.get(f"{API}/drafts/{draft}").json()["document"] == DOC


def test_yaml_escapes_in_an_imported_draft_are_refused(api: TestClient, store: Store) -> None:
    before = rows(store)
    text = 'name: shot\nmetadata: {k: "a\\0b"}\nnodes: [{name: a, commands: [["true"]]}]\n'
    answer = api.post(
        f"{API}/drafts/import", content=text, headers={"content-type": "application/yaml"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] | {"message": ""} == {
        "code": "unstorable-text",
        "message": "",
        "where": "metadata.k",
        "details": None,
    }
    assert rows(store) == before


def test_valid_surrogate_pairs_are_ordinary_text(api: TestClient) -> None:
    wf = post(api, "/workflows", doc_with(metadata={"k": "\U0001f3ac clap"})).json()["id"]
    assert api.get(f"{API}/workflows/{wf}").json()["metadata"] == {"k": "\U0001f3ac clap"}


def test_the_validation_rule_names_the_field_for_local_commands() -> None:
    (entry,) = [e for e in validate(doc_with(metadata={"k": "\ud800"})) if e.severity == "error"]
    assert (entry.code, entry.field) == ("unstorable-text", "metadata.k")


def test_unreadable_bodies_are_said_in_our_words(api: TestClient, store: Store) -> None:
    before = rows(store)
    deep = api.post(f"{API}/workflows", content=b"[" * 100_000 + b"]" * 100_000, headers=JSON)
    assert deep.status_code == 400
    assert deep.json()["error"] == {
        "code": "malformed-json",
        "message": "the request body nests lists and objects too deeply to be read",
        "where": None,
        "details": None,
    }
    latin = api.post(f"{API}/workflows", content=b'{"name": "caf\xe9"}', headers=JSON)
    assert latin.status_code == 400
    message = latin.json()["error"]["message"]
    assert message == "the request body is not UTF-8 text (byte 0xe9 at offset 13)"
    assert rows(store) == before


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("application/x-www-form-urlencoded", "(it was 'application/x-www-form-urlencoded')"),
        ("text/plain", "(it was 'text/plain')"),
        ("", "(it was empty)"),
    ],
)
def test_a_body_not_sent_as_json_names_the_header(
    api: TestClient, store: Store, content_type: str, said: str
) -> None:
    before = rows(store)
    for path in ("/workflows", "/validate", "/drafts"):
        answer = api.post(
            API + path, content=json.dumps(DOC), headers={"content-type": content_type}
        )
        assert answer.status_code == 415, answer.text
        error = answer.json()["error"]
        assert error["code"] == "unsupported-media-type" and error["where"] == "Content-Type"
        assert error["message"] == (
            f"send the body as JSON with the header Content-Type: application/json {said}"
        )
    assert rows(store) == before
