"""The `webhook` kind: a signed JSON notice POSTed to a URL when the node's upstream is ready.

The body says which workflow, its status as of this node finishing, nodes per status, each
top-level node's status and the outputs succeeded nodes declare (the scheduler attaches that
`summary` to the payload, see engine/notice.py). `format: slack` sends `{"text": ...}`
instead, which Slack's and Mattermost's incoming webhooks accept as is.

When `secret_env` names an environment variable, the body is signed with its value exactly
as providers sign callbacks to Storm (`stormflow.signing`, header X-Storm-Signature): the
document names the variable, never holds the secret. The variable is read by the executor
running the attempt, when it runs.

One attempt tries up to `tries` times (connection errors, 408, 429 and 5xx; other answers are
final), pausing 0.5 s, 1 s, 2 s... between tries, and gives up when `timeout` seconds have
passed since it began; the node's `retries` then apply as for any failed attempt.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from stormflow.kinds.base import (
    LOST_RETRIES,
    RETRIES,
    RETRY_DELAY,
    ActionContext,
    ActionError,
    Kind,
    Param,
    params,
)
from stormflow.kinds.registry import register_kind
from stormflow.signing import HEADER, sign
from stormflow.spec import fixers as fx
from stormflow.spec.entries import Entry, Fixer, error, warning
from stormflow.spec.tokens import TEXT_TOKENS, render_text, text_tokens_in
from stormflow.spec.validate import RuleContext, suggest

FORMATS = ("json", "slack")
DEFAULT_TEXT = "${workflow-name} ${status}"
DEFAULT_TIMEOUT = 30.0
DEFAULT_TRIES = 4
#: The variable a fixer names when it takes a secret out of a document.
SECRET_ENV = "STORM_WEBHOOK_SECRET"
#: Keys people write when they mean secret_env (and put the secret itself there).
SECRET_KEYS = ("secret", "signing_secret", "hmac_secret", "token")
_RETRYABLE = frozenset({408, 425, 429})
#: Capitals only: a lower-case value is far more likely a secret pasted in than a variable name
#: (and `storm validate` suggests renaming `secret:` to `secret_env:`, value and all).
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_FIRST_PAUSE = 0.5


class WebhookError(ActionError):
    """A notice was not delivered; the message is one line fit for a JobResult error."""


# -- the payload and the action ------------------------------------------------------------------


def webhook_payload(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
    """What the attempt needs, tokens filled; the scheduler adds the workflow's `summary`."""
    return {
        "url": render_text(str(config.get("url", "")), tokens),
        "format": str(config.get("format", "json")),
        "text": render_text(str(config.get("text", DEFAULT_TEXT)), tokens),
        "secret_env": config.get("secret_env"),
        "timeout": float(config.get("timeout", DEFAULT_TIMEOUT)),
        "tries": int(config.get("tries", DEFAULT_TRIES)),
        "workflow": {"id": tokens.get("workflow-id"), "name": tokens.get("workflow-name")},
        "node": tokens.get("node-name"),
        "status": tokens.get("status"),
    }


def notice_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document POSTed: Slack's `{"text"}`, or Storm's full notice."""
    text = str(payload.get("text", ""))
    if payload.get("format") == "slack":
        return {"text": text}
    summary = dict(payload.get("summary") or {})
    workflow = dict(payload.get("workflow") or {})
    workflow["status"] = summary.get("status", payload.get("status"))
    return {
        "event_id": uuid.uuid4().hex,
        "type": "workflow.notice",
        "sent": time.time(),
        "workflow": workflow,
        "node": payload.get("node"),
        "text": text,
        "counts": summary.get("counts", {}),
        "nodes": summary.get("nodes", {}),
        "chunks": summary.get("chunks", {}),
        "outputs": summary.get("outputs", {}),
        "truncated": bool(summary.get("truncated", False)),
    }


def where(url: str) -> str:
    """The URL for logs: scheme, host and port only, since paths like Slack's (and a
    `user:password@` before the host) carry secrets."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unreadable URL"
    return f"{parts.scheme}://{parts.hostname or ''}{port}/…"


