"""Concurrent actions on one workflow are serialized: the integrity rule always holds."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from stormflow import core
from stormflow.core import GraphView, Outcome, Status
from stormflow.store import Store

from .helpers import submit

NAMES = ["root", *(f"mid{i}" for i in range(6)), "leaf"]
EDGES = [("root", f"mid{i}") for i in range(6)] + [(f"mid{i}", "leaf") for i in range(6)]


def _chooser(rng: random.Random, at: float) -> Callable[[GraphView], Outcome]:
    """An action decided inside the transaction, from what the locked view shows."""

    def fn(view: GraphView) -> Outcome:
        nodes = [view.node(n) for n in NAMES]
        runnable = core.runnable(view, NAMES)
        live = [(n.name, n.live_token) for n in nodes if n.live_token]
        roll = rng.random()
        if roll < 0.35 and runnable:
            return core.run(view, rng.choice(runnable), at=at)
        if roll < 0.75 and live:
            name, token = rng.choice(live)
            assert token is not None
            if rng.random() < 0.8:
                return core.succeed(view, name, token, at=at)
            return core.fail(view, name, token, at=at)
        pick = rng.sample(NAMES, 2)
        if rng.random() < 0.5:
            return core.act(view, "retry", pick, at=at)
        return core.act(view, "skip", pick[:1], at=at)

    return fn


def test_concurrent_actions_keep_the_integrity_rule(store: Store) -> None:
    wf = submit(store, NAMES, EDGES)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for i in range(25):
                store.transact(wf, _chooser(rng, at=10.0 + i), correlation=f"t{seed}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    graph = store.graph(wf)
    assert core.violations(graph, NAMES) == []
    seqs = [e.seq for e in store.events(wf, limit=10_000)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) > 50
    # every running node has exactly one live attempt, and nothing else is live
    for node in graph:
        live = [a for a in node.attempts if not a.ended]
        assert len(live) == (1 if node.status is Status.RUNNING else 0)
