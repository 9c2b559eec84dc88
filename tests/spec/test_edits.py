"""Checked edits on stored configurations: `check_configs` (one validation per shared
configuration) answers exactly what `check_config` answers node by node."""

from __future__ import annotations

from typing import Any

import pytest

from stormflow.spec.edits import check_config, check_configs

BASE: dict[str, Any] = {"commands": [["render", "{start}"]], "env": {}, "retries": 0, "step": 1}


def chunks(**patch: Any) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for i, frames in enumerate(["1-2", "3-4", "5-x", "7-8", "9"]):
        config = {**BASE, "frames": frames, **patch}
        out.append(("task", f"render.{i}", {k: v for k, v in config.items() if v is not None}))
    return out


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"commands": 5},
        {"retires": 1, "env": 5},
        {"frames": None},  # no frames: the {start} token is an error
        {"scout": "100"},
        {"min_seconds": 9, "max_seconds": 1},
        {"kind": "email"},
    ],
)
def test_grouped_checks_equal_node_by_node_checks(patch: dict[str, Any]) -> None:
    items = chunks(**patch)
    one_by_one = [e for kind, name, config in items for e in check_config(kind, name, config)]

    def key(entries: list[Any]) -> list[tuple[str, tuple[str, ...], str, str | None]]:
        return sorted((e.code, e.nodes, e.message, e.field) for e in entries)

    assert key(check_configs(items)) == key(one_by_one)
    assert any(e.code == "bad-frames" and e.nodes == ("render.2",) for e in one_by_one) or (
        patch.get("frames", "") is None
    )


def test_an_email_node_and_a_task_do_not_share_a_check() -> None:
    items = [
        ("task", "a", {"commands": [["true"]]}),
        ("email", "b", {"commands": [["true"]]}),
    ]
    codes = {(e.nodes, e.code) for e in check_configs(items)}
    assert (("b",), "unknown-param") in codes and (("b",), "missing-param") in codes
    assert not any(nodes == ("a",) for nodes, _ in codes)
