"""Node lists come in natural order of names, whole, filtered and page by page."""

from __future__ import annotations

import random

from stormflow import core
from stormflow.core import Status
from stormflow.spec.natural import natural_sorted
from stormflow.store import Store

from .helpers import submit

CHUNKS = [f"render.{i}-{i + 3}" for i in range(1, 120, 4)]  # render.1-4 ... render.117-120
FRAMES = [f"comp.{i}" for i in range(1, 31)]


def workflow(store: Store) -> str:
    names = CHUNKS + FRAMES + ["encode"]
    random.Random(7).shuffle(names)  # submitted in no particular order
    return submit(store, names)


def test_a_whole_list_is_in_natural_order(store: Store) -> None:
    wf = workflow(store)
    names = [r.name for r in store.nodes(wf)]
    assert names == [*FRAMES, "encode", *CHUNKS]
    assert names[:3] == ["comp.1", "comp.2", "comp.3"]
    assert CHUNKS[:4] == ["render.1-4", "render.5-8", "render.9-12", "render.13-16"]


def test_pages_join_up_to_the_whole_list(store: Store) -> None:
    wf = workflow(store)
    whole = [r.name for r in store.nodes(wf)]
    for size in (1, 7, 50):
        pages: list[str] = []
        for offset in range(0, len(whole) + size, size):
            pages += [r.name for r in store.nodes(wf, limit=size, offset=offset)]
        assert pages == whole
    assert [r.name for r in store.nodes(wf, offset=len(whole) - 2)] == whole[-2:]


def test_filtered_lists_and_their_pages_keep_the_order(store: Store) -> None:
    wf = workflow(store)
    picked = ["render.13-16", "render.5-8", "render.101-104", "render.1-4"]
    store.transact(wf, lambda view: core.hold(view, picked, at=2.0))
    held = [r.name for r in store.nodes(wf, statuses=[Status.HOLDING])]
    assert held == natural_sorted(picked)
    assert held == ["render.1-4", "render.5-8", "render.13-16", "render.101-104"]
    assert [r.name for r in store.nodes(wf, glob="render.*", limit=3, offset=1)] == CHUNKS[1:4]
    assert [r.name for r in store.nodes(wf, glob="comp.1*")] == [
        "comp.1",
        *(f"comp.{i}" for i in range(10, 20)),
    ]


def test_an_unknown_workflow_lists_nothing_and_is_not_remembered(store: Store) -> None:
    assert store.nodes("nosuchwf") == []
    assert store.nodes("nosuchwf", limit=5, offset=5) == []
