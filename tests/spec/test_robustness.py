"""Validation never raises, whatever JSON-like data it gets."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stormflow.spec import DocumentError, Entry, check_document, expand, validate

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

names = st.sampled_from(["a", "b", "c", "1x", "", "a b"]) | st.integers()
nodes = st.fixed_dictionaries(
    {"name": names},
    optional={
        "kind": st.sampled_from(["task", "email", "tsk"]) | json_values,
        "commands": st.just([["true"]]) | json_values,
        "frames": st.sampled_from(["1-10", "-3-3", "1-20x3", "5", "x", ""]) | json_values,
        "chunk_size": st.integers(-2, 12) | json_values,
        "scout": st.sampled_from(["1", "1,50", "2-4"]) | json_values,
        "status": st.sampled_from(["open", "holding", "running"]),
        "addresses": st.just(["a@b.c"]) | json_values,
    },
)
edges = st.lists(names, min_size=2, max_size=2) | st.fixed_dictionaries(
    {"from": names, "to": names}, optional={"mode": st.sampled_from(["frames", "all", "x"])}
)
documents = st.fixed_dictionaries(
    {"name": st.sampled_from(["wf", "1", ""]) | json_values, "nodes": st.lists(nodes, max_size=5)},
    optional={"edges": st.lists(edges, max_size=6), "schema": json_values, "metadata": json_values},
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_validate_returns_entries_for_any_json(data: Any) -> None:
    assert all(isinstance(e, Entry) for e in validate(data))


@settings(max_examples=300, deadline=None)
@given(documents)
def test_document_shaped_data_validates_and_valid_documents_expand(data: dict[str, Any]) -> None:
    document, entries = check_document(data)
    assert all(isinstance(e, Entry) for e in entries)
    if document is not None:
        plan = expand(document)
        assert len({n.name for n in plan.nodes}) == len(plan.nodes)
    for entry in entries:
        for fixer in entry.fixers:
            fixer.apply(data)  # fixers never raise either


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_document_or_entries(text: str) -> None:
    try:
        check_document(text)
    except DocumentError:  # pragma: no cover - check_document never raises
        raise AssertionError("check_document raised") from None