def send_notice(payload: Mapping[str, Any], ctx: ActionContext) -> str:
    """POST the notice, retrying within the timeout; one line saying who answered what."""
    url = str(payload.get("url", ""))
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise WebhookError(f"webhook not sent: {where(url)} is not an http(s) URL")
    body = json.dumps(notice_body(payload)).encode()
    secret_env = payload.get("secret_env")
    secret = None
    if secret_env:
        secret = os.environ.get(str(secret_env))
        if not secret:
            raise WebhookError(
                f"webhook not sent: environment variable {secret_env} (secret_env) "
                "is not set where this node ran"
            )
    timeout = max(0.1, float(payload.get("timeout") or DEFAULT_TIMEOUT))
    tries = max(1, int(payload.get("tries") or DEFAULT_TRIES))
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE
    last = "no answer"
    made = 0
    for attempt in range(1, tries + 1):
        made = attempt
        headers = {"Content-Type": "application/json", "User-Agent": "storm-webhook/1"}
        if secret:
            headers[HEADER] = sign(secret, body)  # per try: a late retry is not a replay
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        left = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=max(0.1, left)) as answer:
                answer.read(64 * 1024)
                return f"webhook to {where(url)} answered {answer.status} (try {attempt})"
        except urllib.error.HTTPError as exc:
            last = f"answered {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code not in _RETRYABLE:
                raise WebhookError(f"webhook to {where(url)} {last}") from None
        except (OSError, ValueError) as exc:
            last = f"failed: {getattr(exc, 'reason', None) or exc}"
        if attempt == tries or ctx.stopped():
            break
        if time.monotonic() + pause >= deadline:
            raise WebhookError(
                f"webhook to {where(url)} {last}; gave up after {attempt} tries "
                f"(timeout {timeout:g} s)"
            )
        time.sleep(pause)
        pause *= 2
    stopped = "; stopped" if ctx.stopped() else ""
    raise WebhookError(f"webhook to {where(url)} {last} ({made} tries{stopped})")


# -- validation ----------------------------------------------------------------------------------


def _webhooks(ctx: RuleContext) -> Iterator[Any]:
    for node in ctx.nodes:
        if node.kind is not None and node.kind.name == "webhook":
            yield node


def webhook_url(ctx: RuleContext) -> Iterator[Entry]:
    """An http(s) URL with a host; a bare host/path gets an `https://` fixer."""
    for node in _webhooks(ctx):
        url = node.params.get("url")
        if not isinstance(url, str):
            continue
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme in ("http", "https") and parts.hostname:
            if url != url.strip():
                yield error(
                    "bad-url",
                    f"webhook {node.label!r}: url has spaces around it",
                    nodes=node.names,
                    field="url",
                    fixers=(
                        fx.set_key(
                            node.index, node.name, "url", url.strip(), f"strip-url:{node.label}"
                        ),
                    ),
                )
            continue
        fixers: tuple[Fixer, ...] = ()
        bare = urllib.parse.urlsplit("https://" + url.strip())
        if not parts.scheme and not url.startswith("/") and bare.hostname and "." in bare.hostname:
            fixed = "https://" + url.strip()
            fixers = (fx.set_key(node.index, node.name, "url", fixed, f"add-https:{node.label}"),)
        yield error(
            "bad-url",
            f"webhook {node.label!r}: url {url!r} is not an http(s) URL",
            nodes=node.names,
            field="url",
            fixers=fixers,
        )


