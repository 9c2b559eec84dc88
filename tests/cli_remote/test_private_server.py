"""`storm server` keeps its data directory private: 0700, token, server.json and database 0600."""

from __future__ import annotations

import stat

from tests.client.serverproc import Server


def test_server_files_are_private(server: Server) -> None:
    home = server.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("token", "server.json", "storm.db"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
