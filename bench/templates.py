"""The document side of sub-workflows: how long a sequence of N shots takes to check and
plan (each shot a `workflow` node whose child renders in 100 chunks), and how long one
child takes to instantiate and plan (what the runtime does per shot).

    python -m bench.templates [--shots 100] [--chunks 100]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from stormflow.spec import expand, validate
from stormflow.spec.params import instantiate
from stormflow.spec.templates import resolve


def shot_template(chunks: int) -> dict[str, Any]:
    return {
        "name": "shot-${shot}",
        "params": {
            "shot": {"type": "string"},
            "frames": {"type": "frames", "default": f"1-{chunks * 10}"},
        },
        "nodes": [
            {"name": "simulate", "commands": [["sim", "${shot}"]]},
            {
                "name": "render",
                "commands": [["render", "${shot}", "{start}", "{end}"]],
                "frames": "${frames}",
                "chunk_size": 10,
            },
            {
                "name": "comp",
                "commands": [["comp", "${shot}", "{start}"]],
                "frames": "${frames}",
                "chunk_size": 10,
            },
            {"name": "encode", "commands": [["encode", "${shot}"]]},
        ],
        "edges": [["simulate", "render"], ["render", "comp"], ["comp", "encode"]],
    }


def sequence(shots: int) -> dict[str, Any]:
    return {
        "name": "sequence",
        "nodes": [
            {
                "name": "shots",
                "kind": "workflow",
                "template": "shot",
                "for_each": [{"shot": f"sh{i:04d}"} for i in range(1, shots + 1)],
                "key": "shot",
            },
            {"name": "edit", "commands": [["edit"]]},
        ],
        "edges": [["shots", "edit"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=100)
    args = parser.parse_args()
    stored = {"shot": shot_template(args.chunks)}

    began = time.perf_counter()
    document = resolve(sequence(args.shots), lookup=stored.get)
    entries = [e for e in validate(document) if e.severity == "error"]
    plan = expand(document)
    parent = time.perf_counter() - began
    assert not entries and len(plan.nodes) == args.shots + 1

    node = plan.nodes[0]
    began = time.perf_counter()
    child = instantiate(node.config["template"], node.config["params"])
    child_entries = [e for e in validate(child) if e.severity == "error"]
    child_plan = expand(child)
    one_child = time.perf_counter() - began
    assert not child_entries

    print(f"sequence of {args.shots} shots: resolve + validate + expand {parent * 1000:.0f} ms")
    print(
        f"one child ({len(child_plan.nodes)} nodes): instantiate + validate + expand "
        f"{one_child * 1000:.1f} ms; all {args.shots}: ~{one_child * args.shots:.2f} s"
    )


if __name__ == "__main__":
    main()
