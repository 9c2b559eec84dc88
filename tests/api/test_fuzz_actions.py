"""Property-based: hypothesis-generated update patches and selections against the actions
endpoint of a server whose embedded scheduler runs the workflow meanwhile (issue 11).

Whatever is sent, no answer is a 500, the scheduler's loop records no error, and it is alive
and still runs workflows afterwards. The count of requests tried is printed.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stormflow.api.embedded import EmbeddedScheduler
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.api.helpers import API, client
from tests.engine.helpers import wait_until

EXAMPLES = int(os.environ.get("STORM_FUZZ_EXAMPLES", "20")) * 5

DOC: dict[str, Any] = {
    "schema": 1,
    "name": "fuzzed",
    "nodes": [
        {"name": "prep", "commands": [["true"]]},
        {"name": "render", "frames": "1-6", "chunk_size": 2, "commands": [["echo", "{start}"]]},
        {"name": "notify", "kind": "email", "addresses": ["a@example.com"]},
    ],
    "edges": [["prep", "render"], ["render", "notify"]],
}
NAMES = ["prep", "render.1-2", "render.3-4", "render.5-6", "notify"]
KEYS = [
    "commands", "env", "cwd", "instance_type", "retries", "retry_delay", "lost_retries",
    "min_seconds", "max_seconds", "output", "limits", "frames", "chunk_size", "scout",
    "addresses", "subject", "body", "kind", "name", "status", "step", "retires", "",
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
patches = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), json_values, max_size=4)
texts = st.text(max_size=12)
selections = st.fixed_dictionaries(
    {},
    optional={
        "names": st.lists(st.sampled_from(NAMES) | texts, max_size=4),
        "glob": st.sampled_from(["*", "render.*", "[", "**", "prep", ""]) | texts,
        "status": st.lists(
            st.sampled_from(["open", "holding", "running", "failed", "succeeded"]) | texts,
            max_size=3,
        ),
        "kind": st.lists(st.sampled_from(["task", "email"]) | texts, max_size=2),
    },
)
#: Well-formed requests (they reach the core and the edit checks) ...
ACTION_NAMES = ["hold", "unhold", "skip", "cancel", "update", "retry", "revert", "replay"]
good_values = st.sampled_from(
    [0, 1, 3, -1, 1000, 2.5, "1-4", "1-x", "abc", [["true"]], [], ["lic"], {"A": "1"}, 5, None]
)
well_formed = st.fixed_dictionaries(
    {
        "action": st.sampled_from(ACTION_NAMES),
        "selection": st.one_of(
            st.fixed_dictionaries({"names": st.lists(st.sampled_from(NAMES), min_size=1)}),
            st.fixed_dictionaries({"glob": st.sampled_from(["*", "render.*", "p*", "n?tify"])}),
            st.fixed_dictionaries(
                {"status": st.lists(st.sampled_from(["open", "running", "failed"]), min_size=1)}
            ),
        ),
        "patch": st.dictionaries(st.sampled_from(KEYS), good_values | json_values, max_size=3),
    },
    optional={
        "target": st.sampled_from(["submitted", "open", "holding"]),
        "snapshot": st.integers(min_value=1, max_value=3),
        "strict": st.booleans(),
    },
)


def _fit(body: dict[str, Any]) -> dict[str, Any]:
    """A patch only for update, a snapshot only for replay (else pydantic refuses it)."""
    if body["action"] != "update":
        body.pop("patch", None)
    if body["action"] != "replay":
        body.pop("snapshot", None)
    elif "snapshot" not in body:
        body["snapshot"] = 1
    return body


well_formed = well_formed.map(_fit)
#: ... and anything at all in their places
wild = st.fixed_dictionaries(
    {
        "action": st.sampled_from([*ACTION_NAMES, "x"]),
        "selection": selections | json_values,
    },
    optional={
        "patch": patches | json_values,
        "target": st.sampled_from(["submitted", "open", "holding", "bogus"]),
        "snapshot": st.integers(min_value=-(2**40), max_value=2**40),
        "strict": st.booleans(),
    },
)
actions = well_formed | wild


def test_fuzzed_patches_and_selections_never_answer_500(store: Store, data_dir: Path) -> None:
    scheduler = Scheduler(store, Settings(data_dir=data_dir), slots=2)
    embedded = EmbeddedScheduler(scheduler)
    embedded.start()
    codes: Counter[int] = Counter()
    try:
        with client(store, data_dir, scheduler=embedded) as api:
            wf = api.post(f"{API}/workflows", json=DOC).json()["id"]

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(body=actions)
            def fire(body: dict[str, Any]) -> None:
                answer = api.post(f"{API}/workflows/{wf}/actions", json=body)
                codes[answer.status_code] += 1
                assert answer.status_code != 500, (body, answer.text)
                assert answer.headers["content-type"].startswith("application/json")

            fire()
            print(f"\n{store.dialect}: {sum(codes.values())} actions tried: {dict(codes)}")
            assert sum(codes.values()) >= EXAMPLES // 2
            health = api.get(f"{API}/health").json()
            assert health["scheduler"] is True and health["scheduler_errors"] == 0, health
            # and it still runs a workflow to its end
            api.post(
                f"{API}/workflows/{wf}/actions",
                json={"action": "unhold", "selection": {"status": ["holding"]}},
            )
            after = api.post(f"{API}/workflows", json={**DOC, "name": "after"}).json()["id"]
            wait_until(
                lambda: api.get(f"{API}/workflows/{after}").json()["status"] != "running",
                timeout=60,
                what="a workflow to run after the fuzzing",
            )
            status = api.get(f"{API}/workflows/{after}").json()["status"]
            assert status in ("succeeded", "failed"), status  # email may fail: no SMTP set up
    finally:
        embedded.stop(grace=1.0)
