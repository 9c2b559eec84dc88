"""Scheduling support: pending attempts, exclusive claims, named limits, lease expiry."""

from __future__ import annotations

import threading

from stormflow import core
from stormflow.core import Status
from stormflow.store import Store

from .helpers import Planned, submit


def _run_all(store: Store, wf: str, names: list[str], at: float = 2.0) -> None:
    for name in names:
        store.transact(wf, lambda v, n=name: core.run(v, n, at=at))


def test_pending_and_claim(store: Store) -> None:
    wf = submit(store, ["a", "b"], [("a", "b")])
    _run_all(store, wf, ["a"])
    [pending] = store.pending_attempts(now=10.0, limit=10)
    assert (pending.workflow_id, pending.node, pending.token) == (wf, "a", "a#1")
    assert store.pending_attempts(now=1.0, limit=10) == []  # not before 2.0
    node = store.claim(wf, "a", "a#1", owner="s1", now=3.0, lease_seconds=30, worker="w", log="L")
    assert node is not None and node.attempts[-1].started_at == 3.0
    assert node.current == {}
    assert store.claim(wf, "a", "a#1", owner="s2", now=3.0, lease_seconds=30) is None
    assert store.pending_attempts(now=10.0, limit=10) == []
    [row] = store.attempts(wf, "a")
    assert (row.lease_owner, row.lease_expires, row.attempt.worker) == ("s1", 33.0, "w")
    assert store.events(wf)[-1].type == "attempt-started"
    # a stale token is never claimed
    assert store.claim(wf, "a", "a#9", owner="s1", now=3.0, lease_seconds=30) is None


def test_two_owners_never_claim_one_attempt(store: Store) -> None:
    workflows = [submit(store, [f"n{i}" for i in range(12)]) for _ in range(2)]
    for wf in workflows:
        _run_all(store, wf, [f"n{i}" for i in range(12)])
    claimed: list[tuple[str, str, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def scheduler(owner: str) -> None:
        try:
            for _ in range(3):
                for p in store.pending_attempts(now=100.0, limit=100):
                    got = store.claim(
                        p.workflow_id, p.node, p.token, owner=owner, now=5.0, lease_seconds=60
                    )
                    if got is not None:
                        with lock:
                            claimed.append((p.workflow_id, p.token, owner))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(f"s{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = [(w, t) for w, t, _ in claimed]
    assert len(keys) == len(set(keys)) == 24
    for wf, token, owner in claimed:
        [row] = [r for r in store.attempts(wf, token.split("#")[0]) if r.attempt.token == token]
        assert row.lease_owner == owner
        started = [e for e in store.events(wf) if e.type == "attempt-started"]
        assert len(started) == 12


def test_limits_cap_claims_across_workflows(store: Store) -> None:
    store.set_limit("nuke_license", 2)
    cfg = {"limits": ["nuke_license", "undeclared_is_unlimited"]}
    wfs = [submit(store, [Planned(f"n{i}", config=cfg) for i in range(3)]) for _ in range(2)]
    for wf in wfs:
        _run_all(store, wf, ["n0", "n1", "n2"])
    claimed: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def scheduler(owner: str) -> None:
        for p in store.pending_attempts(now=100.0, limit=100):
            if store.claim(p.workflow_id, p.node, p.token, owner=owner, now=5.0, lease_seconds=60):
                with lock:
                    claimed.append((p.workflow_id, p.node, p.token))

    threads = [threading.Thread(target=scheduler, args=(f"s{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 2
    assert [(r.name, r.capacity, r.used) for r in store.limits()] == [("nuke_license", 2, 2)]
    # a finished attempt frees its slot
    wf, node, token = claimed[0]
    store.transact(wf, lambda v: core.succeed(v, node, token, at=6.0))
    assert store.limits()[0].used == 1
    p = store.pending_attempts(now=100.0, limit=1)[0]
    assert store.claim(p.workflow_id, p.node, p.token, owner="s", now=7.0, lease_seconds=60)
    assert p.workflow_id and store.limits()[0].used == 2
    # a person's skip stops the attempt and frees its slot too
    wf, node, _ = claimed[1]
    store.transact(wf, lambda v: core.skip(v, [node], at=8.0))
    assert store.limits()[0].used == 1
    store.set_limit("nuke_license", 5)
    assert store.limits()[0].capacity == 5


def test_expired_renew_and_release(store: Store) -> None:
    wf = submit(store, ["a", "b"])
    _run_all(store, wf, ["a", "b"])
    assert store.claim(wf, "a", "a#1", owner="s1", now=100.0, lease_seconds=10)
    assert store.claim(wf, "b", "b#1", owner="s2", now=100.0, lease_seconds=10)
    assert store.expired(now=105.0) == []
    assert sorted(store.expired(now=111.0)) == [(wf, "a", "a#1"), (wf, "b", "b#1")]
    assert store.renew("s1", ["a#1", "b#1"], until=200.0) == 1  # b is not s1's
    assert store.expired(now=111.0) == [(wf, "b", "b#1")]
    assert store.release_owner("s1") == 1
    assert sorted(store.expired(now=1.0)) == [(wf, "a", "a#1")]
    # the scheduler fails a lost attempt; the lost retry is pending again at once
    store.transact(wf, lambda v: core.fail(v, "a", "a#1", at=112.0, lost=True))
    assert store.node(wf, "a").status is Status.RUNNING
    assert [p.token for p in store.pending_attempts(now=112.0, limit=10)] == ["a#2"]
    assert store.expired(now=1000.0) == [(wf, "b", "b#1")]


def test_workflows_with_work(store: Store) -> None:
    idle = submit(store, [Planned("a", status=Status.HOLDING)])
    ready = submit(store, ["a"])
    running = submit(store, ["a"])
    _run_all(store, running, ["a"])
    done = submit(store, ["a"])
    store.transact(done, lambda v: core.skip(v, ["a"], at=2.0))
    assert set(store.workflows_with_work()) == {ready, running}
    assert idle and done


def test_an_update_that_drops_a_nodes_limits_still_frees_its_slot(store: Store) -> None:
    """The slot is released by the attempt's end, judged by the config it was claimed with."""
    store.set_limit("houdini", 1)
    wf = submit(store, [Planned("sim", config={"limits": ["houdini"]})])
    _run_all(store, wf, ["sim"])
    (p,) = store.pending_attempts(now=100.0, limit=10)
    assert store.claim(wf, "sim", p.token, owner="s", now=5.0, lease_seconds=60)
    assert store.limits()[0].used == 1
    store.transact(wf, lambda v: core.update(v, ["sim"], {"limits": None}, at=6.0))
    assert store.node(wf, "sim").current.get("limits") is None
    assert store.limits()[0].used == 0
