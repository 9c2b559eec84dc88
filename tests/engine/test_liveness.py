"""Owner liveness that zombies and reused pids cannot fool (issue 11, finding 5)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from stormflow.engine import liveness
from stormflow.engine.scheduler import new_owner, owner_is_dead_here


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child that exited and that nobody reaped yet: kill(pid, 0) still succeeds on it."""
    proc = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while liveness.alive(proc.pid):
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    os.kill(proc.pid, 0)  # the trap: signal 0 says it exists
    yield proc.pid
    proc.wait()


def test_a_zombie_is_dead(zombie: int) -> None:
    assert not liveness.alive(zombie)
    assert not liveness.identity_alive(str(zombie))
    assert owner_is_dead_here(f"{socket.gethostname()}:{zombie}:abc123")


def test_a_reused_pid_is_not_its_old_owner() -> None:
    with subprocess.Popen(["sleep", "30"]) as proc:
        try:
            started = liveness.start_time(proc.pid)
            assert started is not None
            assert liveness.alive(proc.pid, started)
            # the same pid with another start time: a process that took a dead owner's pid
            assert not liveness.alive(proc.pid, started - 1)
            owner = f"{socket.gethostname()}:{proc.pid}.{started - 1}:abc123"
            assert owner_is_dead_here(owner)
            assert not owner_is_dead_here(f"{socket.gethostname()}:{proc.pid}.{started}:abc123")
        finally:
            proc.kill()


def test_live_owners_and_other_hosts_are_not_dead() -> None:
    me = new_owner()
    assert me.split(":")[1] == liveness.identity()
    assert liveness.identity_alive(liveness.identity())
    assert not owner_is_dead_here(me)  # ourselves
    assert not owner_is_dead_here(f"elsewhere.example:{liveness.identity(1)}:abc123")
    assert not owner_is_dead_here(f"{socket.gethostname()}:{liveness.identity(1)}:abc123")


@pytest.mark.parametrize("text", ["", "x", "12.y", "abc.12"])
def test_an_unreadable_identity_is_never_taken_for_dead(text: str) -> None:
    assert liveness.identity_alive(text)
