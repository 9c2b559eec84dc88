"""The natural order of node names: the one sort key of API lists and the CLI."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from stormflow.spec.natural import natural_key, natural_sorted


def reference(name: str) -> tuple[tuple[tuple[int, str | int], ...], str]:
    """The rule as written: digit runs by value before text runs, text by code points."""
    runs = re.findall(r"\d+|\D+", name)
    return tuple((0, int(r)) if r.isdigit() else (1, r) for r in runs), name


def test_frames_and_chunks_sort_by_number() -> None:
    assert natural_sorted(["render.10", "render.2", "render.1", "render.100"]) == [
        "render.1",
        "render.2",
        "render.10",
        "render.100",
    ]
    chunks = ["render.1-4", "render.13-16", "render.5-8", "render.9-12"]
    assert natural_sorted(chunks) == ["render.1-4", "render.5-8", "render.9-12", "render.13-16"]


def test_groups_stay_together_and_digits_come_before_text() -> None:
    names = ["comp.10", "render.2", "comp.9", "a", "a1", "a-b", "ab", "render"]
    assert natural_sorted(names) == [
        "a",
        "a1",
        "a-b",
        "ab",
        "comp.9",
        "comp.10",
        "render",
        "render.2",
    ]


def test_leading_zeros_and_huge_numbers_give_a_total_order() -> None:
    assert natural_sorted(["f.1", "f.01", "f.001", "f.2"]) == ["f.001", "f.01", "f.1", "f.2"]
    big = "9" * 300
    assert natural_sorted([f"x.{big}", "x.10", f"x.1{big}"]) == ["x.10", f"x.{big}", f"x.1{big}"]


def test_a_key_function_picks_the_name() -> None:
    rows = [{"name": "r.10"}, {"name": "r.9"}]
    assert natural_sorted(rows, key=lambda r: r["name"]) == [{"name": "r.9"}, {"name": "r.10"}]


NAMES = st.text(alphabet=st.sampled_from("ab.-_019"), max_size=12)


@given(st.lists(NAMES, max_size=30))
def test_the_key_orders_as_the_rule_says(names: list[str]) -> None:
    assert natural_sorted(names) == sorted(names, key=reference)


@given(NAMES, NAMES)
def test_equal_keys_only_for_equal_names(a: str, b: str) -> None:
    assert (natural_key(a) == natural_key(b)) == (a == b)
