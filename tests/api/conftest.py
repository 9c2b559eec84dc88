from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stormflow.store import Store
from tests.api.helpers import client


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def api(store: Store, data_dir: Path) -> Iterator[TestClient]:
    with client(store, data_dir) as c:
        yield c
