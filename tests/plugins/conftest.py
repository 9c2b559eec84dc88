from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import metadata

import pytest

from stormflow.plugins import loader

Load = Callable[..., list[loader.PluginState]]


def entry_point(attr: str, name: str | None = None) -> metadata.EntryPoint:
    return metadata.EntryPoint(
        name=name or attr, value=f"tests.plugins.fakes:{attr}", group=loader.GROUP
    )


@pytest.fixture
def load() -> Iterator[Load]:
    """Load fake plugins by attribute name; forget them (and what they added) afterwards."""
    loaded: list[str] = []

    def load(*attrs: str) -> list[loader.PluginState]:
        states = []
        before = {s.name for s in loader.plugins()}
        loader.load_plugins([entry_point(a) for a in attrs])
        for state in loader.plugins():
            if state.name not in before:
                loaded.append(state.name)
                states.append(state)
        return states

    yield load
    for name in loaded:
        loader.forget(name)
