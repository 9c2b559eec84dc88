from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.serverproc import Server, run_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_server(tmp_path_factory.mktemp("cli") / "home")
