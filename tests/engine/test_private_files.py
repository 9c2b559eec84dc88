"""Storm's own files are its user's: data directory 0700; database, logs, outbox, token 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stormflow.api.auth import ensure_token
from stormflow.paths import private_dir
from stormflow.store import Store
from tests.engine.test_cli_run import EXAMPLE, clean_env, storm, workflow_id


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> object:
    """The usual umask (022) whatever the test runner's: files would be 0644 by default."""
    old = os.umask(0o022)
    yield None
    os.umask(old)


def test_storm_run_keeps_its_data_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env()
    done = storm("run", str(EXAMPLE), "--data-dir", str(data), "-q", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    wf = workflow_id(done.stdout)
    assert mode(data) == 0o700
    assert mode(data / "logs") == 0o700 and mode(data / "run") == 0o700
    for name in ("storm.db", "storm.db-wal", "storm.db-shm"):
        if (data / name).exists():  # -wal and -shm exist while a connection is open
            assert mode(data / name) == 0o600, name
    logs = sorted((data / "logs" / wf).iterdir())
    assert logs and {mode(p) for p in logs} == {0o600}
    assert mode(data / "logs" / wf) == 0o700
    (eml,) = (data / "outbox").glob("*.eml")
    assert mode(eml) == 0o600 and mode(data / "outbox") == 0o700


def test_database_and_its_wal_files_are_0600_while_open(
    tmp_path: Path, loose_umask: object
) -> None:
    store = Store.default(tmp_path / "data")
    try:
        with store.read():
            pass
        db = tmp_path / "data" / "storm.db"
        found = [db, *(p for p in (Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())]
        assert len(found) == 3  # WAL mode: both exist while the store is open
        assert {mode(p) for p in found} == {0o600}
        assert mode(tmp_path / "data") == 0o700
    finally:
        store.close()


def test_an_older_data_directory_is_tightened(tmp_path: Path, loose_umask: object) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    (data / "storm.db").touch(mode=0o644)
    os.chmod(data / "storm.db", 0o644)
    Store.default(data).close()
    assert mode(data) == 0o700 and mode(data / "storm.db") == 0o600


def test_token_and_server_files(tmp_path: Path, loose_umask: object) -> None:
    ensure_token(tmp_path / "home")
    assert mode(tmp_path / "home") == 0o700 and mode(tmp_path / "home" / "token") == 0o600
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700
