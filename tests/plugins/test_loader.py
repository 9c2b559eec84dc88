"""Plugins: loading, health, api_version, and isolation (load, rule, fixer, render, action)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from stormflow.core import WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.kinds import ActionContext, get_kind
from stormflow.plugins import ProviderContext, loader
from stormflow.spec import expand, validate
from stormflow.store import Store
from tests.engine.helpers import Planned, drive, finished, submit, task

from .conftest import Load


def doc(*nodes: dict[str, Any], edges: list[Any] | None = None) -> dict[str, Any]:
    return {"schema": 1, "name": "wf", "nodes": list(nodes), "edges": edges or []}


def codes(document: dict[str, Any]) -> list[str]:
    return [e.code for e in validate(document)]


def test_a_good_plugin_adds_kinds_rules_providers_and_integrations(load: Load) -> None:
    (state,) = load("good")
    assert (state.name, state.status, state.error, state.api_version) == (
        "fake-good",
        "loaded",
        None,
        1,
    )
    assert state.kinds == ["fake_echo"]
    assert state.rules == ["owner_rule", "fake_echo: echo_rule"]
    assert state.providers == ["fake-farm"] and state.integrations == ["fake-dcc"]
    assert state.entry_point == "good = tests.plugins.fakes:good"
    kind = get_kind("fake_echo")
    assert kind is not None and kind.provider == "fake-good"
    # its kind validates, its rule offers a fixer, and the fixer works
    bad = doc({"name": "say", "kind": "fake_echo", "text": ""})
    (entry,) = [e for e in validate(bad) if e.code == "fake-empty-text"]
    fixed = entry.fixers[0].apply(bad)
    assert fixed["nodes"][0]["text"] == "hello" and "fake-empty-text" not in codes(fixed)
    # its commands are rendered by the kind itself
    node = expand(fixed).nodes[0]
    assert kind.commands is not None
    assert kind.commands(node.config, {"node-name": "say"}) == [["echo", "hello", "say"]]
    # its document-wide rule sees the built-in kinds' nodes
    assert "fake-no-owner" in codes(doc({"name": "t", "commands": [["true"]]}))
    # the provider is reachable by name, guarded
    farm = loader.provider("fake-farm")
    assert farm is not None
    ctx = ProviderContext(workflow_id="w", node="n", token="n#1")
    assert farm.poll(farm.submit({}, ctx)).state == "succeeded"


def test_a_function_entry_point_is_called_for_the_plugin(load: Load) -> None:
    (state,) = load("make_good")
    assert (state.name, state.status) == ("fake-made", "loaded")


def test_a_plugin_raising_at_load_is_failed_and_the_others_load(load: Load) -> None:
    states = {s.entry_point.split(" = ")[0]: s for s in load("raises_at_load", "good")}
    failed = states["raises_at_load"]
    assert (failed.status, failed.failed_in) == ("failed", "load")
    assert failed.error is not None and failed.error.startswith(
        "RuntimeError: no license server (at fakes.py:"
    )
    assert states["good"].status == "loaded"
    assert get_kind("fake_echo") is not None


def test_an_api_version_this_storm_does_not_support_is_refused(load: Load) -> None:
    (state,) = load("old_api")
    assert (state.name, state.status, state.failed_in) == ("fake-old", "failed", "load")
    assert state.error == (
        "written for plugin API version 99; this Storm supports version 1 "
        "(update the plugin or Storm)"
    )
    assert state.kinds == [] and get_kind("fake_old") is None  # nothing added
    assert "unknown-kind" in codes(doc({"name": "o", "kind": "fake_old"}))


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("not_a_plugin", "the entry point gives dict, not a stormflow.plugins.Plugin"),
        ("takes_task", "kind 'task' is already provided by storm"),
    ],
)
def test_a_bad_declaration_is_refused_whole(load: Load, attr: str, message: str) -> None:
    (state,) = load(attr)
    assert state.status == "failed" and state.error is not None
    assert state.error.startswith(message)
    task_kind = get_kind("task")
    assert task_kind is not None and task_kind.provider == "storm"


def test_a_plugin_name_taken_twice_is_refused_the_second_time(load: Load) -> None:
    load("good")
    (second,) = load("good")
    assert second.status == "failed"
    assert second.error == "another plugin is already named 'fake-good'"


def test_a_rule_that_raises_disables_its_plugin_not_validation(load: Load) -> None:
    (state,) = load("fragile")
    document = doc(
        {"name": "f", "kind": "fake_fragile", "text": "x"},
        {"name": "t", "commands": [], "retries": -1},
    )
    entries = validate(document)  # never raises
    failed = [e for e in entries if e.code == "plugin-failed"]
    assert len(failed) == 1 and "broken_rule" in failed[0].message
    assert "KeyError" in failed[0].message
    # the other rules still ran
    assert {"empty-commands", "bad-param-type"} <= {e.code for e in entries}
    assert (state.status, state.failed_in) == ("failed", "rule broken_rule")
    # from now on: its nodes are reported, its rules no longer run
    again = validate(document)
    assert "plugin-failed" not in [e.code for e in again]
    (disabled,) = [e for e in again if e.code == "plugin-disabled"]
    assert disabled.nodes == ("f",)
    assert "plugin fake-fragile is disabled: it failed in rule broken_rule" in disabled.message


def test_a_fixer_that_raises_changes_nothing_and_disables_its_plugin(load: Load) -> None:
    (state,) = load("bad_fixer")
    document = doc({"name": "b", "kind": "fake_badfix", "text": "x"})
    kept = copy.deepcopy(document)
    (entry,) = [e for e in validate(document) if e.code == "fake-badfix"]
    fixed = entry.fixers[0].apply(document)
    assert fixed == kept and document == kept  # not half-edited
    assert (state.status, state.failed_in) == ("failed", "fixer fake-explode")
    assert "ZeroDivisionError: fixer bug" in str(state.error)


def test_an_action_that_raises_fails_its_attempt_and_disables_the_plugin(load: Load) -> None:
    (state,) = load("crashing")
    assert state.notifications == ["fake_chat"] and state.kinds == []
    kind = get_kind("fake_chat")
    assert kind is not None and kind.action is not None and kind.payload is not None
    ctx = ActionContext(workflow_id="w", node="chat", token="chat#1")
    payload = kind.payload({"room": "lighting"}, {})
    with pytest.raises(loader.PluginError, match="chat server said no to lighting"):
        kind.action(payload, ctx)
    assert (state.status, state.failed_in) == ("failed", "action crash_action (fake_chat)")
    with pytest.raises(loader.PluginError, match="plugin fake-crashing is disabled"):
        kind.action(payload, ctx)


def test_a_provider_that_raises_is_reported(load: Load) -> None:
    (state,) = load("good")
    farm = loader.provider("fake-farm")
    assert farm is not None
    with pytest.raises(loader.PluginError, match=r"provider fake-farm\.cancel failed"):
        farm.cancel("x")
    assert (state.status, state.failed_in) == ("failed", "provider fake-farm.cancel")


def test_the_scheduler_outlives_plugins_failing_in_rendering_and_actions(
    load: Load, store: Store, tmp_path: Path
) -> None:
    """Each failing node fails alone with the plugin named in its log; the rest of the
    workflow and the next workflow run; the scheduler never stops."""
    load("crashing", "bad_render")
    first = submit(
        store,
        [
            Planned("chat", kind="fake_chat", config={"room": "lighting"}),
            Planned("encode", kind="fake_badrender", config={}),
            task("ok", ["true"]),
        ],
    )
    second = submit(store, [task("later", ["true"])], name="wf2")
    scheduler = Scheduler(
        store, Settings(data_dir=tmp_path / "data", workflows={first, second}), slots=2
    )
    try:
        drive(scheduler, finished(store, first, second))
    finally:
        scheduler.close(grace=1.0)
    nodes = {n.name: n for n in store.nodes(first)}
    assert nodes["ok"].status.value == "succeeded"
    assert nodes["chat"].status.value == "failed" and nodes["encode"].status.value == "failed"
    assert store.status(second) is WorkflowStatus.SUCCEEDED
    logs = tmp_path / "data" / "logs" / first
    assert "chat server said no to lighting" in next(logs.glob("chat*.log")).read_text()
    render_log = next(logs.glob("encode*.log")).read_text()
    assert "plugin fake-badrender: crash_render (rendering fake_badrender) failed" in render_log
    health = {s.name: s for s in loader.plugins()}
    assert health["fake-crashing"].failed_in == "action crash_action (fake_chat)"
    assert health["fake-badrender"].failed_in == "crash_render (rendering fake_badrender)"


def test_storm_registers_its_own_providers_by_name(load: Load) -> None:
    from tests.plugins.fakes import Farm

    farm = Farm()
    farm.name = "studio-farm"
    try:
        assert loader.register_provider(farm) is farm
        assert loader.provider("studio-farm") is farm
        assert "studio-farm" in loader.plugin("storm").providers  # type: ignore[union-attr]
        load("good")  # a plugin's provider beside it
        assert {"studio-farm", "fake-farm"} <= set(loader.provider_names())
        with pytest.raises(TypeError, match="lacks name"):
            loader.register_provider(object())  # type: ignore[arg-type]
    finally:
        loader._PROVIDERS.pop("studio-farm", None)
        loader.plugin("storm").providers.remove("studio-farm")  # type: ignore[union-attr]


def test_a_payload_that_is_not_json_fails_rendering(load: Load) -> None:
    (state,) = load("bad_payload")
    kind = get_kind("fake_pager")
    assert kind is not None and kind.payload is not None
    with pytest.raises(loader.PluginError, match="not JSON serializable"):
        kind.payload({}, {})
    assert (state.status, state.failed_in) == (
        "failed",
        "unjsonable_payload (rendering fake_pager)",
    )
