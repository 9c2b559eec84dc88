"""The outbound `webhook` kind: POSTs against a real local receiver that verifies signatures,
retries within the timeout, Slack's format, its validation rules and fixers, and a workflow
with a webhook node run end to end by `storm run`."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stormflow.kinds import ActionContext, get_kind
from stormflow.kinds.webhook import WebhookError, send_notice, webhook_payload
from stormflow.spec import validate
from stormflow.spec.builder import Workflow
from tests.demo.farm_helpers import receiver
from tests.engine.test_cli_run import clean_env, storm, workflow_id, write

SECRET = "notice-secret"
TOKENS = {
    "workflow-id": "wf1",
    "workflow-name": "render_pipeline",
    "node-name": "notify",
    "status": "succeeded",
}


def ctx() -> ActionContext:
    return ActionContext(workflow_id="wf1", node="notify", token="wf1/t1")


def payload(**config: Any) -> dict[str, Any]:
    kind = get_kind("webhook")
    assert kind is not None
    merged = {**kind.defaults(), **config}
    return dict(webhook_payload(merged, TOKENS))


def test_signed_notice_reaches_the_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTICE_SECRET", SECRET)
    with receiver(SECRET) as hook:
        data = payload(url=hook.url + "/${workflow-id}", secret_env="NOTICE_SECRET")
        data["summary"] = {
            "status": "succeeded",
            "counts": {"succeeded": 4},
            "nodes": {"encode": "succeeded"},
            "outputs": {"encode": "/data/work/wf1/movie.mp4"},
        }
        line = send_notice(data, ctx())
        (call,) = hook.received
    assert "answered 200 (try 1)" in line and "/hook" not in line  # the path stays out of logs
    assert call["verified"] and call["path"] == "/hook/wf1"
    body = call["body"]
    assert body["workflow"] == {"id": "wf1", "name": "render_pipeline", "status": "succeeded"}
    assert body["text"] == "render_pipeline succeeded"
    assert body["outputs"] == {"encode": "/data/work/wf1/movie.mp4"}
    assert body["nodes"] == {"encode": "succeeded"} and len(body["event_id"]) == 32


def test_slack_format_sends_text_only() -> None:
    with receiver("unused", signed=False) as hook:
        send_notice(payload(url=hook.url, format="slack", tries=1), ctx())
        (call,) = hook.received
    assert call["body"] == {"text": "render_pipeline succeeded"}
    assert "X-Storm-Signature" not in call["headers"]  # unsigned: no secret_env


def test_retries_5xx_then_gives_up_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTICE_SECRET", SECRET)
    with receiver(SECRET, status=503) as hook:
        began = time.monotonic()
        with pytest.raises(WebhookError, match="503"):
            send_notice(payload(url=hook.url, secret_env="NOTICE_SECRET", tries=3), ctx())
        assert len(hook.received) == 3 and all(c["verified"] for c in hook.received)
        assert time.monotonic() - began < 5  # 0.5 s + 1 s of pauses
        hook.received.clear()
        with pytest.raises(WebhookError, match="gave up after"):
            send_notice(payload(url=hook.url, secret_env="NOTICE_SECRET", timeout=0.7), ctx())
        assert len(hook.received) == 2  # the third try would start after the timeout
    # A refusal (4xx) is final at once: here the receiver rejects a wrong secret.
    with receiver("another-secret") as hook:
        with pytest.raises(WebhookError, match="401"):
            send_notice(payload(url=hook.url, secret_env="NOTICE_SECRET"), ctx())
        assert len(hook.received) == 1


def test_unset_secret_and_unreachable_url_fail_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTICE_SECRET", raising=False)
    with pytest.raises(WebhookError, match=r"NOTICE_SECRET .* is not set"):
        send_notice(payload(url="http://127.0.0.1:9/x", secret_env="NOTICE_SECRET"), ctx())
    with pytest.raises(WebhookError, match=r"127\.0\.0\.1:9/….*2 tries") as caught:
        send_notice(payload(url="http://user:pw@127.0.0.1:9/secret-path", tries=2), ctx())
    assert "pw" not in str(caught.value) and "secret-path" not in str(caught.value)


def _doc(**webhook: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "n",
        "nodes": [
            {"name": "a", "kind": "task", "commands": ["true"]},
            {"name": "hook", "kind": "webhook", **webhook},
        ],
        "edges": [["a", "hook"]],
    }


def _entries(doc: dict[str, Any]) -> dict[str, Any]:
    return {e.code: e for e in validate(doc)}


def test_validation_rules_and_fixers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORM_UNSET_SECRET", raising=False)
    assert not [e for e in validate(_doc(url="https://hooks.example.com/x"))]
    bare = _entries(_doc(url="hooks.example.com/services/x"))["bad-url"]
    fixed = bare.fixers[0].apply(_doc(url="hooks.example.com/services/x"))
    assert fixed["nodes"][1]["url"] == "https://hooks.example.com/services/x"
    assert "bad-url" in _entries(_doc(url="ftp://example.com/x"))
    assert not _entries(_doc(url="ftp://example.com/x"))["bad-url"].fixers
    doc = _doc(url="https://h.example.com/x", secret="hunter2")
    leak = _entries(doc)["secret-in-document"]
    moved = leak.fixers[0].apply(doc)["nodes"][1]
    assert "secret" not in moved and moved["secret_env"] == "STORM_WEBHOOK_SECRET"
    assert "bad-secret-env" in _entries(_doc(url="https://h.example.com/x", secret_env="a b!c"))
    # `storm validate` offers secret -> secret_env (a near name): the value is then refused.
    renamed = _doc(url="https://h.example.com/x", secret_env="hunter2")
    assert (
        _entries(renamed)["bad-secret-env"].fixers[0].apply(renamed)["nodes"][1]["secret_env"]
        == "STORM_WEBHOOK_SECRET"
    )
    unset = _entries(_doc(url="https://h.example.com/x", secret_env="STORM_UNSET_SECRET"))
    assert str(unset["secret-env-unset"].severity) == "warning"
    typo = _doc(url="https://h.example.com/x", text="${workflow_name} done")
    token = _entries(typo)["unknown-token"]
    assert token.fixers[0].apply(typo)["nodes"][1]["text"] == "${workflow-name} done"
    in_url = _entries(_doc(url="https://h.example.com/${workflow_id}"))["unknown-token"]
    assert in_url.field == "url" and in_url.fixers[0].name == "fix-token:hook:workflow_id"
    assert "bad-param-type" in _entries(_doc(url="https://h.example.com/x", format="teams"))
    assert "missing-param" in _entries(_doc())


def test_builder_makes_a_valid_webhook_node() -> None:
    wf = Workflow("b")
    a = wf.task("a", ["true"])
    hook = wf.webhook("hook", "https://h.example.com/x", format="slack", text="${workflow-name}")
    wf.edge(a, hook)
    node = wf.to_dict()["nodes"][1]
    assert node == {
        "name": "hook",
        "kind": "webhook",
        "url": "https://h.example.com/x",
        "format": "slack",
        "text": "${workflow-name}",
    }
    assert wf.validate() == []


def test_storm_run_posts_the_workflow_notice(tmp_path: Path) -> None:
    doc = write(
        tmp_path / "notice.yaml",
        """\
        schema: 1
        name: notice_demo
        nodes:
          - name: make
            kind: task
            commands: [[python, -c, "open('out.txt', 'w').write('x')"]]
            output: out.txt
          - name: frames
            kind: task
            frames: "1-4"
            chunk_size: 2
            commands: ["true"]
          - name: announce
            kind: webhook
            url: URL
            secret_env: NOTICE_SECRET
        edges:
          - [make, announce]
          - [frames, announce]
        """,
    )
    with receiver(SECRET) as hook:
        doc.write_text(doc.read_text().replace("URL", hook.url))
        done = storm(
            "run",
            str(doc),
            "--data-dir",
            str(tmp_path / "data"),
            "--quiet",
            env=clean_env(NOTICE_SECRET=SECRET),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (call,) = hook.received
    body = call["body"]
    assert call["verified"]
    assert "announce: webhook to http://127.0.0.1:" in done.stdout  # the run's summary says so
    assert body["workflow"] == {
        "id": workflow_id(done.stdout),
        "name": "notice_demo",
        "status": "succeeded",
    }
    assert body["text"] == "notice_demo succeeded" and body["node"] == "announce"
    assert body["nodes"]["make"] == "succeeded"
    assert body["chunks"] == {"frames": {"succeeded": 2}}
    assert body["outputs"]["make"].endswith("out.txt") and Path(body["outputs"]["make"]).exists()


def test_storm_run_fails_the_node_when_the_receiver_refuses(tmp_path: Path) -> None:
    doc = write(
        tmp_path / "refused.yaml",
        """\
        schema: 1
        name: refused
        nodes:
          - name: announce
            kind: webhook
            url: URL
            secret_env: NOTICE_SECRET
        edges: []
        """,
    )
    with receiver("the-receivers-own-secret") as hook:
        doc.write_text(doc.read_text().replace("URL", hook.url))
        done = storm(
            "run",
            str(doc),
            "--data-dir",
            str(tmp_path / "data"),
            "--quiet",
            env=clean_env(NOTICE_SECRET=SECRET),
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "announce" in done.stdout and "401" in done.stdout


def test_storm_run_many_webhooks_at_once(tmp_path: Path) -> None:
    """Twelve notices ready together, more than the run's slots: each reads the workflow's
    summary from the store while the others do, and each arrives once, signed."""
    nodes = "\n".join(
        f"""\
          - name: hook{i}
            kind: webhook
            url: URL
            secret_env: NOTICE_SECRET
            text: "${{node-name}} of ${{workflow-name}}\""""
        for i in range(12)
    )
    doc = tmp_path / "fan.yaml"
    with receiver(SECRET) as hook:
        doc.write_text(
            "schema: 1\nname: fan\nnodes:\n"
            + textwrap.indent(textwrap.dedent(nodes), "  ").replace("URL", hook.url)
            + "\nedges: []\n"
        )
        done = storm(
            "run",
            str(doc),
            "--data-dir",
            str(tmp_path / "data"),
            "--slots",
            "4",
            "--quiet",
            env=clean_env(NOTICE_SECRET=SECRET),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        calls = hook.received
    assert len(calls) == 12 and all(c["verified"] for c in calls)
    assert sorted(c["body"]["text"] for c in calls) == sorted(f"hook{i} of fan" for i in range(12))
    assert len({c["body"]["event_id"] for c in calls}) == 12
    assert all(sum(c["body"]["counts"].values()) == 12 for c in calls)
