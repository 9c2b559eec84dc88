from __future__ import annotations

from collections.abc import Iterator

from stormflow.kinds.registry import unregister_kind
from stormflow.spec import (
    Entry,
    NodeKind,
    Param,
    RuleContext,
    expand,
    register_kind,
    register_rule,
    unregister_rule,
    validate,
)
from stormflow.spec.entries import error, warning

from .conftest import doc, task


def test_a_registered_rule_adds_its_entries() -> None:
    @register_rule
    def needs_owner(ctx: RuleContext) -> Iterator[Entry]:
        if "owner" not in (ctx.top.get("metadata") or {}):
            yield warning("studio-owner", "metadata has no owner", field="metadata")

    try:
        assert [e.code for e in validate(doc(task("a")))] == ["studio-owner"]
        assert validate(doc(task("a"), metadata={"owner": "alice"})) == []
    finally:
        unregister_rule(needs_owner)
    assert validate(doc(task("a"))) == []


def test_a_crashing_rule_becomes_an_entry() -> None:
    @register_rule
    def broken(ctx: RuleContext) -> Iterator[Entry]:
        raise RuntimeError("boom")
        yield error("never", "never")

    try:
        (found,) = validate(doc(task("a")))
        assert found.code == "rule-failed" and "broken" in found.message
    finally:
        unregister_rule(broken)


def test_a_registered_kind_is_usable_in_documents() -> None:
    # A name of its own, removed afterwards: the registry is shared by every test in a worker.
    register_kind(
        NodeKind(
            "archive-frames",
            "archives files",
            {"paths": Param("paths", list[str], "a list of strings", "files", required=True)},
        )
    )
    try:
        data = doc({"name": "up", "kind": "archive-frames", "paths": ["a"]})
        assert validate(data) == []
        assert expand(data).nodes[0].config == {"paths": ["a"]}
        missing = validate(doc({"name": "up", "kind": "archive-frames"}))
        assert "missing-param" in [e.code for e in missing]
    finally:
        unregister_kind("archive-frames")
