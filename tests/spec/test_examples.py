"""Every example validates with no errors and no warnings, and expands."""

from __future__ import annotations

from pathlib import Path

import pytest

from stormflow.core.statuses import Status
from stormflow.spec import Severity, expand, load_document, read_file, validate
from stormflow.spec.templates import resolve

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_clean(path: Path) -> None:
    data, entries, _ = read_file(path)
    assert entries == []
    # templates and for_each files are read beside the document, as `storm validate` does
    data = resolve(data, base_dir=path.parent, source=f"file:{path}")
    problems = [e for e in validate(data) if e.severity is not Severity.INFO]
    assert problems == []
    assert expand(data).nodes


def test_examples_are_all_there() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "render_pipeline.yaml",
        "scout_render.yaml",
        "long_chain.yaml",
        "wide_fanout.yaml",
    }


def test_render_pipeline_runs_unattended() -> None:
    plan = expand(load_document(EXAMPLES[0].parent / "render_pipeline.yaml"))
    assert {n.status for n in plan.nodes} == {Status.OPEN}
    assert ("render.1-4", "comp.1-4") in plan.edges
    assert ("render.1-4", "comp.5-8") not in plan.edges


def test_shapes_of_the_graph_examples() -> None:
    chain = expand(load_document(EXAMPLES[0].parent / "long_chain.yaml"))
    assert (len(chain.nodes), len(chain.edges)) == (200, 199)
    fan = expand(load_document(EXAMPLES[0].parent / "wide_fanout.yaml"))
    assert (len(fan.nodes), len(fan.edges)) == (502, 1000)
