"""Engine test helpers: planned nodes, bounded waits, schedulers in threads and processes."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stormflow.core import Outcome, Status, WorkflowStatus
from stormflow.engine.scheduler import Scheduler, job_token
from stormflow.store import Store


@dataclass
class Planned:
    name: str
    kind: str = "task"
    status: Status = Status.OPEN
    config: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    frames: str | None = None


def task(name: str, *commands: str | list[str], **config: Any) -> Planned:
    return Planned(name, config={"commands": list(commands), **config})


def submit(
    store: Store, nodes: list[Planned], edges: list[tuple[str, str]] | None = None, name: str = "wf"
) -> str:
    return store.submit(nodes, edges or [], name=name, metadata={}, actor="tester", at=time.time())


def wait_until(
    condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy (returned); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or condition}")
        time.sleep(interval)


def finished(store: Store, *workflow_ids: str) -> Callable[[], bool]:
    def done() -> bool:
        return all(store.status(w) is not WorkflowStatus.RUNNING for w in workflow_ids)

    return done


def drive(scheduler: Scheduler, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run the scheduler loop in this thread until `done()`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    timed_out = False

    def tick() -> None:
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
            scheduler.stop()

    scheduler.run_until(done, tick)
    assert not timed_out, f"scheduler did not finish within {timeout:g}s"


class Served:
    """A scheduler looping in a background thread; `apply` hands outcomes to that thread.

    `Scheduler.apply` belongs to the loop's thread (as in the API's EmbeddedScheduler):
    stops go to the thread-safe executor at once, the rest is queued for the loop.
    """

    def __init__(self, scheduler: Scheduler, timeout: float) -> None:
        self.scheduler = scheduler
        self.inbox: queue.Queue[tuple[str, Outcome]] = queue.Queue()
        self.errors: list[BaseException] = []
        self.deadline = time.monotonic() + timeout
        self.thread = threading.Thread(target=self._serve, name="test-scheduler", daemon=True)

    def apply(self, workflow_id: str, outcome: Outcome) -> None:
        for _node, token in outcome.stop:
            self.scheduler.executor.stop(job_token(workflow_id, token))
        self.inbox.put((workflow_id, outcome))

    def _tick(self) -> None:
        while not self.inbox.empty():
            self.scheduler.apply(*self.inbox.get_nowait())
        if time.monotonic() > self.deadline:
            self.scheduler.stop()

    def _serve(self) -> None:
        try:
            self.scheduler.run_until(lambda: False, self._tick)
        except BaseException as exc:  # surfaced in the test thread
            self.errors.append(exc)


@contextmanager
def in_thread(scheduler: Scheduler, timeout: float = 30.0) -> Iterator[Served]:
    """Serve in a background thread (so the test thread can act meanwhile); stop on exit."""
    served = Served(scheduler, timeout)
    served.thread.start()
    try:
        yield served
    finally:
        scheduler.stop()
        served.thread.join(timeout=10)
        scheduler.close(grace=1.0)
    assert not served.thread.is_alive(), "scheduler thread did not stop"
    if served.errors:
        raise served.errors[0]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers signal 0; it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def kill_groups(pids: list[int]) -> list[int]:
    """SIGKILL the process groups led by these pids (tasks run in their own groups).

    Returns the groups that were still alive, i.e. orphans left behind.
    """
    alive = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
            alive.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def pids_in(path: Path) -> list[int]:
    try:
        return [int(x) for x in path.read_text().split() if x.isdigit()]
    except OSError:
        return []


# -- schedulers as processes -----------------------------------------------------------------


def storm_argv() -> list[str]:
    """The `storm` command of the interpreter running the tests."""
    script = Path(sys.executable).parent / "storm"
    if script.exists():
        return [str(script)]
    found = shutil.which("storm")
    return [found] if found else [sys.executable, "-m", "stormflow.cli.main"]


class SchedulerProcess:
    """`storm scheduler` as a subprocess, its output kept in a file for failure messages."""

    def __init__(
        self, url: str, data_dir: Path, *, lease_seconds: float, slots: int, tag: str
    ) -> None:
        self.logfile = data_dir / f"scheduler-{tag}.out"
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            *storm_argv(),
            "scheduler",
            "--db",
            url,
            "--data-dir",
            str(data_dir),
            "--lease-seconds",
            str(lease_seconds),
            "--slots",
            str(slots),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
        with open(self.logfile, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL and reap (a zombie would still look alive to the next scheduler)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def __enter__(self) -> SchedulerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.kill()


def lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []
