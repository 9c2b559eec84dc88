"""Workers and schedulers as processes, task commands that leave traces, bounded waits."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from pathlib import Path

from stormflow.engine.executors import make_scheduler
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.engine.helpers import Planned, kill_groups, lines, pids_in, storm_argv, task, wait_until

REDIS_URL = "redis://127.0.0.1:6379/0"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672//"
TTL = 1.5  # heartbeat ttl: a lost worker is noticed within about two seconds
LEASE = 4.0


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}


class Proc:
    """A `storm` subprocess whose output is kept in a file for failure messages."""

    def __init__(self, argv: list[str], logfile: Path) -> None:
        self.logfile = logfile
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=_env())

    def output(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


class Farm:
    """Queues of one test, its worker and scheduler processes, and the traces tasks leave."""

    def __init__(self, root: Path, uid: str) -> None:
        self.root = root
        self.uid = uid
        self.data = root / "data"  # the scheduler's data dir (logs land here)
        self.runs = root / "runs.txt"  # "<node> <attempt token> <worker>" per command started
        self.pids = root / "pids.txt"
        self.procs: list[Proc] = []

    def queue(self, instance_type: str) -> str:
        return f"{instance_type}-{self.uid}"

    def node(
        self, name: str, seconds: float, instance_type: str = "cpu", **config: object
    ) -> Planned:
        trace = f"echo $$ >> {self.pids}; "
        trace += f'echo "$STORM_NODE $STORM_ATTEMPT $STORM_WORKER" >> {self.runs}'
        return task(
            name,
            f"{trace}; echo output of $STORM_NODE; sleep {seconds}",
            instance_type=self.queue(instance_type),
            **config,
        )

    def worker(
        self,
        *instance_types: str,
        tag: str,
        broker: str = REDIS_URL,
        concurrency: int = 2,
        data_dir: Path | None = None,
    ) -> Proc:
        argv = [
            *storm_argv(),
            "worker",
            "--broker",
            broker,
            "--redis",
            REDIS_URL,
            "--queues",
            ",".join(self.queue(t) for t in instance_types),
            "--concurrency",
            str(concurrency),
            "--data-dir",
            str(data_dir or self.root / f"worker-{tag}"),
            "--loglevel",
            "INFO",
        ]
        proc = Proc(argv, self.root / f"worker-{tag}.out")
        self.procs.append(proc)
        wait_until(
            lambda: " ready." in proc.output(), timeout=20, what=f"worker {tag}\n{proc.output()}"
        )
        return proc

    def scheduler_process(self, url: str, tag: str, *, slots: int = 100) -> Proc:
        argv = [
            *storm_argv(),
            "scheduler",
            "--db",
            url,
            "--data-dir",
            str(self.data),
            "--lease-seconds",
            str(LEASE),
            "--slots",
            str(slots),
            "--executor",
            "celery",
            "--broker",
            REDIS_URL,
            "--heartbeat-ttl",
            str(TTL),
        ]
        proc = Proc(argv, self.root / f"scheduler-{tag}.out")
        self.procs.append(proc)
        return proc

    def scheduler(self, store: Store, broker: str = REDIS_URL) -> Scheduler:
        settings = Settings(data_dir=self.data, lease_seconds=LEASE, heartbeat_every=1.0)
        return make_scheduler(
            store,
            settings,
            executor="celery",
            broker=broker,
            redis_url=REDIS_URL,
            heartbeat_ttl=TTL,
        )

    def runs_by_token(self) -> Counter[str]:
        return Counter(line.split()[1] for line in lines(self.runs))

    def workers_of(self) -> dict[str, set[str]]:
        """node -> the workers (STORM_WORKER) that started its commands."""
        out: dict[str, set[str]] = {}
        for line in lines(self.runs):
            node, _token, worker = line.split()
            out.setdefault(node, set()).add(worker)
        return out

    def output(self) -> str:
        return "\n".join(f"--- {p.logfile.name}:\n{p.output()}" for p in self.procs)

    def cleanup(self) -> None:
        for proc in self.procs:
            proc.kill()
        kill_groups(pids_in(self.pids))


def worker_id(proc: Proc) -> str:
    """The Storm worker id a `storm worker` printed first ("storm worker <id> (...)")."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in proc.output().splitlines():
            if line.startswith("storm worker "):
                return line.split()[2]
        time.sleep(0.05)
    raise AssertionError(f"no worker id in\n{proc.output()}")
