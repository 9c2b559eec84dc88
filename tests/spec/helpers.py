from __future__ import annotations

from typing import Any

from stormflow.spec import Entry, validate


def codes(data: Any) -> list[str]:
    return [e.code for e in validate(data)]


def entry(data: Any, code: str) -> Entry:
    found = [e for e in validate(data) if e.code == code]
    assert found, f"no {code} entry in {[e.code for e in validate(data)]}"
    return found[0]


def fix(data: Any, code: str, fixer_prefix: str = "") -> Any:
    """Apply the first fixer of the first `code` entry (whose name starts with prefix)."""
    fixer = next(f for f in entry(data, code).fixers if f.name.startswith(fixer_prefix))
    return fixer.apply(data)
