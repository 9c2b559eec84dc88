"""The supervisor: one long-lived process per data directory that starts and reaps commands.

A scheduler's commands are children of this process, not of the scheduler, so a scheduler that
restarts (upgrade, crash, kill -9) finds them still supervised: the next scheduler on the data
directory connects, adopts the attempts its dead predecessor leased, and gets their results. Each
finished attempt's outcome is also written beside its log (`<log>.exit`, as a container shim
records an exit status), so one that ended while no scheduler listened is recorded with its real
exit code and end time. Spawning here also keeps fork/exec out of the scheduler's interpreter.

Reached over a Unix socket (`<data dir>/run/supervisor.sock`, mode 0600) with one JSON object per
line. Client to supervisor:
  {"op": "env", "env": {...}}              the environment commands start with (per connection)
  {"op": "run", "job": {...}}              start an attempt; its result comes back on this line
  {"op": "stop", "token": T, "grace": S}   SIGTERM its process group, SIGKILL after S seconds
  {"op": "adopt", "id": N, "tokens": [..]} watch these; answered with the ones still running
Supervisor to client:
  {"op": "result", ...JobResult fields}    {"op": "adopted", "id": N, "tokens": [...]}

Started on demand by the first scheduler (`SupervisedExecutor`), in its own session; it exits
after IDLE_EXIT seconds with nothing running and nobody connected. Attempts that nobody watches
(their scheduler died and none adopted them) are stopped after the orphan grace their scheduler
gave (default 10 minutes). The process groups it runs are recorded under `run/` (orphans.py), so
a supervisor killed with SIGKILL has its commands reaped by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stormflow.engine import liveness, orphans
from stormflow.engine.executor import ExecutorError
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.kinds.email import EmailSender
from stormflow.paths import PRIVATE_FILE

log = logging.getLogger(__name__)

IDLE_EXIT = 10.0  # seconds with nothing running and no client before the supervisor exits
ORPHAN_GRACE = 600.0  # default seconds an unwatched attempt runs on, waiting for adoption
SLOTS = 100_000  # the schedulers count their own slots; this only bounds a runaway client
EXIT_SUFFIX = ".exit"
_SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes; keep a margin


def socket_path(data_dir: Path) -> Path:
    """`<data dir>/run/supervisor.sock`, or for a data directory too deep for a Unix socket
    address, a name derived from it in a private directory of the user's."""
    path = data_dir / "run" / "supervisor.sock"
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        return path
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:24]
    private = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"storm-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    return private / f"{digest}.sock"


def exit_path(log_path: str) -> str:
    return log_path + EXIT_SUFFIX


