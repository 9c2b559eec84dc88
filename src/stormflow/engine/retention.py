"""Retention: archived workflows removed some time after they were archived, with their log
files (`storm prune --older-than 90d`, `storm server --prune-after 90d`)."""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from pathlib import Path

from stormflow.engine.render import safe_name
from stormflow.store import Store

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")

#: Pause between two prune transactions: the scheduler's writes go in between (SQLite).
BATCH_PAUSE = 0.05


def parse_duration(text: str) -> float:
    """Seconds in `90d`, `12h`, `30m`, `45s`, `2w` (one number and its unit)."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration (a number and a unit: 90d, 12h, 30m, 2w)")
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r}: the duration must be more than zero")
    return seconds


def remove_logs(data_dir: Path, workflow_ids: list[str]) -> None:
    """The workflows' log directories (`<data dir>/logs/<id>`); their work directories, which
    hold what the tasks made, are left alone."""
    for workflow_id in workflow_ids:
        shutil.rmtree(data_dir / "logs" / safe_name(workflow_id), ignore_errors=True)


def prune(store: Store, data_dir: Path, older_than: float, now: float | None = None) -> list[str]:
    """Remove the workflows archived more than `older_than` seconds ago; returns their ids."""
    before = (time.time() if now is None else now) - older_than
    return store.prune(
        before,
        on_batch=lambda ids: remove_logs(data_dir, ids),
        pause=lambda: time.sleep(BATCH_PAUSE),
    )


class Pruner:
    """`storm server --prune-after`: prunes now and then in a thread of its own."""

    def __init__(self, store: Store, data_dir: Path, older_than: float, every: float = 3600.0):
        self.store = store
        self.data_dir = data_dir
        self.older_than = older_than
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storm-prune", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                removed = prune(self.store, self.data_dir, self.older_than)
                if removed:
                    log.info("pruned %d archived workflow(s)", len(removed))
            except Exception:  # the next round tries again; the server keeps serving
                log.exception("pruning archived workflows failed")
            self._stop.wait(self.every)
