"""Plugins for the loader's tests: good ones, and each way a plugin can go wrong.

Each is named by an entry point `tests.plugins.fakes:<name>` in the tests; kind names are
unique per plugin so that tests can load and forget them independently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stormflow.kinds import ActionContext, Kind, Param
from stormflow.kinds.base import Command, params
from stormflow.plugins import API_VERSION, DccIntegration, ExternalStatus, Plugin, ProviderContext
from stormflow.spec import Entry, RuleContext
from stormflow.spec import fixers as fx
from stormflow.spec.entries import error, warning


def _nodes_of(ctx: RuleContext, kind: str) -> Iterator[Any]:
    return (n for n in ctx.nodes if n.kind is not None and n.kind.name == kind)


def echo_commands(config: Mapping[str, Any], tokens: Mapping[str, str]) -> list[Command]:
    return [["echo", str(config["text"]), tokens["node-name"]]]


def echo_rule(ctx: RuleContext) -> Iterator[Entry]:
    for node in _nodes_of(ctx, "fake_echo"):
        if node.params.get("text") == "":

            def fill(raw: dict[str, Any]) -> None:
                raw["text"] = "hello"

            yield error(
                "fake-empty-text",
                f"echo {node.label!r} says nothing",
                nodes=node.names,
                field="text",
                fixers=(fx.edit_node(node.index, node.label, "fake-fill", "say hello", fill),),
            )


def owner_rule(ctx: RuleContext) -> Iterator[Entry]:
    """A rule for every document (validators for existing kinds)."""
    for node in _nodes_of(ctx, "task"):
        if "owner" not in node.params.get("env", {}):
            yield warning("fake-no-owner", f"task {node.label!r} has no OWNER", nodes=node.names)


class Farm:
    name = "fake-farm"
    description = "a farm in a dictionary"

    def __init__(self) -> None:
        self.jobs: dict[str, str] = {}

    def submit(self, payload: Mapping[str, Any], ctx: ProviderContext) -> str:
        self.jobs[ctx.token] = "running"
        return ctx.token

    def poll(self, job_id: str) -> ExternalStatus:
        return ExternalStatus("succeeded" if job_id in self.jobs else "failed")

    def cancel(self, job_id: str) -> None:
        raise RuntimeError("the farm is on fire")


good = Plugin(
    name="fake-good",
    version="1.0.0",
    api_version=API_VERSION,
    description="echoes",
    kinds=(
        Kind(
            "fake_echo",
            "echoes its text",
            params=params(Param("text", str, "a string", "what to say", required=True)),
            commands=echo_commands,
            rules=(echo_rule,),
        ),
    ),
    rules=(owner_rule,),
    providers=(Farm(),),
    integrations=(
        DccIntegration(
            name="fake-dcc",
            title="Fake DCC",
            version="2.0.0",
            client="fake-addon",
            download="https://example.com/fake.zip",
            install=("Unzip it.",),
        ),
    ),
)


def make_good() -> Plugin:
    """An entry point may name a function returning the plugin."""
    return Plugin(name="fake-made", version="0.1", api_version=API_VERSION)


def raises_at_load() -> Plugin:
    raise RuntimeError("no license server")


old_api = Plugin(
    name="fake-old",
    version="0.9",
    api_version=99,
    kinds=(Kind("fake_old", "never registered", params=params()),),
)

not_a_plugin = {"name": "fake-dict"}

takes_task = Plugin(
    name="fake-thief",
    version="1",
    api_version=API_VERSION,
    kinds=(Kind("task", "a second task", params=params(), commands=echo_commands),),
)


def broken_rule(ctx: RuleContext) -> Iterator[Entry]:
    for _node in _nodes_of(ctx, "fake_fragile"):
        raise KeyError("frames")
    yield from ()


fragile = Plugin(
    name="fake-fragile",
    version="1",
    api_version=API_VERSION,
    kinds=(
        Kind(
            "fake_fragile",
            "its rule raises",
            params=params(Param("text", str, "a string", "text")),
            commands=echo_commands,
            rules=(broken_rule,),
        ),
    ),
)


def bad_fix_rule(ctx: RuleContext) -> Iterator[Entry]:
    for node in _nodes_of(ctx, "fake_badfix"):

        def explode(raw: dict[str, Any]) -> None:
            raw["text"] = "half done"
            raise ZeroDivisionError("fixer bug")

        yield error(
            "fake-badfix",
            "needs fixing",
            nodes=node.names,
            fixers=(fx.edit_node(node.index, node.label, "fake-explode", "explode", explode),),
        )


bad_fixer = Plugin(
    name="fake-badfixer",
    version="1",
    api_version=API_VERSION,
    kinds=(
        Kind(
            "fake_badfix",
            "its fixer raises",
            params=params(Param("text", str, "a string", "text")),
            commands=echo_commands,
            rules=(bad_fix_rule,),
        ),
    ),
)


def crash_action(payload: Mapping[str, Any], ctx: ActionContext) -> str:
    raise ValueError(f"chat server said no to {payload['room']}")


def room_payload(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
    return {"room": config.get("room", "general")}


def crash_render(config: Mapping[str, Any], tokens: Mapping[str, str]) -> list[Command]:
    raise AttributeError("'NoneType' object has no attribute 'split'")


crashing = Plugin(
    name="fake-crashing",
    version="1",
    api_version=API_VERSION,
    notifications=(
        Kind(
            "fake_chat",
            "posts to a chat room",
            runs="action",
            params=params(Param("room", str, "a string", "room")),
            payload=room_payload,
            action=crash_action,
        ),
    ),
)

bad_render = Plugin(
    name="fake-badrender",
    version="1",
    api_version=API_VERSION,
    kinds=(Kind("fake_badrender", "cannot render", params=params(), commands=crash_render),),
)


def unjsonable_payload(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
    return {"when": object()}


def ok_action(payload: Mapping[str, Any], ctx: ActionContext) -> str:
    return "posted"


bad_payload = Plugin(
    name="fake-badpayload",
    version="1",
    api_version=API_VERSION,
    notifications=(
        Kind(
            "fake_pager",
            "pages someone",
            runs="action",
            params=params(),
            payload=unjsonable_payload,
            action=ok_action,
        ),
    ),
)