def read_exit(log_path: str | None, workflow_id: str, node: str, token: str) -> JobResult | None:
    """The recorded outcome of a finished attempt, or None (still running, never ran here)."""
    if not log_path:
        return None
    try:
        with open(exit_path(log_path), encoding="utf-8") as fh:
            data = json.load(fh)
        return JobResult(
            workflow_id,
            node,
            token,
            bool(data["ok"]),
            data.get("exit_code"),
            data.get("error"),
            float(data["started_at"]),
            float(data["ended_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def job_to_line(job: Job) -> bytes:
    data = {
        "op": "run",
        "job": {
            "workflow_id": job.workflow_id,
            "node": job.node,
            "token": job.token,
            "kind": job.kind,
            "commands": [c if isinstance(c, str) else list(c) for c in job.commands],
            "env": dict(job.env),
            "cwd": job.cwd,
            "log_path": job.log_path,
            "min_seconds": job.min_seconds,
            "max_seconds": job.max_seconds,
        },
    }
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _job_from(data: dict[str, Any]) -> Job:
    commands = tuple(
        c if isinstance(c, str) else tuple(str(a) for a in c) for c in data["commands"]
    )
    return Job(
        workflow_id=str(data["workflow_id"]),
        node=str(data["node"]),
        token=str(data["token"]),
        kind=str(data["kind"]),
        commands=commands,
        env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
        cwd=data.get("cwd"),
        log_path=data.get("log_path"),
        min_seconds=data.get("min_seconds"),
        max_seconds=data.get("max_seconds"),
    )


def result_line(result: JobResult) -> bytes:
    data = {
        "op": "result",
        "workflow_id": result.workflow_id,
        "node": result.node,
        "token": result.token,
        "ok": result.ok,
        "exit_code": result.exit_code,
        "error": result.error,
        "started_at": result.started_at,
        "ended_at": result.ended_at,
    }
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


class _Client:
    """One connected scheduler."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.send_lock = threading.Lock()
        self.env: dict[bytes, bytes] | None = None
        self.orphan_grace = ORPHAN_GRACE
        self.alive = True

    def send(self, line: bytes) -> None:
        with self.send_lock:
            if not self.alive:
                return
            try:
                self.sock.sendall(line)
            except OSError:
                self.alive = False


class Supervisor:
    def __init__(self, data_dir: Path, listener: socket.socket) -> None:
        self.data_dir = data_dir
        self.listener = listener
        self.lock = threading.Lock()
        self.clients: set[_Client] = set()
        self.watchers: dict[str, set[_Client]] = {}  # running token -> clients watching it
        self.logs: dict[str, str | None] = {}  # running token -> its log path
        self.unwatched: dict[str, tuple[float, float]] = {}  # token -> (since, grace)
        self.idle_since = time.monotonic()
        run_dir = data_dir / "run"
        self.owner = f"{socket.gethostname()}:{liveness.identity()}:supervisor"
        killed = orphans.reap_dead_owners(run_dir, liveness.owner_dead_here)
        if killed:
            log.info("killed %d orphaned command(s) of a dead supervisor", killed)
        self.executor = LocalExecutor(
            self._on_result,
            slots=SLOTS,
            email_sender=EmailSender(None),
            pid_dir=orphans.claim_dir(run_dir, self.owner),
        )

    # -- results -------------------------------------------------------------------------------

    def _on_result(self, result: JobResult) -> None:
        with self.lock:
            log_path = self.logs.pop(result.token, None)
        if log_path:  # recorded before anyone is told: a watcher may die before reading it
            _write_exit(log_path, result)
        with self.lock:
            watchers = self.watchers.pop(result.token, set())
            self.unwatched.pop(result.token, None)
        line = result_line(result)
        for client in watchers:
            client.send(line)

    # -- clients -------------------------------------------------------------------------------

    def serve(self) -> None:
        self.listener.settimeout(1.0)
        while True:
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                if self._tick():
                    return
                continue
            except OSError as exc:
                log.error("accept failed: %s", exc)
                time.sleep(1.0)
                continue
            sock.settimeout(None)
            client = _Client(sock)
            with self.lock:
                self.clients.add(client)
            threading.Thread(target=self._read, args=(client,), daemon=True).start()
            self._tick()

    def _read(self, client: _Client) -> None:
        try:
            with client.sock.makefile("rb") as lines:
                for line in lines:
                    try:
                        self._handle(client, json.loads(line))
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("bad request: %s", exc)
        except OSError:
            pass
        finally:
            self._gone(client)

    def _handle(self, client: _Client, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "run":
            self._run(client, _job_from(msg["job"]))
        elif op == "stop":
            grace = msg.get("grace")
            self.executor.stop(str(msg["token"]), None if grace is None else float(grace))
        elif op == "adopt":
            tokens = [str(t) for t in msg["tokens"]]
            with self.lock:
                running = [t for t in tokens if t in self.logs]
                for token in running:
                    self.watchers.setdefault(token, set()).add(client)
                    self.unwatched.pop(token, None)
            answer = {"op": "adopted", "id": msg.get("id"), "tokens": running}
            client.send(json.dumps(answer).encode() + b"\n")
        elif op == "env":
            client.env = {os.fsencode(k): os.fsencode(v) for k, v in msg["env"].items()}
            client.orphan_grace = float(msg.get("orphan_grace", ORPHAN_GRACE))
        else:
            log.warning("unknown request %r", op)

    def _run(self, client: _Client, job: Job) -> None:
        with self.lock:
            if job.token in self.logs:  # a client resending what runs already: it watches it
                self.watchers.setdefault(job.token, set()).add(client)
                return
            self.logs[job.token] = job.log_path
            self.watchers[job.token] = {client}
        try:
            self.executor.submit(job, client.env)
        except ExecutorError as exc:
            now = time.time()
            with self.lock:
                self.logs.pop(job.token, None)
                self.watchers.pop(job.token, None)
            client.send(
                result_line(
                    JobResult(job.workflow_id, job.node, job.token, False, None, str(exc), now, now)
                )
            )

    def _gone(self, client: _Client) -> None:
        """A scheduler disconnected (stopped or died): its attempts run on, unwatched."""
        client.alive = False
        with contextlib.suppress(OSError):
            client.sock.close()
        now = time.monotonic()
        with self.lock:
            self.clients.discard(client)
            for token, watchers in self.watchers.items():
                watchers.discard(client)
                if not watchers and token not in self.unwatched:
                    self.unwatched[token] = (now, client.orphan_grace)

    # -- housekeeping --------------------------------------------------------------------------

    def _tick(self) -> bool:
        """Stop orphans past their grace; True when the supervisor should exit."""
        now = time.monotonic()
        with self.lock:
            expired = [t for t, (since, grace) in self.unwatched.items() if now - since > grace]
            busy = bool(self.clients) or bool(self.logs)
        for token in expired:
            log.warning("attempt %s: no scheduler adopted it: stopping it", token)
            with self.lock:
                self.unwatched.pop(token, None)
            self.executor.stop(token)
        if busy:
            self.idle_since = now
            return False
        return now - self.idle_since > IDLE_EXIT


def _write_exit(log_path: str, result: JobResult) -> None:
    data = {
        "token": result.token,
        "ok": result.ok,
        "exit_code": result.exit_code,
        "error": result.error,
        "started_at": result.started_at,
        "ended_at": result.ended_at,
    }
    target = exit_path(log_path)
    temporary = f"{target}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:  # written whole under another name, then renamed: a reader never sees half of it
        fd = os.open(temporary, flags, PRIVATE_FILE)
        try:
            os.write(fd, json.dumps(data, separators=(",", ":")).encode())
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except OSError as exc:  # the result still reaches a watching scheduler
        log.warning("cannot record the exit of %s: %s", result.token, exc)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(message)s")
    data_dir = Path(argv[0]).resolve()
    run_dir = data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = os.open(run_dir / "supervisor.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another supervisor serves this directory
    path = socket_path(data_dir)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket is created 0600: only this user may connect
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    listener.listen(64)
    try:
        Supervisor(data_dir, listener).serve()
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