def webhook_secret(ctx: RuleContext) -> Iterator[Entry]:
    """The document names the secret's variable; it never holds the secret."""
    for node in _webhooks(ctx):
        for key in SECRET_KEYS:
            if key not in node.params:
                continue

            def move(raw: dict[str, Any], key: str = key) -> None:
                raw.pop(key, None)
                raw.setdefault("secret_env", SECRET_ENV)

            yield error(
                "secret-in-document",
                f"webhook {node.label!r}: {key} would keep a secret in the workflow document; "
                f"put it in an environment variable and name that in secret_env",
                nodes=node.names,
                field=key,
                fixers=(
                    fx.edit_node(
                        node.index,
                        node.label,
                        f"move-secret:{node.label}",
                        f"remove {key} from {node.label} and read the secret from "
                        f"${SECRET_ENV} (secret_env)",
                        move,
                    ),
                ),
            )
        name = node.params.get("secret_env")
        if not isinstance(name, str):
            continue
        if not _ENV_NAME.match(name):
            yield error(
                "bad-secret-env",
                f"webhook {node.label!r}: secret_env must name an environment variable in "
                f"capitals (like {SECRET_ENV}), not hold the secret",
                nodes=node.names,
                field="secret_env",
                fixers=(
                    fx.set_key(
                        node.index, node.name, "secret_env", SECRET_ENV, f"name-secret:{node.label}"
                    ),
                ),
            )
        elif not os.environ.get(name):
            yield warning(
                "secret-env-unset",
                f"webhook {node.label!r}: environment variable {name} is not set here; "
                "the executor running the node must have it, or the notice fails unsent",
                nodes=node.names,
                field="secret_env",
            )


def webhook_text(ctx: RuleContext) -> Iterator[Entry]:
    """`text` and `url` may only use the tokens Storm fills in (a typo would reach the chat
    as is)."""
    for node in _webhooks(ctx):
        for key in ("text", "url"):
            yield from _tokens(node, key)


def _tokens(node: Any, key: str) -> Iterator[Entry]:
    text = node.params.get(key)
    if not isinstance(text, str):
        return
    for token in sorted(text_tokens_in(text) - set(TEXT_TOKENS)):
        guess = suggest(token, TEXT_TOKENS)
        fixers: tuple[Fixer, ...] = ()
        if guess:
            fixed = text.replace("${" + token + "}", "${" + guess + "}")
            fixers = (
                fx.set_key(node.index, node.name, key, fixed, f"fix-token:{node.label}:{token}"),
            )
        hint = f"; did you mean {'${' + guess + '}'!r}?" if guess else ""
        yield warning(
            "unknown-token",
            f"node {node.label!r}: {key} uses unknown token ${{{token}}}{hint}",
            nodes=node.names,
            field=key,
            fixers=fixers,
        )


WEBHOOK = register_kind(
    Kind(
        name="webhook",
        description="POSTs a signed JSON notice (or a Slack message) when its upstream is ready",
        runs="action",
        reports=True,
        rules=(webhook_url, webhook_secret, webhook_text),
        payload=webhook_payload,
        action=send_notice,
        params=params(
            Param("url", str, "an http(s) URL", "where the notice is POSTed", required=True),
            Param(
                "format",
                Literal["json", "slack"],
                "json or slack",
                "json: Storm's notice (workflow, node statuses, outputs); slack: {text}",
                default="json",
            ),
            Param(
                "text",
                str,
                "a string",
                "one line; ${workflow-name} ${workflow-id} ${node-name} ${status} are filled",
                default=DEFAULT_TEXT,
            ),
            Param(
                "secret_env",
                str,
                "an environment variable name in capitals",
                "variable holding the HMAC secret to sign with (unsigned when absent)",
            ),
            Param(
                "timeout",
                Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)],
                "a number of seconds > 0 (at most 3600)",
                "seconds one attempt may spend, retries included (default 30)",
            ),
            Param(
                "tries",
                Annotated[int, Field(ge=1, le=20)],
                "a whole number from 1 to 20",
                "POSTs within one attempt before it fails (default 4)",
            ),
            RETRIES,
            RETRY_DELAY,
            LOST_RETRIES,
        ),
    )
)
