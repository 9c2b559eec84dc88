"""The `external` kind: a step handed to another system (a provider), waited for without a slot.

The node names a `provider` (configured once per store: `storm providers add`) and the
`request` it sends (a JSON mapping; `${workflow-name}`-style tokens are filled in its strings).
`outputs` optionally picks named values out of the provider's final answer (JSON pointers).

An attempt runs as "wait": the scheduler records what it waits for, submits the job off its
loop (with an `Idempotency-Key` derived from the attempt token), and releases the slot; a
signed webhook or the polling watchdog brings the result back (engine/waits.py).

Which providers exist is a fact of the store, not of the document: whoever validates with a
store at hand (the API, `storm run`) says so with `known_providers(...)`, and the rule then
refuses unknown names with a "did you mean" fixer. Without it (`storm validate` of a file
alone) the provider's name is only checked for its shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from stormflow.kinds.base import LOST_RETRIES, RETRIES, RETRY_DELAY, Kind, Param, params
from stormflow.kinds.registry import register_kind
from stormflow.spec import fixers as fx
from stormflow.spec.entries import Entry, error, warning
from stormflow.spec.tokens import TEXT_TOKENS, render_text, text_tokens_in
from stormflow.spec.validate import RawNode, RuleContext, suggest

KIND = "external"

PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

#: Provider names the current validation may accept; None: not known here (no store).
_KNOWN: ContextVar[frozenset[str] | None] = ContextVar("storm_known_providers", default=None)


@contextmanager
def known_providers(names: Iterable[str]) -> Iterator[None]:
    """Validate inside with these providers known: unknown names become errors."""
    reset = _KNOWN.set(frozenset(names))
    try:
        yield
    finally:
        _KNOWN.reset(reset)


def render_request(value: object, tokens: Mapping[str, str]) -> object:
    """The request with tokens filled in every string (keys and numbers stay as written)."""
    if isinstance(value, str):
        return render_text(value, tokens)
    if isinstance(value, list):
        return [render_request(v, tokens) for v in value]
    if isinstance(value, dict):
        return {k: render_request(v, tokens) for k, v in value.items()}
    return value


def external_payload(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
    """What the waits module needs for the attempt: provider, rendered request, outputs."""
    return {
        "provider": str(config.get("provider", "")),
        "request": render_request(config.get("request") or {}, tokens),
        "outputs": dict(config.get("outputs") or {}),
    }


def _externals(ctx: RuleContext) -> Iterator[RawNode]:
    for node in ctx.nodes:
        if node.kind is not None and node.kind.name == KIND:
            yield node


def provider_known(ctx: RuleContext) -> Iterator[Entry]:
    """The provider is a well-formed name and, where the store is known, a configured one."""
    known = _KNOWN.get()
    for node in _externals(ctx):
        name = node.params.get("provider")
        if not isinstance(name, str):
            continue  # missing or not a string: the parameter rules say so
        if not PROVIDER_NAME.match(name):
            yield error(
                "bad-provider",
                f"external {node.label!r}: provider {name!r} is not a provider name "
                "(lowercase letters, digits, '-' and '_')",
                nodes=node.names,
                field="provider",
                fixers=_rename(node, name, known),
            )
        elif known is not None and name not in known:
            listed = ", ".join(sorted(known)) if known else "none is configured"
            guess = suggest(name, known)
            hint = f"; did you mean {guess!r}?" if guess else f" (known: {listed})"
            yield error(
                "unknown-provider",
                f"external {node.label!r}: unknown provider {name!r}{hint}",
                nodes=node.names,
                field="provider",
                fixers=_rename(node, name, known),
            )


def _rename(node: RawNode, name: str, known: frozenset[str] | None) -> tuple[Any, ...]:
    candidates = set(known or ())
    guess = suggest(name, candidates) or suggest(name.lower(), candidates)
    if (
        guess is None
        and known is None
        and name.lower() != name
        and PROVIDER_NAME.match(name.lower())
    ):
        guess = name.lower()
    if guess is None:
        return ()
    return (
        fx.set_key(node.index, node.name, "provider", guess, f"set-provider:{node.label}:{guess}"),
    )


def request_tokens(ctx: RuleContext) -> Iterator[Entry]:
    """The request's strings only use tokens Storm fills in."""
    for node in _externals(ctx):
        request = node.params.get("request")
        if not isinstance(request, dict):
            continue
        found: set[str] = set()
        _collect_tokens(request, found)
        for token in sorted(found - set(TEXT_TOKENS)):
            guess = suggest(token, TEXT_TOKENS)
            hint = f"; did you mean {'${' + guess + '}'!r}?" if guess else ""
            yield warning(
                "unknown-token",
                f"external {node.label!r}: request uses unknown token ${{{token}}}{hint}",
                nodes=node.names,
                field="request",
            )


def _collect_tokens(value: object, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(text_tokens_in(value))
    elif isinstance(value, list):
        for v in value:
            _collect_tokens(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_tokens(v, found)


def output_pointers(ctx: RuleContext) -> Iterator[Entry]:
    """`outputs` maps names to JSON pointers (fixer: add the missing leading '/')."""
    for node in _externals(ctx):
        outputs = node.params.get("outputs")
        if not isinstance(outputs, dict):
            continue
        bad = sorted(k for k, v in outputs.items() if isinstance(v, str) and v and v[0] != "/")
        if not bad:
            continue

        def prefix(raw: dict[str, Any], bad: list[str] = bad) -> None:
            wanted = raw.get("outputs")
            if isinstance(wanted, dict):
                for key in bad:
                    if isinstance(wanted.get(key), str):
                        wanted[key] = "/" + wanted[key]

        yield error(
            "bad-pointer",
            f"external {node.label!r}: outputs {', '.join(map(repr, bad))} are not JSON "
            "pointers (they start with '/', e.g. '/outputs/movie')",
            nodes=node.names,
            field="outputs",
            fixers=(
                fx.edit_node(
                    node.index,
                    node.label,
                    f"fix-pointers:{node.label}",
                    f"start the outputs pointers of {node.label} with '/'",
                    prefix,
                ),
            ),
        )


EXTERNAL = register_kind(
    Kind(
        name=KIND,
        description="hands a job to a configured provider and waits for it without a slot",
        runs="wait",
        rules=(provider_known, request_tokens, output_pointers),
        payload=external_payload,
        params=params(
            Param(
                "provider",
                str,
                "a string",
                "the provider (storm providers ls) the job is sent to",
                required=True,
            ),
            Param(
                "request",
                dict[str, Any],
                "a mapping (the JSON request)",
                "the job's request, sent as the submit body; ${workflow-name}-style tokens filled",
                required=True,
            ),
            Param(
                "outputs",
                dict[str, str],
                "a mapping of names to JSON pointers",
                "named outputs picked from the provider's final answer (default: its outputs)",
            ),
            RETRIES,
            RETRY_DELAY,
            LOST_RETRIES,
        ),
    )
)
