"""`storm uploader`: the workstation's daemon serving the upload nodes bound to its host.

Its queue is the store: upload attempts due and leased to no one whose node's `host` is this
machine (`Store.pending_uploads`). It claims one with a lease like a scheduler would, runs
the transfer in a thread (progress and stored parts in the store, see storeledger.py),
renews the lease while it runs, and records the result through the core, so the tasks
downstream start as soon as the upload succeeds.

Killed with -9 mid-upload: the restarted daemon takes over its dead predecessor's leases on
this host (same attempt, no retry used) and the transfer resumes from the parts stored. A
scheduler of the same host may get there first and record the attempt lost: its retry is
claimed here the same way and resumes all the same (progress is kept per node, not per
attempt). Cancel, skip or retry from anywhere ends the attempt in the store; the daemon
notices at its next heartbeat and stops between two parts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stormflow import core
from stormflow.engine import liveness
from stormflow.engine.render import log_path
from stormflow.engine.scheduler import new_owner
from stormflow.kinds import ActionContext, ActionError, bound_host
from stormflow.kinds.upload import run_upload, upload_payload
from stormflow.paths import append_private
from stormflow.store import Store
from stormflow.uploads.services import upload_services

log = logging.getLogger(__name__)


@dataclass
class _Running:
    workflow_id: str
    node: str
    token: str
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)


class Uploader:
    def __init__(
        self,
        store: Store,
        data_dir: Path,
        *,
        host: str | None = None,
        slots: int = 2,
        lease_seconds: float = 30.0,
        heartbeat_every: float = 5.0,
        poll_every: float = 0.5,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.host = host or socket.gethostname()
        self.slots = slots
        self.lease_seconds = lease_seconds
        self.heartbeat_every = heartbeat_every
        self.poll_every = poll_every
        self.owner = new_owner()
        self.services = upload_services(store, self.data_dir, self.host)
        self._running: dict[tuple[str, str], _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next_heartbeat = 0.0
        self._refused: dict[tuple[str, str], float] = {}  # claims that came back empty

    # -- the loop ----------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.adopt_dead()
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("uploader step failed; going on")
            self._stop.wait(self.poll_every)
        self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> int:
        """Heartbeat, stop what was stopped elsewhere, claim what is due; returns claims."""
        now = time.time()
        self._reap()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.heartbeat_every
            self._heartbeat(now)
        claimed = 0
        if self.free() <= 0:
            return 0
        for workflow_id, name, token in self.store.pending_uploads(now):
            if self.free() <= 0:
                break
            if self._refused.get((workflow_id, token), 0.0) > now:
                continue
            logfile = str(log_path(self.data_dir, workflow_id, token))
            node = self.store.claim(
                workflow_id,
                name,
                token,
                owner=self.owner,
                now=now,
                lease_seconds=self.lease_seconds,
                worker=f"uploader@{self.host}",
                log=logfile,
                host=self.host,
            )
            if node is None:
                self._refused[(workflow_id, token)] = now + 30.0  # another host's, or gone
                continue
            self._start(workflow_id, name, token, node.current, logfile)
            claimed += 1
        return claimed

    def free(self) -> int:
        with self._lock:
            return self.slots - len(self._running)

    def running(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(r.workflow_id, r.node, r.token) for r in self._running.values()]

    def adopt_dead(self) -> int:
        """Take over the live upload attempts of dead uploaders of this host (kill -9)."""
        adopted = 0
        for owner in self.store.lease_owners():
            if owner == self.owner or not liveness.owner_dead_here(owner):
                continue
            live = self.store.upload_attempts_of(owner)
            if not live:
                continue
            until = time.time() + self.lease_seconds
            pairs = [(w, t) for w, _n, t, _lg in live]
            moved = set(self.store.adopt_leases(owner, self.owner, pairs, until))
            for workflow_id, name, token, logfile in live:
                if (workflow_id, token) not in moved:
                    continue
                config = self.store.node(workflow_id, name).current
                if bound_host(config) != self.host:
                    continue
                log.info("resuming %s/%s (%s) of dead uploader %s", workflow_id, name, token, owner)
                path = logfile or str(log_path(self.data_dir, workflow_id, token))
                self._start(workflow_id, name, token, config, path)
                adopted += 1
        return adopted

    def shutdown(self, grace: float = 10.0) -> None:
        """Stop every transfer between parts and give the leases back: retried at once by
        whoever looks next (a restarted uploader resumes from the stored parts)."""
        with self._lock:
            running = list(self._running.values())
        for r in running:
            r.stop.set()
        for r in running:
            r.thread.join(grace)
        try:
            self.store.release_owner(self.owner)
        except Exception:
            log.exception("could not release the uploader's leases")

    # -- one attempt --------------------------------------------------------------------------
    def _start(self, workflow_id: str, name: str, token: str, config: Any, logfile: str) -> None:
        running = _Running(workflow_id, name, token, threading.Thread(target=lambda: None))
        thread = threading.Thread(
            target=self._run,
            args=(running, dict(config), logfile),
            name=f"storm-upload-{name}",
            daemon=True,
        )
        running.thread = thread
        with self._lock:
            self._running[(workflow_id, token)] = running
        thread.start()

    def _run(self, running: _Running, config: dict[str, Any], logfile: str) -> None:
        workflow_id, name, token = running.workflow_id, running.node, running.token
        ctx = ActionContext(
            workflow_id=workflow_id,
            node=name,
            token=token,
            data_dir=self.data_dir,
            log_path=logfile,
            services=self.services,
            stopped=running.stop.is_set,
        )
        error: str | None = None
        try:
            line = run_upload(upload_payload(config, {}), ctx)
        except ActionError as exc:
            error = str(exc) or "upload failed"
            line = error
        except Exception as exc:  # a bug must still end the attempt, or the node hangs
            log.exception("upload %s/%s crashed", workflow_id, name)
            error = f"uploader error: {type(exc).__name__}: {exc}"
            line = error
        _log(logfile, line)
        if running.stop.is_set():
            return  # stopped from elsewhere (or shutting down): the attempt is not ours now
        at = time.time()
        if error is None:
            fn = functools.partial(core.succeed, name=name, token=token, at=at, exit_code=None)
        else:
            fn = functools.partial(core.fail, name=name, token=token, at=at, error=error)
        for delay in (0.1, 0.5, 1, 2, 5, 10):
            try:
                self.store.transact(workflow_id, fn)
                break
            except Exception:
                log.exception("recording %s/%s failed; retrying", workflow_id, name)
                time.sleep(delay)

    def _reap(self) -> None:
        with self._lock:
            for key, r in list(self._running.items()):
                if not r.thread.is_alive():
                    del self._running[key]

    def _heartbeat(self, now: float) -> None:
        pairs = [(w, t) for w, _n, t in self.running()]
        if not pairs:
            return
        self.store.renew(self.owner, [t for _, t in pairs], now + self.lease_seconds)
        dead = set(self.store.dead_tokens(self.owner, pairs))
        with self._lock:
            for key in dead:
                r = self._running.get(key)
                if r is not None:
                    r.stop.set()  # cancelled, skipped or retried elsewhere


def _log(path: str, text: str) -> None:
    with contextlib.suppress(OSError):
        append_private(path, f"=== [{time.strftime('%Y-%m-%d %H:%M:%S')}] {text}\n".encode())


def install_signals(uploader: Uploader) -> None:
    def handle(_signum: int, _frame: object) -> None:
        uploader.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


SERVICE_NAME = "storm-uploader.service"


def service_unit(executable: str, data_dir: Path, store_url: str | None) -> str:
    """A systemd user unit running `storm uploader` for this user's session."""
    env = f"Environment=STORM_HOME={data_dir}\n"
    if store_url:
        env += f"Environment=STORM_DB={store_url}\n"
    return (
        "[Unit]\n"
        "Description=Storm uploader: sends this workstation's files to the farm\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        f"ExecStart={executable} uploader\n"
        f"{env}"
        "Restart=on-failure\n"
        "RestartSec=5\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
