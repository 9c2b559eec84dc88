"""A workflow's time to live: `ttl` in documents and the builder."""

from __future__ import annotations

import pytest

from stormflow.spec import Workflow, expand, parse_ttl, validate

DOC = {"name": "shot", "nodes": [{"name": "a", "kind": "task", "commands": [["true"]]}]}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(3600, 3600.0), (1.5, 1.5), ("3600", 3600.0), ("90m", 5400.0), ("12h", 43200.0),
     ("7d", 604800.0), ("1.5w", 907200.0), (" 2H ", 7200.0)],
)  # fmt: skip
def test_ttl_values(value: object, seconds: float) -> None:
    assert parse_ttl(value) == seconds
    assert validate({**DOC, "ttl": value}) == []
    assert expand({**DOC, "ttl": value}).ttl == seconds


@pytest.mark.parametrize("value", ["soon", "", "12x", 0, -5, "-1h", True, [3], {"h": 1}, "inf"])
def test_bad_ttl_is_an_error_with_a_fixer(value: object) -> None:
    (entry,) = validate({**DOC, "ttl": value})
    assert (entry.code, entry.field) == ("bad-ttl", "ttl")
    assert "ttl must be" in entry.message
    with pytest.raises(ValueError, match="ttl must be"):
        parse_ttl(value)
    fixed = entry.fixers[0].apply({**DOC, "ttl": value})
    assert "ttl" not in fixed and validate(fixed) == []


def test_no_ttl_never_expires_and_the_builder_carries_one() -> None:
    assert expand(DOC).ttl is None
    wf = Workflow("shot", ttl="2d")
    wf.task("a", [["true"]])
    assert wf.to_dict()["ttl"] == "2d"
    assert wf.expand().ttl == 172800.0
    assert wf.document().to_dict()["ttl"] == 172800.0
