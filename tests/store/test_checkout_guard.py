"""The nested-checkout guard (issue 11, finding 6): inside a write transaction, a read through
the store's pool is refused at once in guarded runs; through the transaction's connection it
works. The API tests run guarded (tests/api/conftest.py)."""

from __future__ import annotations

import time

import pytest

from stormflow import core
from stormflow.core import GraphView, Outcome
from stormflow.store import Store, StoreView, db
from tests.engine.helpers import submit, task


def test_a_nested_checkout_fails_loudly_and_the_transactions_own_connection_works(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = submit(store, [task("a", "true")])
    monkeypatch.setattr(db, "CHECKOUT_GUARD", True)
    store.close()  # no kept connections: every read below checks one out of the pool

    def nested(_view: GraphView) -> Outcome:
        store.workflow(wf)  # what api/routes/actions.py did before (finding 6)
        raise AssertionError("not reached")

    with pytest.raises(db.NestedCheckout):
        store.transact(wf, nested)

    def own(view: GraphView) -> Outcome:
        assert isinstance(view, StoreView)
        assert store.workflow_in(view.conn, wf).name == "wf"
        assert [r.name for r in store.nodes_in(view.conn, wf)] == ["a"]
        return core.hold(view, ["a"], at=time.time())

    store.transact(wf, own)
    assert store.node(wf, "a").status is core.Status.HOLDING
    with pytest.raises(db.NestedCheckout), store.write(), store.write():
        pass
